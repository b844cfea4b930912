package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTestCommand(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"mappings/good.yaml": `namespace: good
definitions: |
  def f_to_c: (. - 32) * 5 / 9 | . * 10 | round / 10;
mappings:
  status:
    kind: dataset
    jq: '{temperature: .t | f_to_c}'
    tests:
      - {name: boiling, input: {t: 212}, output: {temperature: 100}}
      - {name: off by one, input: {t: 212, u: 1}, output: {temperature: 101}}
      - name: fan-out expected
        input: {t: 32}
        outputs: [{temperature: 0}, {temperature: 0}]
`,
		"mappings/broken.yaml": `namespace: broken
mappings:
  status:
    kind: dataset
    jq: |
      {temperature: .t | f_to_k}
    tests:
      - {name: anything, input: {t: 1}, output: 1}
`,
		"mappings/testdata/skipped.yaml": "namespace: skipped\nmappings: {}\n",
		"config/asset.yaml":              "kind: Asset\n",
	})
	code, out, errs := runCLI(t, "test", dir)
	out = strings.ReplaceAll(out, filepath.ToSlash(dir)+"/", "")
	want := `mappings/broken.yaml
  mappings/broken.yaml:6:26: mapping "broken/status": mappings.status.jq: jq: function not defined: f_to_k/0
   6 |       {temperature: .t | f_to_k}
     |                          ^
  FAIL  broken/status: anything (line 8)
        the mapping does not compile
mappings/good.yaml
  ok    good/status: boiling
  FAIL  good/status: off by one (line 10)
        output differs
        --- want
        +++ got
          {
        -   "temperature": 101
        +   "temperature": 100
          }
  FAIL  good/status: fan-out expected (line 11)
        want 2 outputs, got 1 output
        --- want
        +++ got
          [
            {
              "temperature": 0
        -   },
        -   {
        -     "temperature": 0
            }
          ]

1 passed, 3 failed, 1 file with problems
`
	if code != exitFailure || out != want || errs != "" {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, want, errs)
	}

	code, out, _ = runCLI(t, "test", "-run", "boiling$", filepath.Join(dir, "mappings", "good.yaml"))
	if code != exitOK || !strings.HasSuffix(out, "  ok    good/status: boiling\n\n1 passed, 0 failed\n") {
		t.Errorf("-run: exit %d\n%s", code, out)
	}

	code, _, errs = runCLI(t, "test", filepath.Join(dir, "config"))
	if code != exitFailure || !strings.Contains(errs, "no mapping files in") {
		t.Errorf("no mapping files: exit %d: %s", code, errs)
	}
	if code, _, _ := runCLI(t, "test", "-run", "("); code != exitUsage {
		t.Errorf("bad -run: exit %d, want %d", code, exitUsage)
	}
}

// The shipped mappings and the examples pass, as CI checks.
func TestTestShippedAndExamples(t *testing.T) {
	code, out, errs := runCLI(t, "test", "../../mappings", "../../examples")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"../../mappings/thermostat.yaml\n", "../../examples/thermostat-celsius/config/mappings/site.yaml\n", " 0 failed\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A mapping file whose aliases expand to a billion values is refused by
// every command that reads mapping files, with its file and line, instead
// of being read until the process runs out of memory.
func TestMappingAliasBomb(t *testing.T) {
	bomb, err := os.ReadFile("../../internal/mappingfile/testdata/invalid/alias-bomb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{"config/mappings/lol.yaml": string(bomb)}
	for _, name := range []string{"device.yaml", "asset.yaml"} {
		b, err := os.ReadFile("../../examples/thermostat/config/" + name)
		if err != nil {
			t.Fatal(err)
		}
		files["config/"+name] = string(b)
	}
	writeFiles(t, dir, files)
	const want = "lol.yaml:7:30: x4[7]: YAML aliases expand to more than 100000 values"
	for _, args := range [][]string{
		{"validate", "--config", filepath.Join(dir, "config")},
		{"test", filepath.Join(dir, "config", "mappings")},
		{"run", "--config", filepath.Join(dir, "config"), "--broker", "mqtt://127.0.0.1:1"},
	} {
		code, out, errs := runCLI(t, args...)
		if code != exitFailure || !strings.Contains(out+errs, want) {
			t.Errorf("%s: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", args[0], code, exitFailure, want, out, errs)
		}
	}
}
