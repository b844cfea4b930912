package config

import (
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"testing/fstest"

	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/yamlfile"
	"github.com/http-connector/http-connector/mappings"
)

// DefaultMappingsFolder is the folder of the configuration folder whose
// mapping files are read when no mapping files are given.
const DefaultMappingsFolder = "mappings"

// mappingSource says where the mapping library comes from: the shipped
// files, then the given paths, or else the configuration's own mappings
// folder.
type mappingSource struct {
	reader     *mappings.Reader
	shipped    []*mappings.File
	shippedLib *mappings.Library
	paths      []string // files or folders; nil: the default folder
}

func newMappingSource() (mappingSource, error) {
	r, err := mappings.NewReader()
	if err != nil {
		return mappingSource{}, err
	}
	shipped, err := r.Shipped()
	if err != nil {
		return mappingSource{}, err
	}
	lib, errs := mappings.NewLibrary(shipped...)
	if len(errs) > 0 {
		return mappingSource{}, errors.Join(errs...)
	}
	return mappingSource{reader: r, shipped: shipped, shippedLib: lib}, nil
}

// WithMappings returns a loader that reads the mapping files at paths
// (files, or folders whose .yaml and .yml files are all mapping files)
// instead of the configuration folder's mappings folder. The shipped
// mappings are always there.
func (l *Loader) WithMappings(paths []string) *Loader {
	cp := *l
	cp.maps.paths = paths
	return &cp
}

// load reads the mapping library of a configuration folder: its errors
// come sorted by file and line.
func (m mappingSource) load(fsys fs.FS, dir, display string) (*mappings.Library, []error) {
	files := append([]*mappings.File(nil), m.shipped...)
	var errs []error
	if len(m.paths) > 0 {
		for _, p := range m.paths {
			read, es := m.reader.ReadPath(p)
			files, errs = append(files, read...), append(errs, es...)
		}
	} else if st, err := fs.Stat(fsys, path.Join(dir, DefaultMappingsFolder)); err == nil && st.IsDir() {
		read, es := m.reader.ReadFS(fsys, path.Join(dir, DefaultMappingsFolder), path.Join(display, DefaultMappingsFolder), "")
		files, errs = append(files, read...), append(errs, es...)
	}
	lib, lerrs := mappings.NewLibrary(files...)
	errs = append(errs, lerrs...)
	yamlfile.SortErrors(errs)
	return lib, errs
}

// MappingPaths are the mapping files or folders a load reads besides the
// shipped ones: the loader's, or the mappings folder of the configuration
// folder dir (an OS path) when it has one.
func (l *Loader) MappingPaths(dir string) []string {
	if len(l.maps.paths) > 0 {
		return l.maps.paths
	}
	return []string{filepath.Join(dir, DefaultMappingsFolder)}
}

// MappingPlanner returns the loader's planner with the mapping library of
// the loader's mapping paths and the shipped mappings, for the Akri mode,
// which has no configuration folder. The error, if any, is an Errors.
func (l *Loader) MappingPlanner() (*plan.Planner, error) {
	lib, errs := l.maps.load(fstest.MapFS{}, ".", "")
	if len(errs) > 0 {
		return nil, Errors(errs)
	}
	return l.planner.WithLibrary(lib.Plan()), nil
}
