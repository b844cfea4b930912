package statuspage

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/mappingfile"
)

// The test case the playground gives, pasted under a mapping's tests:,
// is read by the connector's own mapping file reader and passes with
// `http-connector test`: for every kind of outcome and awkward inputs.
func TestTestCasePassesInAMappingFile(t *testing.T) {
	page := New(newFake(t, healthy()), Options{})
	defer page.Close()
	tests := []struct {
		name, input, jq, want string
	}{
		{"one output keeps the number's text", `{"currentTemperature": 71.30, "big": 12345678901234567890123}`, `{t: .currentTemperature, big, a: $asset, d: $dataset, at: $timestamp}`, "output:"},
		{"fan-out", `{"readings": [{"v": 1}, {"v": 2}, {"v": 3}]}`, `.readings[] | {v, asset: $asset}`, "outputs:\n    - "},
		{"filtered", `{"power": "off"}`, `select(.power == "on")`, "outputs: []"},
		{"an error", `"Service Unavailable"`, `if type != "object" then error("expected an object, got \(type)") end`, `error: "jq: error: expected an object, got string"`},
		{"text that YAML reads otherwise", `{"a: b": "# not a comment", "yes": "no", "n": null, "s": "\u00e9\/\t\"'\u2028", "k": "- [x]", "e": {}, "l": []}`, `.`, "output:"},
		{"a string input", `"on"`, `{state: .}`, "output:"},
		{"a number input", `1e400`, `{n: .}`, "output:"},
		{"a long key", `{"` + strings.Repeat("k", maxKeyBytes-2) + `": 1}`, `.`, "output:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res mapJSON
			body := fmt.Sprintf(`{"asset": "boiler-1", "dataset": "status", "input": %s, "jq": %q}`, tt.input, tt.jq)
			if code, _ := call(t, page, "POST", "/api/map", body, &res); code != 200 {
				t.Fatalf("status %d", code)
			}
			if !strings.Contains(res.TestCase, "\n  "+tt.want) {
				t.Errorf("test case without %q:\n%s", tt.want, res.TestCase)
			}
			file := "namespace: check\nmappings:\n  it:\n    kind: dataset\n    jq: |\n      " + tt.jq + "\n    tests:\n" + indent(res.TestCase, "      ")
			runMappingFile(t, file)
		})
	}
}

// Pasted into the shipped thermostat.yaml under thermostat/status, the
// test case of a library mapping passes along with the file's own.
func TestTestCaseOfALibraryMapping(t *testing.T) {
	page := New(newFake(t, healthy()), Options{})
	defer page.Close()
	var res mapJSON
	body := `{"asset": "boiler-1", "dataset": "status", "input": {"currentTemperature": 77, "desiredTemperature": 68, "power": "on"}, "mapping": "thermostat/status"}`
	call(t, page, "POST", "/api/map", body, &res)
	want := `# A test case of thermostat/status from the status page: put it under the mapping's tests:.
- name: "boiler-1 status at 2026-01-01T12:00:00.000Z"
  input: {"currentTemperature":77,"desiredTemperature":68,"power":"on"}
  variables: {"asset":"boiler-1","dataset":"status","timestamp":"2026-01-01T12:00:00.000Z"}
  output: {"asset":"boiler-1","currentTemperature":25,"desiredTemperature":20,"heating":false,"power":"on","timestamp":"2026-01-01T12:00:00.000Z","unit":"°C"}
`
	if res.TestCase != want {
		t.Errorf("got\n%s\nwant\n%s", res.TestCase, want)
	}
	shipped, err := fs.ReadFile(mappingfile.ShippedFS(), "thermostat.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := string(shipped)
	anchor := "      - name: the walkthrough's message in Celsius\n"
	if !strings.Contains(file, anchor) {
		t.Fatalf("thermostat.yaml has no %q", anchor)
	}
	file = strings.Replace(file, anchor, indent(res.TestCase, "      ")+anchor, 1)
	if n := runMappingFile(t, file); n != 7 {
		t.Errorf("%d cases ran, want the file's 6 and the pasted one", n)
	}
}

func TestNoTestCaseWithoutAProgram(t *testing.T) {
	page := New(newFake(t, healthy()), Options{})
	defer page.Close()
	var res mapJSON
	call(t, page, "POST", "/api/map", `{"asset": "boiler-1", "dataset": "status", "input": {}, "jq": "{"}`, &res)
	if res.TestCase != "# No test case: the program does not compile.\n" {
		t.Errorf("got %q", res.TestCase)
	}
	var longKey mapJSON
	call(t, page, "POST", "/api/map", `{"asset": "boiler-1", "dataset": "status", "input": {"`+strings.Repeat("k", maxKeyBytes)+`": 1}, "jq": "."}`, &longKey)
	if want := "# No test case: the input: a member name is 1002 bytes long, more than YAML reads (1000).\n"; longKey.TestCase != want {
		t.Errorf("a member name YAML cannot read: got %q, want %q", longKey.TestCase, want)
	}
	var big mapJSON
	input := `"` + strings.Repeat("x", maxTestCaseBytes) + `"`
	call(t, page, "POST", "/api/map", `{"asset": "boiler-1", "dataset": "status", "input": `+input+`, "jq": "."}`, &big)
	if !strings.HasPrefix(big.TestCase, "# No test case: it would be ") {
		t.Errorf("got %.100q", big.TestCase)
	}
}

// runMappingFile reads a mapping file as the connector does and runs its
// test cases; it fails t on any problem and returns how many ran.
func runMappingFile(t *testing.T, file string) int {
	t.Helper()
	reader, err := mappingfile.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	f, errs := reader.Read("pasted.yaml", []byte(file))
	if len(errs) > 0 {
		t.Fatalf("the file does not read: %v\n%s", errs, file)
	}
	results := f.RunTests(t.Context())
	for _, r := range results {
		if !r.Passed() {
			t.Errorf("%s: %s\n%s\n%s", r.Test.Name, r.Failure, r.Diff, file)
		}
	}
	return len(results)
}

func indent(text, prefix string) string {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}
