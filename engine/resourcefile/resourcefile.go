// Package resourcefile reads Device and Asset custom resources from YAML or
// JSON files: one or several documents per file, or a kind: List with items.
// Each document is checked against the embedded resource schema before it is
// decoded, and every problem names the file, line and field.
package resourcefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/http-connector/http-connector/engine/adr"
	"github.com/http-connector/http-connector/schemas"
)

// Kinds of resources.
const (
	KindDevice = "Device"
	KindAsset  = "Asset"
)

// APIVersion is the ADR resources' apiVersion.
const APIVersion = "namespaces.deviceregistry.microsoft.com/v1"

// maxAliasedValues bounds the values of a document that uses YAML aliases.
const maxAliasedValues = 100000

// Resource is one Device or Asset read from a file.
type Resource struct {
	File   string
	Line   int // line of the document (or List item)
	Kind   string
	Name   string
	Device *adr.Device
	Asset  *adr.Asset
	fields *fieldLines
}

// LineOf returns the line of the deepest field on path that the file holds.
func (r *Resource) LineOf(path string) int {
	lines := r.fields.get()
	for p := path; ; {
		if l, ok := lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			return r.Line
		}
		p = p[:i]
	}
}

// Error is a problem in a file, at a line and field.
type Error struct {
	File    string
	Line    int
	Context string // `asset "a" dataset "d"`: what the problem is about
	Path    string
	Message string
	Detail  string // optional extra lines
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Context != "" {
		b.WriteString(e.Context + ": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Message)
	if e.Detail != "" {
		b.WriteString("\n" + e.Detail)
	}
	return b.String()
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
					f.errs = []error{&Error{File: name, Message: err.Error()}}
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
		return nil, []error{&Error{File: file, Message: "empty file: expected Device or Asset resources"}}
	}
	if err := checkUTF8(file, data); err != nil {
		return nil, []error{err}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*Resource
	var errs []error
	for i := 0; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, &Error{File: file, Message: yamlMessage(err)})
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		rs, es := r.document(file, doc.Content[0], &source{data: data, index: i})
		out = append(out, rs...)
		errs = append(errs, es...)
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, &Error{File: file, Message: "no resources in file"})
	}
	return out, errs
}

// checkUTF8 reports where a file that is not UTF-8 text goes wrong (a
// UTF-16 file with its byte order mark is left to the YAML decoder).
func checkUTF8(file string, data []byte) error {
	if utf8.Valid(data) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		return nil
	}
	off := 0
	for off < len(data) {
		r, n := utf8.DecodeRune(data[off:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		off += n
	}
	line := bytes.Count(data[:off], []byte("\n")) + 1
	col := utf8.RuneCount(data[bytes.LastIndexByte(data[:off], '\n')+1:off]) + 1
	return &Error{File: file, Line: line, Message: fmt.Sprintf("not UTF-8 text: byte 0x%02x at column %d", data[off], col)}
}

func yamlMessage(err error) string {
	return "invalid YAML or JSON: " + strings.TrimPrefix(err.Error(), "yaml: ")
}

// source is a document of a file, parsed again when the line of a field is
// needed: only problems need lines.
type source struct {
	data  []byte // the file
	index int    // the document's index in data
	once  sync.Once
	root  *yaml.Node // nil until parsed
}

// node returns the document's top node, parsing the file the first time.
func (s *source) node() *yaml.Node {
	s.once.Do(func() {
		dec := yaml.NewDecoder(bytes.NewReader(s.data))
		for range s.index + 1 {
			var doc yaml.Node
			if dec.Decode(&doc) != nil {
				return
			}
			if len(doc.Content) > 0 {
				s.root = doc.Content[0]
			}
		}
	})
	return s.root
}

// fieldLines maps the dotted paths of a resource's fields to their lines.
// Unless they were recorded while reading, they are found on first use.
type fieldLines struct {
	once  sync.Once
	lines map[string]int
	src   *source
	item  int // the resource's index in a List, or -1
}

func (f *fieldLines) get() map[string]int {
	f.once.Do(func() {
		if f.lines == nil {
			f.lines = f.find()
		}
	})
	return f.lines
}

// find records the lines of the resource's fields as document does while
// reading when asked to.
func (f *fieldLines) find() map[string]int {
	lines := map[string]int{}
	n := f.src.node()
	if n == nil {
		return lines
	}
	if f.item < 0 {
		_, _ = (&converter{lines: lines}).value(n, "")
		return lines
	}
	it := listItem(n, f.item)
	if it == nil {
		return lines
	}
	prefix := fmt.Sprintf("items[%d]", f.item)
	_, _ = (&converter{lines: lines}).value(it, prefix)
	return itemLines(lines, prefix)
}

// listItem is item i of a List document's items, or nil.
func listItem(n *yaml.Node, i int) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for k := 0; k+1 < len(n.Content); k += 2 {
		if n.Content[k].Value != "items" {
			continue
		}
		items := resolve(n.Content[k+1])
		if items.Kind != yaml.SequenceNode || i >= len(items.Content) {
			return nil
		}
		return resolve(items.Content[i])
	}
	return nil
}

// resolve follows an alias to its anchored node.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// itemLines are the lines of List item prefix ("items[3]"), relative to
// the item.
func itemLines(lines map[string]int, prefix string) map[string]int {
	sub := map[string]int{}
	for k, l := range lines {
		if k == prefix {
			sub[""] = l
		} else if rest, ok := strings.CutPrefix(k, prefix+"."); ok {
			sub[rest] = l
		}
	}
	return sub
}

// hasEmptyKey reports whether a document's top mapping has the key "":
// its fields' paths are those of top-level fields (it is at path "").
func hasEmptyKey(n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	for k := 0; k < len(n.Content); k += 2 {
		if n.Content[k].Kind == yaml.ScalarNode && n.Content[k].Value == "" {
			return true
		}
	}
	return false
}

func (r *Reader) document(file string, n *yaml.Node, src *source) ([]*Resource, []error) {
	// The lines of fields are recorded now only when a top-level key ""
	// makes paths ambiguous; otherwise they are found again on demand.
	c := &converter{}
	if hasEmptyKey(n) {
		c.lines = map[string]int{}
	}
	v, err := c.value(n, "")
	if err != nil {
		return nil, []error{&Error{File: file, Line: n.Line, Message: err.Error()}}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, []error{&Error{File: file, Line: n.Line, Message: "a resource must be a mapping with apiVersion, kind, metadata and spec"}}
	}
	if obj["kind"] == "List" {
		items, ok := obj["items"].([]any)
		if !ok {
			return nil, []error{&Error{File: file, Line: n.Line, Path: "items", Message: "a List needs an items array"}}
		}
		var out []*Resource
		var errs []error
		for i, it := range items {
			prefix := fmt.Sprintf("items[%d]", i)
			fields := &fieldLines{src: src, item: i}
			var line int
			if c.lines != nil {
				fields.lines = itemLines(c.lines, prefix)
				line = fields.lines[""]
			} else {
				line = listItem(n, i).Line
			}
			res, es := r.resource(file, line, it, fields, prefix+".")
			if res != nil {
				out = append(out, res)
			}
			errs = append(errs, es...)
		}
		return out, errs
	}
	fields := &fieldLines{src: src, item: -1, lines: c.lines}
	res, errs := r.resource(file, n.Line, obj, fields, "")
	if res == nil {
		return nil, errs
	}
	return []*Resource{res}, errs
}

func (r *Reader) resource(file string, line int, v any, fields *fieldLines, prefix string) (*Resource, []error) {
	obj, _ := v.(map[string]any)
	kind, _ := obj["kind"].(string)
	context := ""
	if md, ok := obj["metadata"].(map[string]any); ok {
		if name, ok := md["name"].(string); ok && (kind == KindDevice || kind == KindAsset) {
			context = fmt.Sprintf("%s %q", strings.ToLower(kind), name)
		}
	}
	fail := func(path, msg string) []error {
		l := line
		if fl, ok := fields.get()[path]; ok {
			l = fl
		}
		return []error{&Error{File: file, Line: l, Context: context, Path: prefix + path, Message: msg}}
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
	res := &Resource{File: file, Line: line, Kind: kind, fields: fields}
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

// converter converts YAML nodes to the values encoding/json produces
// (numbers as json.Number).
type converter struct {
	// lines, when not nil, records the line of every field by its dotted
	// path. Paths are distinct but for the fields of a top-level key "",
	// which are at the paths of top-level fields.
	lines map[string]int
	// values counts the values visited (an alias and its anchored value
	// count once): as many as lines would have paths.
	values int
}

// visited is the number of values visited so far.
func (c *converter) visited() int {
	if c.lines != nil {
		return len(c.lines)
	}
	return c.values
}

// value converts n, at path (computed only when lines are recorded).
func (c *converter) value(n *yaml.Node, path string) (any, error) {
	c.values++
	return c.convert(n, path)
}

func (c *converter) convert(n *yaml.Node, path string) (any, error) {
	if c.lines != nil {
		c.lines[path] = n.Line
	}
	switch n.Kind {
	case yaml.AliasNode:
		// Every value visited has a path in lines: this bounds what
		// aliases of aliases can expand to ("billion laughs").
		if c.visited() > maxAliasedValues {
			return nil, fmt.Errorf("line %d: YAML aliases expand to more than %d values", n.Line, maxAliasedValues)
		}
		return c.convert(n.Alias, path)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.convert(n.Content[0], path)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping keys must be strings", k.Line)
			}
			if k.Tag == "!!merge" {
				return nil, fmt.Errorf("line %d: YAML merge keys (<<) are not supported", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			var child string
			if c.lines != nil {
				child = childPath(path, k.Value)
			}
			cv, err := c.value(val, child)
			if err != nil {
				return nil, err
			}
			if c.lines != nil {
				c.lines[child] = k.Line
			}
			m[k.Value] = cv
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, e := range n.Content {
			var child string
			if c.lines != nil {
				child = path + "[" + strconv.Itoa(i) + "]"
			}
			cv, err := c.value(e, child)
			if err != nil {
				return nil, err
			}
			s[i] = cv
		}
		return s, nil
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, fmt.Errorf("line %d: %v", n.Line, err)
		}
		return b, nil
	case "!!int", "!!float":
		var f any
		if err := n.Decode(&f); err != nil {
			return nil, fmt.Errorf("line %d: %v", n.Line, err)
		}
		b, err := json.Marshal(f)
		if err != nil {
			return nil, fmt.Errorf("line %d: number %s is not valid JSON", n.Line, n.Value)
		}
		return json.Number(b), nil
	default:
		return n.Value, nil
	}
}

func childPath(parent, key string) string {
	if parent == "" {
		return schemas.Path("/" + escape(key))
	}
	return parent + schemas.Path("/x/" + escape(key))[1:]
}

func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// SortErrors orders errors by file and line.
func SortErrors(errs []error) {
	sort.SliceStable(errs, func(i, j int) bool {
		a, aok := errs[i].(*Error)
		b, bok := errs[j].(*Error)
		if !aok || !bok {
			return aok && !bok
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
}
