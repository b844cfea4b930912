// Package yamlfile reads YAML and JSON files into the values encoding/json
// produces for the same data (objects as map[string]any, numbers as
// json.Number) and says where each field is, for messages that name a file,
// line and column. It is the one reader of the connector's resource files
// and mapping files, so both refuse the same things the same way: text that
// is not UTF-8, keys that are not strings, duplicate keys, merge keys (<<),
// tags other than YAML's own, and aliases that expand to more than
// MaxAliasedValues values (a "billion laughs" file is refused in
// milliseconds instead of filling memory).
package yamlfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/http-connector/http-connector/schemas"
)

// MaxAliasedValues bounds the values that the aliases of one document may
// stand for, counted as often as they are used. A document without aliases
// has no bound but its size.
const MaxAliasedValues = 100000

// Position is a place in a file; numbers start at 1, 0 is unknown.
type Position struct{ Line, Column int }

// Error is a problem in a file, at a position and a field.
type Error struct {
	File    string
	Line    int
	Column  int    // 0: the line is enough
	Context string // what the problem is about: `asset "a" dataset "d"`
	Path    string // the field: spec.datasets[0].name
	Message string
	Detail  string // optional extra lines: the faulty line with a caret
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
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

// SortErrors orders errors by file, line and column, keeping the order of
// equals; errors that are not *Error go last.
func SortErrors(errs []error) {
	sort.SliceStable(errs, func(i, j int) bool {
		var a, b *Error
		aok, bok := errors.As(errs[i], &a), errors.As(errs[j], &b)
		if !aok || !bok {
			return aok && !bok
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// Document is one document of a file.
type Document struct {
	// Value is the document's data: map[string]any, []any, string,
	// json.Number, bool or nil.
	Value any
	// Position is where the document's top value starts.
	Position
	src    *source
	index  int // of the document in the file
	fields func() *Fields
}

// Fields says where the document's fields are. They are found the first
// time they are asked for (the file is parsed again then): most documents
// have no problem to report.
func (d *Document) Fields() *Fields { return d.fields() }

// source is a file, kept for finding fields again.
type source struct {
	name string
	data []byte
}

// Read parses the documents of a file. Documents come in file order, each
// with its value; a document that cannot be converted (an alias bomb, a
// duplicate key) is left out and its error returned. A YAML syntax error
// ends the file: the documents before it are returned with it. A file with
// nothing but white space and comments has no documents.
func Read(file string, data []byte) ([]*Document, []error) {
	if err := checkUTF8(file, data); err != nil {
		return nil, []error{err}
	}
	src := &source{name: file, data: data}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*Document
	var errs []error
	for i := 0; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, syntaxError(file, err))
			break
		}
		if len(doc.Content) == 0 || empty(doc.Content[0]) {
			continue
		}
		top := doc.Content[0]
		c := &converter{file: file}
		v, err := c.value(top)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d := &Document{Value: v, Position: Position{top.Line, top.Column}, src: src, index: i}
		d.fields = sync.OnceValue(func() *Fields { return src.fields(d.index) })
		docs = append(docs, d)
	}
	return docs, errs
}

// empty reports whether a document holds nothing (comments at most).
func empty(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" && n.Style == 0
}

var lineMessage = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a YAML parser error into an *Error at its line.
func syntaxError(file string, err error) error {
	kind := "invalid YAML: "
	if strings.EqualFold(path.Ext(file), ".json") {
		kind = "invalid JSON: "
	}
	msg := err.Error()
	e := &Error{File: file, Message: kind + strings.TrimPrefix(msg, "yaml: ")}
	if m := lineMessage.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Message = kind + m[2]
	}
	return e
}

// checkUTF8 reports where a file that is not UTF-8 text goes wrong (a
// UTF-16 file with its byte order mark is left to the YAML parser).
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
	return &Error{File: file, Line: line, Column: col, Message: fmt.Sprintf("not UTF-8 text: byte 0x%02x", data[off])}
}

// converter converts YAML nodes to JSON values.
type converter struct {
	file string
	// stack holds the keys and indexes of the value being converted.
	stack []string
	// aliasing counts the aliases being expanded (nested); aliased counts
	// the values visited while one was; outer is the outermost alias being
	// expanded and outerPath its path: where a bomb is reported.
	aliasing  int
	aliased   int
	outer     *yaml.Node
	outerPath string
	// record, if set, is told the path of every value and key.
	record func(path string, key, value *yaml.Node)
}

// path is the dotted path of the value being converted.
func (c *converter) path() string {
	var b strings.Builder
	for _, tok := range c.stack {
		b.WriteString(join(b.Len() == 0, tok))
	}
	return b.String()
}

func (c *converter) fail(n *yaml.Node, format string, args ...any) error {
	return &Error{File: c.file, Line: n.Line, Column: n.Column, Path: c.path(), Message: fmt.Sprintf(format, args...)}
}

func (c *converter) value(n *yaml.Node) (any, error) { return c.at(n) }

func (c *converter) at(n *yaml.Node) (any, error) {
	if c.aliasing > 0 {
		if c.aliased++; c.aliased > MaxAliasedValues {
			return nil, &Error{File: c.file, Line: c.outer.Line, Column: c.outer.Column, Path: c.outerPath,
				Message: fmt.Sprintf("YAML aliases expand to more than %d values", MaxAliasedValues)}
		}
	}
	if c.record != nil && n.Kind != yaml.AliasNode {
		c.record(c.path(), nil, n) // an alias is where its anchor is
	}
	switch n.Kind {
	case yaml.AliasNode:
		if c.aliasing == 0 {
			c.outer, c.outerPath = n, c.path()
		}
		c.aliasing++
		defer func() { c.aliasing-- }()
		return c.at(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, c.fail(k, "mapping keys must be strings")
			}
			if k.Tag == "!!merge" {
				return nil, c.fail(k, "YAML merge keys (<<) are not supported")
			}
			c.stack = append(c.stack, k.Value)
			if _, dup := m[k.Value]; dup {
				return nil, c.fail(k, "duplicate key %q (also line %d)", k.Value, firstKey(n, k.Value).Line)
			}
			if c.record != nil {
				c.record(c.path(), k, nil)
			}
			v, err := c.at(val)
			if err != nil {
				return nil, err
			}
			c.stack = c.stack[:len(c.stack)-1]
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, e := range n.Content {
			c.stack = append(c.stack, strconv.Itoa(i))
			v, err := c.at(e)
			if err != nil {
				return nil, err
			}
			c.stack = c.stack[:len(c.stack)-1]
			s[i] = v
		}
		return s, nil
	case yaml.ScalarNode:
		return c.scalar(n)
	}
	return nil, c.fail(n, "unsupported YAML node")
}

func firstKey(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return m
}

func (c *converter) scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, c.fail(n, "%v", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return b, nil
	case "!!int", "!!float":
		// A number keeps its text when it is JSON already (71.30 stays
		// 71.30, as in a response); YAML's own forms (0x1F, 1_000, .5)
		// are written out as JSON.
		if json.Valid([]byte(n.Value)) {
			return json.Number(n.Value), nil
		}
		var f any
		if err := n.Decode(&f); err != nil {
			return nil, c.fail(n, "%v", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		b, err := json.Marshal(f)
		if err != nil {
			return nil, c.fail(n, "number %s is not valid JSON", n.Value)
		}
		return json.Number(b), nil
	case "!!str", "!!binary", "!!timestamp":
		return n.Value, nil
	default:
		return nil, c.fail(n, "YAML tag %s is not supported", n.Tag)
	}
}

func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// Fields are the fields of a document: where their keys and values are.
// Paths are dotted, as schemas.Path writes them: spec.datasets[0].name,
// mappings["a b"].jq; the document itself is "".
type Fields struct {
	keys   map[string]*yaml.Node
	values map[string]*yaml.Node
	lines  []string
}

// fields parses the file again and records the fields of document i.
func (s *source) fields(i int) *Fields {
	f := &Fields{keys: map[string]*yaml.Node{}, values: map[string]*yaml.Node{}, lines: strings.Split(string(s.data), "\n")}
	dec := yaml.NewDecoder(bytes.NewReader(s.data))
	for k := 0; k <= i; k++ {
		var doc yaml.Node
		if dec.Decode(&doc) != nil {
			return f
		}
		if k < i || len(doc.Content) == 0 {
			continue
		}
		c := &converter{file: s.name, record: func(p string, key, value *yaml.Node) {
			if key != nil {
				f.keys[p] = key
			} else if _, ok := f.values[p]; !ok {
				f.values[p] = value // an alias's expansion does not move it
			}
		}}
		_, _ = c.value(doc.Content[0])
	}
	return f
}

// join writes one element of a dotted path as schemas.Path does; the key
// "" is written [""], so that it is not taken for its parent.
func join(first bool, tok string) string {
	if tok == "" {
		return `[""]`
	}
	p := schemas.Path("/" + escape(tok))
	if !first && !strings.HasPrefix(p, "[") {
		return "." + p
	}
	return p
}

// At is where the field at path is: its key when it has one, else its
// value; for a path the file does not hold, the deepest field on the way
// that it does (a field inside a configuration string, say).
func (f *Fields) At(path string) Position {
	for p := path; ; {
		if k, ok := f.keys[p]; ok {
			return Position{k.Line, k.Column}
		}
		if n, ok := f.values[p]; ok {
			return Position{n.Line, n.Column}
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			if p == "" {
				return Position{1, 1}
			}
			p = ""
			continue
		}
		p = p[:i]
	}
}

// Value is where the value at path is, and whether the file holds it.
func (f *Fields) Value(path string) (Position, bool) {
	n, ok := f.values[path]
	if !ok {
		return Position{}, false
	}
	return Position{n.Line, n.Column}, true
}

// Order sorts the keys of the object at path into file order.
func (f *Fields) Order(path string, keys []string) {
	child := func(k string) string { return path + join(path == "", k) }
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := f.keys[child(keys[i])], f.keys[child(keys[j])]
		if a == nil || b == nil {
			return keys[i] < keys[j]
		}
		return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
	})
}

// InString is where byte off of the string value at path is in the file.
// exact is false when the position is only the start of the value: the
// text of folded and multi-line flow scalars is moved around by YAML, and
// escapes move that of quoted ones; literal block scalars (|) and plain
// one-line ones are exact.
func (f *Fields) InString(path string, off int) (p Position, exact bool) {
	n, ok := f.values[path]
	if !ok {
		return f.At(path), false
	}
	start := Position{n.Line, n.Column}
	v := n.Value
	off = max(0, min(off, len(v)))
	lineIdx := strings.Count(v[:off], "\n")
	from := strings.LastIndexByte(v[:off], '\n') + 1
	col := utf8.RuneCountInString(v[from:off]) // 0-based, in characters
	lines := strings.Split(v, "\n")
	switch {
	case n.Style&yaml.LiteralStyle != 0:
		// Content line k is on the file line after the indicator + k.
		for k, c := range lines {
			if strings.TrimSpace(c) == "" {
				continue
			}
			raw, ok := f.line(n.Line + 1 + k)
			if !ok || !strings.HasSuffix(raw, c) {
				return start, false
			}
			indent := utf8.RuneCountInString(raw) - utf8.RuneCountInString(c)
			return Position{n.Line + 1 + lineIdx, indent + col + 1}, true
		}
		return start, false
	case n.Style&yaml.FoldedStyle != 0 || len(lines) > 1:
		return start, false
	}
	// A one-line plain or quoted scalar: check that the file holds the
	// text where the node says.
	raw, okLine := f.line(n.Line)
	quote := 0
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		quote = 1
	}
	runes := []rune(raw)
	at := n.Column - 1 + quote
	if !okLine || at > len(runes) || !strings.HasPrefix(string(runes[at:]), v[:off]) {
		return start, false
	}
	return Position{n.Line, at + col + 1}, true
}

func (f *Fields) line(l int) (string, bool) {
	if l < 1 || l > len(f.lines) {
		return "", false
	}
	return strings.TrimSuffix(f.lines[l-1], "\r"), true
}

// Caret draws line p.Line of the file with a caret under column p.Column:
//
//	7 |       {temperature: .t | f2c)}
//	  |                             ^
func (f *Fields) Caret(p Position) string {
	raw, ok := f.line(p.Line)
	if !ok {
		return ""
	}
	var pad strings.Builder
	for i, r := range []rune(raw) {
		if i >= p.Column-1 {
			break
		}
		if r == '\t' {
			pad.WriteByte('\t')
		} else {
			pad.WriteByte(' ')
		}
	}
	num := strconv.Itoa(p.Line)
	gutter := strings.Repeat(" ", len(num))
	return fmt.Sprintf(" %s | %s\n %s | %s^", num, raw, gutter, pad.String())
}
