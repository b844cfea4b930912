package mappingfile_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/http-connector/http-connector/internal/mappingfile"
	"github.com/http-connector/http-connector/internal/plan"
)

var update = flag.Bool("update", false, "rewrite the expected files of testdata")

func newReader(t testing.TB) *mappingfile.Reader {
	t.Helper()
	r, err := mappingfile.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func shipped(t testing.TB) *mappingfile.Library {
	t.Helper()
	files, err := newReader(t).Shipped()
	if err != nil {
		t.Fatal(err)
	}
	lib, errs := mappingfile.NewLibrary(files...)
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	return lib
}

// TestInvalid reads every file of testdata/invalid (one defect each) and
// compares every error, in full, with the file's .err twin.
func TestInvalid(t *testing.T) {
	cases, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("testdata/invalid has no cases")
	}
	r := newReader(t)
	for _, c := range cases {
		name := strings.TrimSuffix(filepath.Base(c), ".yaml")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(c)
			if err != nil {
				t.Fatal(err)
			}
			_, errs := r.Read(filepath.Base(c), b)
			if len(errs) == 0 {
				t.Fatal("read without error")
			}
			var lines []string
			for _, e := range errs {
				lines = append(lines, e.Error())
			}
			got := strings.Join(lines, "\n") + "\n"
			wantFile := strings.TrimSuffix(c, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (go test -update creates it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestRunTestFailures(t *testing.T) {
	const file = `namespace: t
mappings:
  ds:
    kind: dataset
    jq: .[]
  dp:
    kind: dataPoint
    jq: .[]
`
	f, errs := newReader(t).Read("t.yaml", []byte(file))
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	ds, dp := f.Mappings[0], f.Mappings[1]
	tests := []struct {
		name        string
		m           *mappingfile.Mapping
		test        mappingfile.Test
		failure     string
		diff        string
		wantsPassed bool
	}{
		{name: "equal numbers in other forms pass", m: ds, test: mappingfile.Test{Input: []any{map[string]any{"t": 21.0}}, Outputs: []any{map[string]any{"t": 21}}, One: true}, wantsPassed: true},
		{name: "one output differs", m: ds, test: mappingfile.Test{Input: []any{map[string]any{"t": 21.8, "u": "C"}}, Outputs: []any{map[string]any{"t": 21.9, "u": "C"}}, One: true},
			failure: "output differs",
			diff:    "--- want\n+++ got\n  {\n-   \"t\": 21.9,\n+   \"t\": 21.8,\n    \"u\": \"C\"\n  }"},
		{name: "one output wanted, two given", m: ds, test: mappingfile.Test{Input: []any{1, 2}, Outputs: []any{1}, One: true},
			failure: "want 1 output, got 2 outputs",
			diff:    "--- want\n+++ got\n  [\n-   1\n+   1,\n+   2\n  ]"},
		{name: "no output wanted, one given", m: ds, test: mappingfile.Test{Input: []any{1}, Outputs: []any{}},
			failure: "want 0 outputs, got 1 output",
			diff:    "--- want\n+++ got\n- []\n+ [\n+   1\n+ ]"},
		{name: "filter", m: ds, test: mappingfile.Test{Input: []any{}, Outputs: []any{}}, wantsPassed: true},
		{name: "error wanted, output given", m: ds, test: mappingfile.Test{Input: []any{1}, Error: "boom"},
			failure: `want an error containing "boom", got 1 output`},
		{name: "other error", m: ds, test: mappingfile.Test{Input: 1, Error: "boom"},
			failure: `want an error containing "boom", got error: jq: cannot iterate over: number (1)`},
		{name: "unexpected error", m: ds, test: mappingfile.Test{Input: 1, Outputs: []any{1}, One: true},
			failure: `error: jq: cannot iterate over: number (1)`},
		{name: "expected error", m: ds, test: mappingfile.Test{Input: 1, Error: "cannot iterate"}, wantsPassed: true},
		{name: "data point with two values", m: dp, test: mappingfile.Test{Input: []any{1, 2}, Outputs: []any{1}, One: true},
			failure: `error: jq: 2 outputs (a value needs exactly one)`},
		{name: "data point with no value", m: dp, test: mappingfile.Test{Input: []any{}, Error: "no output"}, wantsPassed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.m.RunTest(context.Background(), &tt.test)
			if res.Passed() != tt.wantsPassed {
				t.Fatalf("passed: got %v (%s), want %v", res.Passed(), res.Failure, tt.wantsPassed)
			}
			if res.Failure != tt.failure {
				t.Errorf("failure:\ngot  %s\nwant %s", res.Failure, tt.failure)
			}
			if res.Diff != tt.diff {
				t.Errorf("diff:\ngot\n%s\nwant\n%s", res.Diff, tt.diff)
			}
		})
	}
}

// TestTestVariables checks the defaults a test case sees, an override, and
// that the process environment stays closed to mappings.
func TestTestVariables(t *testing.T) {
	t.Setenv("HTTP_CONNECTOR_TEST_SECRET", "hunter2")
	const file = `namespace: t
mappings:
  vars:
    kind: dataPoint
    jq: '[$asset, $dataset, $dataPoint, $timestamp, $assetAttributes, $ENV, env]'
    tests:
      - name: defaults
        input: null
        output: [test-asset, test-dataset, test-data-point, "2026-01-01T12:00:00.000Z", {}, {}, {}]
      - name: overridden
        input: null
        variables: {asset: a, assetAttributes: {site: berlin}}
        output: [a, test-dataset, test-data-point, "2026-01-01T12:00:00.000Z", {site: berlin}, {}, {}]
`
	f, errs := newReader(t).Read("t.yaml", []byte(file))
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	for _, res := range f.RunTests(context.Background()) {
		if !res.Passed() {
			t.Errorf("%s: %s\n%s", res.Test.Name, res.Failure, res.Diff)
		}
	}
	if len(f.Mappings[0].Tests) != 2 {
		t.Errorf("got %d test cases, want 2", len(f.Mappings[0].Tests))
	}
}

func TestDuplicateNames(t *testing.T) {
	r := newReader(t)
	read := func(name, text string) *mappingfile.File {
		f, errs := r.Read(name, []byte(text))
		if len(errs) > 0 {
			t.Fatal(errors.Join(errs...))
		}
		return f
	}
	files, err := r.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	a := read("mappings/a.yaml", "namespace: site\nmappings:\n  status: {kind: dataset, jq: .}\n")
	b := read("mappings/b.yaml", "namespace: site\nmappings:\n  other: {kind: dataset, jq: .}\n  status: {kind: dataset, jq: .}\n")
	c := read("mappings/c.yaml", "namespace: thermostat\nmappings:\n  status: {kind: dataset, jq: .}\n")
	lib, errs := mappingfile.NewLibrary(append(files, a, b, c)...)
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		`mappings/b.yaml:4: mapping "site/status": defined twice (also mappings/a.yaml:3)`,
		`mappings/c.yaml:3: mapping "thermostat/status": defined twice (also ` + shipped(t).Lookup("thermostat/status").Where + `)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\ngot  %q\nwant %q", got, want)
	}
	if m := lib.Lookup("site/status"); m == nil || m.File != "mappings/a.yaml" {
		t.Errorf("site/status: got %+v, want the first definition", m)
	}
	if lib.Lookup("site/other") == nil {
		t.Error("site/other is missing")
	}
	if pl := lib.Plan(); pl["thermostat/status"].Kind != plan.DatasetMapping || pl["thermostat/celsius"].Kind != plan.DataPointMapping {
		t.Error("the plan library has the wrong kinds")
	}
}

func TestReadFS(t *testing.T) {
	fsys := fstest.MapFS{
		"cfg/mappings/a.yaml":     {Data: []byte("namespace: a\nmappings:\n  x: {kind: dataset, jq: .}\n")},
		"cfg/mappings/b.yml":      {Data: []byte("namespace: b\nmappings:\n  y: {kind: dataPoint, jq: .}\n")},
		"cfg/mappings/.swap.yaml": {Data: []byte("not read")},
		"cfg/mappings/notes.md":   {Data: []byte("not read")},
		"cfg/mappings/sub/c.yaml": {Data: []byte("not read: folders are not walked")},
	}
	files, errs := newReader(t).ReadFS(fsys, "cfg/mappings", "config/mappings", "")
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path)
	}
	if want := []string{"config/mappings/a.yaml", "config/mappings/b.yml"}; !slices.Equal(got, want) {
		t.Errorf("files: got %q, want %q", got, want)
	}
	_, errs = newReader(t).ReadFS(fsys, "cfg/missing", "config/missing", "")
	if len(errs) != 1 || errs[0].Error() != "mappings config/missing: file does not exist" {
		t.Errorf("missing folder: got %v", errs)
	}
}

func TestFind(t *testing.T) {
	fsys := fstest.MapFS{
		"mappings/a.yaml":                  {Data: []byte("namespace: a\nmappings: {}\n")},
		"mappings/testdata/invalid/b.yaml": {Data: []byte("namespace: b\nmappings: {}\n")},
		"mappings/.hidden/c.yaml":          {Data: []byte("namespace: c\nmappings: {}\n")},
		"examples/x/config/asset.yaml":     {Data: []byte("kind: Asset\nmappings: not this\n")},
		"examples/x/config/settings.yaml":  {Data: []byte("logLevel: debug\n")},
		"examples/x/config/mappings/d.yml": {Data: []byte("# a comment first\nnamespace: d\nmappings: {}\n")},
		"examples/x/broken.yaml":           {Data: []byte("mappings:\n  x: [\n")},
	}
	got, err := mappingfile.Find(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"examples/x/broken.yaml", "examples/x/config/mappings/d.yml", "mappings/a.yaml"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDiff(t *testing.T) {
	want := strings.Join([]string{"{", `  "a": 1,`, `  "b": 2,`, `  "c": 3,`, `  "d": 4,`, `  "e": 5,`, `  "f": 6,`, `  "g": 7,`, `  "h": 8,`, `  "i": 9`, "}"}, "\n")
	got := strings.Replace(want, `"h": 8`, `"h": 80`, 1)
	d := mappingfile.Diff(want, got)
	wantDiff := "--- want\n+++ got\n  …\n    \"e\": 5,\n    \"f\": 6,\n    \"g\": 7,\n-   \"h\": 8,\n+   \"h\": 80,\n    \"i\": 9\n  }"
	if d != wantDiff {
		t.Errorf("diff:\ngot\n%s\nwant\n%s", d, wantDiff)
	}
}

// A test case may give the response body a device sends, in any format a
// dataset reads: it is parsed as the dataset would, and a body that does
// not parse is a problem of the file, with its position.
func TestCasesWithResponseBodies(t *testing.T) {
	const file = `namespace: plc
mappings:
  status:
    kind: dataset
    jq: '{temp: .status.temp["#text"], unit: .status.temp["@unit"]}'
    tests:
      - name: xml
        body: '<status><temp unit="C">21.5</temp></status>'
        format: xml
        output: {temp: 21.5, unit: C}
      - name: xml by its content type
        body: '<status><temp unit="F">70.7</temp></status>'
        contentType: application/xml
        output: {temp: 70.7, unit: F}
  power:
    kind: dataset
    jq: 'map(.power) | add'
    tests:
      - name: csv with a delimiter
        body: "time;power\n10:00;1.5\n10:01;2.5\n"
        format: csv
        csv: {delimiter: ";"}
        output: 4
`
	f, errs := newReader(t).Read("plc.yaml", []byte(file))
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	passed := 0
	for _, m := range f.Mappings {
		for _, tc := range m.Tests {
			if res := m.RunTest(context.Background(), tc); res.Passed() {
				passed++
			} else {
				t.Errorf("%s %s: %s", m.Name, tc.Name, res.Failure)
			}
		}
	}
	if passed != 3 {
		t.Errorf("%d cases passed, want 3", passed)
	}
	broken := strings.Replace(file, `10:01;2.5\n`, `10:01\n`, 1)
	_, errs = newReader(t).Read("plc.yaml", []byte(broken))
	if want := `plc.yaml:20:9: mapping "plc/power": mappings.power.tests[0].body: CSV line 3: wrong number of fields (1, want 2)`; len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("broken body: %v\nwant %s", errs, want)
	}
}
