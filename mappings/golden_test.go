package mappings_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/mappingfile"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/sampling"
)

// TestGolden runs every shipped mapping on device responses as the
// connector does (the body decoded like an HTTP response, variables from
// vars.json over the test defaults) and compares the outputs, as JSON, with
// want.json, or the error with want.err:
//
//	testdata/golden/<namespace>/<name>/<case>/input.json
//
// Every shipped mapping has at least one case. go test -update rewrites
// the expected files.
func TestGolden(t *testing.T) {
	lib := shipped(t)
	cases, err := filepath.Glob("testdata/golden/*/*/*/input.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("testdata/golden has no cases")
	}
	covered := map[string]bool{}
	for _, input := range cases {
		dir := filepath.Dir(input)
		rel, _ := filepath.Rel("testdata/golden", dir)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		name := parts[0] + "/" + parts[1]
		covered[name] = true
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			m := lib.Lookup(name)
			if m == nil {
				t.Fatalf("no shipped mapping %s", name)
			}
			outs, runErr := runGolden(t, m, dir)
			var got []byte
			wantFile := filepath.Join(dir, "want.json")
			otherFile := filepath.Join(dir, "want.err")
			if runErr != nil {
				got = []byte(runErr.Error() + "\n")
				wantFile, otherFile = otherFile, wantFile
			} else {
				got = prettyJSON(t, outs)
			}
			if *update {
				_ = os.Remove(otherFile)
				if err := os.WriteFile(wantFile, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				if _, other := os.Stat(otherFile); other == nil {
					t.Fatalf("got %s, want %s:\n%s", filepath.Base(wantFile), filepath.Base(otherFile), got)
				}
				t.Fatalf("%v (go test -update creates it)", err)
			}
			if runErr != nil {
				if string(got) != string(want) {
					t.Errorf("error:\ngot  %s\nwant %s", got, want)
				}
				return
			}
			if !sameJSON(t, got, want) {
				t.Errorf("outputs differ\n%s", mappingfile.Diff(strings.TrimSpace(string(want)), strings.TrimSpace(string(got))))
			}
		})
	}
	for _, m := range lib.Mappings() {
		if !covered[m.Name] {
			t.Errorf("shipped mapping %s has no folder in testdata/golden", m.Name)
		}
	}
}

// runGolden decodes input.json as a JSON response body and runs m on it.
func runGolden(t *testing.T, m *mappingfile.Mapping, dir string) ([]any, error) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(dir, "input.json"))
	if err != nil {
		t.Fatal(err)
	}
	input, err := sampling.Decode(body, "application/json")
	if err != nil {
		t.Fatalf("input.json: %v", err)
	}
	vars := mappingfile.TestVariables()
	if b, err := os.ReadFile(filepath.Join(dir, "vars.json")); err == nil {
		if err := json.Unmarshal(b, &vars); err != nil {
			t.Fatalf("vars.json: %v", err)
		}
	}
	names := m.Kind.Variables()
	values := make([]any, len(names))
	for i, n := range names {
		values[i] = vars[n]
	}
	ctx, cancel := context.WithTimeout(context.Background(), mappingfile.TestTimeout)
	defer cancel()
	if m.Kind == plan.DataPointMapping {
		v, err := m.Program.One(ctx, input, values...)
		if err != nil {
			return nil, err
		}
		return []any{v}, nil
	}
	return m.Program.Run(ctx, input, values...)
}

func prettyJSON(t *testing.T, v []any) []byte {
	t.Helper()
	if v == nil {
		v = []any{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatalf("outputs are not JSON: %v", err)
	}
	return b.Bytes()
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("want.json: %v", err)
	}
	return reflect.DeepEqual(va, vb)
}
