package config

import (
	"errors"
	"io/fs"
	"path"
	"path/filepath"

	"github.com/http-connector/http-connector/internal/mappingfile"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/yamlfile"
)

// DefaultMappingsFolder is the folder of the configuration folder whose
// mapping files are read when no mapping files are given.
const DefaultMappingsFolder = "mappings"

// mappingSource says where the mapping library comes from: the shipped
// files, then the given paths, or else the configuration's own mappings
// folder.
type mappingSource struct {
	reader     *mappingfile.Reader
	shipped    []*mappingfile.File
	shippedLib *mappingfile.Library
	paths      []string // files or folders; nil: the default folder
}

func newMappingSource() (mappingSource, error) {
	r, err := mappingfile.NewReader()
	if err != nil {
		return mappingSource{}, err
	}
	shipped, err := r.Shipped()
	if err != nil {
		return mappingSource{}, err
	}
	lib, errs := mappingfile.NewLibrary(shipped...)
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

// load reads the mapping library of a configuration folder (nil: none,
// as in Akri mode): its errors come sorted by file and line.
func (m mappingSource) load(fsys fs.FS, dir, display string) (*mappingfile.Library, []error) {
	files := append([]*mappingfile.File(nil), m.shipped...)
	var errs []error
	switch folder := path.Join(dir, DefaultMappingsFolder); {
	case len(m.paths) > 0:
		for _, p := range m.paths {
			read, es := m.reader.ReadPath(p)
			files, errs = append(files, read...), append(errs, es...)
		}
	case fsys != nil && isDir(fsys, folder):
		read, es := m.reader.ReadFS(fsys, folder, path.Join(display, DefaultMappingsFolder), "")
		files, errs = append(files, read...), append(errs, es...)
	}
	lib, lerrs := mappingfile.NewLibrary(files...)
	errs = append(errs, lerrs...)
	yamlfile.SortErrors(errs)
	return lib, errs
}

func isDir(fsys fs.FS, name string) bool {
	st, err := fs.Stat(fsys, name)
	return err == nil && st.IsDir()
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
	lib, errs := l.maps.load(nil, "", "")
	if len(errs) > 0 {
		return nil, Errors(errs)
	}
	return l.planner.WithLibrary(lib.Plan()), nil
}
