package mappingfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/yamlfile"
	"github.com/http-connector/http-connector/mappings"
)

// ShippedPrefix starts the names of shipped files in messages.
const ShippedPrefix = "shipped:"

// Library holds mappings by name.
type Library struct {
	byName map[string]*Mapping
	files  []*File
}

// NewLibrary puts the mappings of files in one library. A name defined
// twice is an error naming both places; the first definition stays.
func NewLibrary(files ...*File) (*Library, []error) {
	l := &Library{byName: map[string]*Mapping{}}
	var errs []error
	for _, f := range files {
		if f == nil {
			continue
		}
		l.files = append(l.files, f)
		for _, m := range f.Mappings {
			if prev, dup := l.byName[m.Name]; dup {
				errs = append(errs, &Error{File: m.File, Line: m.Line, Context: fmt.Sprintf("mapping %q", m.Name), Message: "defined twice (also " + prev.Where + ")"})
				continue
			}
			l.byName[m.Name] = m
		}
	}
	return l, errs
}

// Lookup returns the mapping of a name, or nil.
func (l *Library) Lookup(name string) *Mapping { return l.byName[name] }

// Mappings returns every mapping, by name.
func (l *Library) Mappings() []*Mapping {
	out := make([]*Mapping, 0, len(l.byName))
	for _, m := range l.byName {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Files are the files the library was built from, in order.
func (l *Library) Files() []*File { return l.files }

// Plan is the library as the planner resolves references against it.
func (l *Library) Plan() plan.Library {
	out := make(plan.Library, len(l.byName))
	for name, m := range l.byName {
		out[name] = &m.Mapping
	}
	return out
}

// Shipped reads the mapping files shipped with the connector. They are
// tested, so an error here is a bug.
func (r *Reader) Shipped() ([]*File, error) {
	files, errs := r.ReadFS(mappings.Files, ".", "", ShippedPrefix)
	if len(errs) > 0 {
		return nil, fmt.Errorf("shipped mappings: %w", errors.Join(errs...))
	}
	return files, nil
}

// ShippedFS is the folder of shipped mapping files.
func ShippedFS() fs.FS { return mappings.Files }

// IsMappingFileName reports whether a file name is read as a mapping file
// in a mappings folder.
func IsMappingFileName(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml":
		return !strings.HasPrefix(path.Base(name), ".")
	}
	return false
}

// ReadFS reads name in fsys: a mapping file, or a folder whose YAML files
// (directly in it, in name order) are all mapping files. display names
// name in messages; prefix goes before it ("shipped:").
func (r *Reader) ReadFS(fsys fs.FS, name, display, prefix string) ([]*File, []error) {
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, []error{fmt.Errorf("mappings %s: %w", prefix+display, unwrapPath(err))}
	}
	if !st.IsDir() {
		f, errs := r.readFile(fsys, name, prefix+display)
		if f == nil {
			return nil, errs
		}
		return []*File{f}, errs
	}
	entries, err := fs.ReadDir(fsys, name)
	if err != nil {
		return nil, []error{fmt.Errorf("mappings %s: %w", prefix+display, unwrapPath(err))}
	}
	var files []*File
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !IsMappingFileName(e.Name()) {
			continue
		}
		f, es := r.readFile(fsys, path.Join(name, e.Name()), prefix+path.Join(display, e.Name()))
		if f != nil {
			files = append(files, f)
		}
		errs = append(errs, es...)
	}
	return files, errs
}

// ReadPath reads a mapping file or folder of the file system (see ReadFS).
func (r *Reader) ReadPath(p string) ([]*File, []error) {
	dir, name := filepath.Dir(p), filepath.Base(p)
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		dir, name = p, "."
	}
	return r.ReadFS(os.DirFS(dir), name, filepath.ToSlash(p), "")
}

func (r *Reader) readFile(fsys fs.FS, name, display string) (*File, []error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, []error{&Error{File: display, Message: unwrapPath(err).Error()}}
	}
	return r.Read(display, b)
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Find returns the mapping files below root in fsys, for `http-connector
// test`: every .yaml or .yml file whose top level has a mappings member
// and no kind (which Device and Asset resources have). Folders named
// testdata and hidden ones are skipped.
func Find(fsys fs.FS, root string) ([]string, error) {
	var out []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return fs.SkipDir
			}
			return nil
		}
		if !IsMappingFileName(p) {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if looksLikeMappingFile(b) {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

func looksLikeMappingFile(b []byte) bool {
	docs, errs := yamlfile.Read("", b)
	if len(errs) > 0 || len(docs) == 0 {
		// A broken file that mentions mappings at the top is reported.
		return bytes.HasPrefix(b, []byte("mappings:")) || bytes.Contains(b, []byte("\nmappings:"))
	}
	top, _ := docs[0].Value.(map[string]any)
	_, hasMappings := top["mappings"]
	_, hasKind := top["kind"]
	return hasMappings && !hasKind
}
