// Package resourcefile reads Device and Asset custom resources from YAML or
// JSON files: one or several documents per file, or a kind: List with items.
// Each document is checked against the embedded resource schema before it is
// decoded, and every problem names the file, line and field.
package resourcefile

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/yamlfile"
	"github.com/http-connector/http-connector/schemas"
)

// Kinds of resources.
const (
	KindDevice = "Device"
	KindAsset  = "Asset"
)

// APIVersion is the ADR resources' apiVersion.
const APIVersion = "namespaces.deviceregistry.microsoft.com/v1"

// Resource is one Device or Asset read from a file.
type Resource struct {
	File   string
	Line   int // line of the document (or List item)
	Kind   string
	Name   string
	Device *adr.Device
	Asset  *adr.Asset
	doc    *yamlfile.Document
	prefix string // of the resource's fields in the document: "items[3]" in a List
}

// LineOf returns the line of the deepest field on path that the file holds.
func (r *Resource) LineOf(path string) int {
	if r.prefix != "" {
		if path == "" {
			path = r.prefix
		} else if strings.HasPrefix(path, "[") {
			path = r.prefix + path
		} else {
			path = r.prefix + "." + path
		}
	}
	return r.doc.Fields().At(path).Line
}

// Reader reads resource files; it holds the compiled resource schemas.
type Reader struct {
	device, asset *schemas.Validator
	spec          specDecoder
}

// NewReader compiles the resource schemas.
func NewReader() (*Reader, error) {
	dv, err := schemas.Compile(schemas.ADRResources + "#/definitions/deviceResource")
	if err != nil {
		return nil, err
	}
	av, err := schemas.Compile(schemas.ADRResources + "#/definitions/assetResource")
	if err != nil {
		return nil, err
	}
	return &Reader{device: dv, asset: av, spec: newSpecDecoder(reflect.TypeFor[adr.Device](), reflect.TypeFor[adr.Asset]())}, nil
}

// IsResourceFile reports whether a file name is read as resources.
func IsResourceFile(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return !strings.HasPrefix(path.Base(name), ".")
	}
	return false
}

// ReadDir reads every resource file directly in dir of fsys, in name order.
// display is prefixed to file names in errors and Resource.File. Files are
// read and parsed in parallel, so fsys must be safe for concurrent use (as
// os.DirFS, embed.FS and fstest.MapFS are); what ReadDir returns does not
// depend on the parallelism.
func (r *Reader) ReadDir(fsys fs.FS, dir, display string) ([]*Resource, []error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, []error{fmt.Errorf("read configuration folder %s: %w", display, err)}
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && IsResourceFile(e.Name()) {
			names = append(names, e.Name())
		}
	}
	type file struct {
		res  []*Resource
		errs []error
	}
	files := make([]file, len(names))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(names)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(names) {
					return
				}
				f := &files[i]
				name := path.Join(display, names[i])
				b, err := fs.ReadFile(fsys, path.Join(dir, names[i]))
				if err != nil {
					f.errs = []error{&yamlfile.Error{File: name, Message: err.Error()}}
					continue
				}
				f.res, f.errs = r.Read(name, b)
			}
		})
	}
	wg.Wait()
	var out []*Resource
	var errs []error
	for _, f := range files {
		out = append(out, f.res...)
		errs = append(errs, f.errs...)
	}
	return out, errs
}

// Read parses one file's bytes.
func (r *Reader) Read(file string, data []byte) ([]*Resource, []error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, []error{&yamlfile.Error{File: file, Message: "empty file: expected Device or Asset resources"}}
	}
	docs, errs := yamlfile.Read(file, data)
	var out []*Resource
	for _, d := range docs {
		rs, es := r.document(file, d)
		out = append(out, rs...)
		errs = append(errs, es...)
		// The resources hold their typed copies; the document stays for
		// the positions of fields only. Thousands of files must not keep
		// their trees of values until the configuration is built.
		d.Value = nil
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, &yamlfile.Error{File: file, Message: "no resources in file"})
	}
	return out, errs
}

func (r *Reader) document(file string, d *yamlfile.Document) ([]*Resource, []error) {
	obj, ok := d.Value.(map[string]any)
	if !ok {
		return nil, []error{&yamlfile.Error{File: file, Line: d.Line, Message: "a resource must be a mapping with apiVersion, kind, metadata and spec"}}
	}
	if obj["kind"] != "List" {
		res, errs := r.resource(file, d.Line, obj, d, "")
		if res == nil {
			return nil, errs
		}
		return []*Resource{res}, errs
	}
	items, ok := obj["items"].([]any)
	if !ok {
		return nil, []error{&yamlfile.Error{File: file, Line: d.Line, Path: "items", Message: "a List needs an items array"}}
	}
	var out []*Resource
	var errs []error
	for i, it := range items {
		prefix := fmt.Sprintf("items[%d]", i)
		res, es := r.resource(file, d.Fields().At(prefix).Line, it, d, prefix)
		if res != nil {
			out = append(out, res)
		}
		errs = append(errs, es...)
	}
	return out, errs
}

func (r *Reader) resource(file string, line int, v any, doc *yamlfile.Document, prefix string) (*Resource, []error) {
	obj, _ := v.(map[string]any)
	kind, _ := obj["kind"].(string)
	context := ""
	if md, ok := obj["metadata"].(map[string]any); ok {
		if name, ok := md["name"].(string); ok && (kind == KindDevice || kind == KindAsset) {
			context = fmt.Sprintf("%s %q", strings.ToLower(kind), name)
		}
	}
	res := &Resource{File: file, Line: line, Kind: kind, doc: doc, prefix: prefix}
	fail := func(path, msg string) []error {
		full := path
		switch {
		case prefix != "" && path == "":
			full = prefix
		case prefix != "":
			full = prefix + "." + path
		}
		return []error{&yamlfile.Error{File: file, Line: res.LineOf(path), Context: context, Path: full, Message: msg}}
	}
	if obj == nil {
		return nil, fail("", "a resource must be a mapping with apiVersion, kind, metadata and spec")
	}
	var val *schemas.Validator
	switch kind {
	case KindDevice:
		val = r.device
	case KindAsset:
		val = r.asset
	case "":
		return nil, fail("kind", "missing: expected Device or Asset")
	default:
		return nil, fail("kind", fmt.Sprintf("%q is not supported: expected Device or Asset", kind))
	}
	if vs := val.Validate(v); len(vs) > 0 {
		var errs []error
		for _, viol := range vs {
			errs = append(errs, fail(viol.Path, viol.Message)...)
		}
		return nil, errs
	}
	res.Name = obj["metadata"].(map[string]any)["name"].(string)
	var err error
	if kind == KindDevice {
		res.Device = new(adr.Device)
		err = r.spec.decode(obj["spec"], res.Device)
	} else {
		res.Asset = new(adr.Asset)
		err = r.spec.decode(obj["spec"], res.Asset)
	}
	if err != nil {
		return nil, fail("spec", err.Error())
	}
	return res, nil
}
