// Package reference locates the upstream reference data the tests check the
// connector against: the folder testdata/reference at the root of the
// repository (its README says where each file comes from and under which
// licence). It is for tests only.
package reference

import (
	"path/filepath"
	"runtime"
)

// Dir is the absolute path of the reference folder, joined with elem.
func Dir(elem ...string) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("reference: cannot locate the source of this package")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "reference")
	return filepath.Join(append([]string{root}, elem...)...)
}
