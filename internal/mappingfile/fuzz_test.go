package mappingfile_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/http-connector/http-connector/internal/mappingfile"
	"github.com/http-connector/http-connector/mappings"
)

// FuzzReadMappingFile drives the reader of mapping files with any bytes,
// as an integrator's editor may leave a file: it must not panic, must stop
// early on aliases that expand without bound, and must give the same
// errors for the same bytes; a file it accepts has a program for every
// mapping. go test runs the seeds (the shipped files and the invalid
// corpus); go test -fuzz FuzzReadMappingFile explores.
func FuzzReadMappingFile(f *testing.F) {
	invalid, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range invalid {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	shipped, err := fs.Glob(mappings.Files, "*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range shipped {
		b, err := fs.ReadFile(mappings.Files, name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("namespace: a\nmappings: {x: {kind: dataset, jq: &j ., tests: [{name: t, input: *j, output: *j}]}}\n"))
	r, err := mappingfile.NewReader()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, errs := r.Read("fuzz.yaml", data)
		_, again := r.Read("fuzz.yaml", data)
		if fmt.Sprint(errs) != fmt.Sprint(again) {
			t.Fatalf("not deterministic:\n%v\n%v", errs, again)
		}
		if len(errs) > 0 || file == nil {
			return
		}
		for _, m := range file.Mappings {
			if m.Program == nil {
				t.Errorf("mapping %s has no program and no error", m.Name)
			}
		}
	})
}
