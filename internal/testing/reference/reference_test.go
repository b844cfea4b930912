package reference_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/testing/reference"
)

// The project has its licence at the root, and every folder of copied
// upstream files keeps the licence its README names for it.
func TestLicences(t *testing.T) {
	root := reference.Dir("..", "..")
	read := func(elem ...string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(elem...))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if licence := read(root, "LICENSE"); !strings.HasPrefix(licence, "MIT License\n") {
		t.Errorf("LICENSE: want the MIT licence, the project's, got %.40q", licence)
	}
	if !strings.Contains(read(root, "README.md"), "[`LICENSE`](LICENSE)") {
		t.Error("README.md does not point to LICENSE")
	}
	notes := read(reference.Dir("README.md"))
	for _, c := range []struct{ file, licence, starts string }{
		{"LICENSE", "MIT", "MIT License"},
		{"schemastore/LICENSE", "Apache License 2.0", "Apache License"},
	} {
		if text := strings.TrimSpace(read(reference.Dir(c.file))); !strings.HasPrefix(text, c.starts) {
			t.Errorf("testdata/reference/%s: want the %s licence, got %.40q", c.file, c.licence, text)
		}
		if !strings.Contains(notes, "("+c.file+")") || !strings.Contains(notes, c.licence) {
			t.Errorf("testdata/reference/README.md does not name %s for %s", c.licence, c.file)
		}
	}
}
