// Package schemas holds the JSON Schemas of everything a user writes (Device
// and Asset resource files, dataset and data point configuration, mapping
// files) and the connector metadata, embedded in the binary. The engine
// validates with these same files, so the documentation cannot drift from
// what the code reads.
package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

//go:embed *.json
var files embed.FS

// Names of the embedded schema files.
const (
	ADRResources           = "adr-resources.schema.json"
	DatasetConfiguration   = "dataset-configuration.schema.json"
	DataPointConfiguration = "datapoint-configuration.schema.json"
	EndpointConfiguration  = "endpoint-configuration.schema.json"
	ActionConfiguration    = "action-configuration.schema.json"
	MappingFile            = "mapping-file.schema.json"
	ConnectorMetadata      = "connector-metadata.json"
)

const baseURL = "https://http-connector.invalid/schemas/"

// File returns the bytes of an embedded file.
func File(name string) ([]byte, error) {
	return fs.ReadFile(files, name)
}

// FS is the folder of embedded schema files.
func FS() fs.FS { return files }

// Validator checks documents against one compiled schema.
type Validator struct {
	schema *jsonschema.Schema
}

// Compile compiles the embedded schema name, optionally with a JSON pointer
// fragment ("adr-resources.schema.json#/definitions/asset").
func Compile(name string) (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft7
	c.AssertFormat = true
	c.LoadURL = func(u string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("schema %s: remote references are not loaded", u)
	}
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := fs.ReadFile(files, e.Name())
		if err != nil {
			return nil, err
		}
		if err := c.AddResource(baseURL+e.Name(), bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("schema %s: %w", e.Name(), err)
		}
	}
	s, err := c.Compile(baseURL + name)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	return &Validator{schema: s}, nil
}

// Violation is one way a document breaks its schema.
type Violation struct {
	Path    string // dotted path into the document: spec.datasets[0].name
	Message string
	pointer string
}

func (v Violation) Error() string {
	if v.Path == "" {
		return v.Message
	}
	return v.Path + ": " + v.Message
}

// Validate returns every violation of doc, sorted by path. doc must hold
// JSON values as encoding/json decodes them (numbers as float64 or json.Number).
func (v *Validator) Validate(doc any) []Violation {
	if valid(v.schema, doc, 0) {
		return nil
	}
	err := v.schema.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{Message: err.Error()}}
	}
	var out []Violation
	collect(ve, doc, &out)
	for i := range out {
		if strings.HasPrefix(out[i].Message, "value must be") {
			if v, ok := lookup(doc, out[i].pointer); ok {
				if b, err := json.Marshal(v); err == nil && len(b) <= 80 {
					out[i].Message += ", got " + string(b)
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return dedupe(out)
}

// maxValidDepth bounds the recursion of valid; deeper documents (or
// schemas that refer to themselves without going deeper into the document)
// are left to the library.
const maxValidDepth = 1000

// valid reports whether v certainly satisfies s, as the library would find
// it, without the cost of the library's bookkeeping for errors (most
// documents are valid). It reports false when v breaks s, and whenever s
// uses a keyword valid does not check: the library then decides, and names
// the problems.
func valid(s *jsonschema.Schema, v any, depth int) bool {
	if depth > maxValidDepth {
		return false
	}
	if s.Always != nil {
		return *s.Always
	}
	if !checked(s) {
		return false
	}
	if len(s.Types) > 0 && !validType(s.Types, v) {
		return false
	}
	if len(s.Constant) > 0 && !sameScalar(v, s.Constant[0]) {
		return false
	}
	if len(s.Enum) > 0 && !slices.ContainsFunc(s.Enum, func(e any) bool { return sameScalar(v, e) }) {
		return false
	}
	var ok bool
	switch v := v.(type) {
	case map[string]any:
		ok = validObject(s, v, depth)
	case []any:
		ok = validArray(s, v, depth)
	case string:
		ok = validString(s, v)
	case json.Number, float64:
		ok = validNumber(s, v)
	case nil, bool:
		ok = true
	default:
		return false // not a JSON value as encoding/json decodes them
	}
	return ok && validApplicators(s, v, depth)
}

func validObject(s *jsonschema.Schema, v map[string]any, depth int) bool {
	if (s.MinProperties != -1 && len(v) < s.MinProperties) || (s.MaxProperties != -1 && len(v) > s.MaxProperties) {
		return false
	}
	for _, name := range s.Required {
		if _, ok := v[name]; !ok {
			return false
		}
	}
	for name, pv := range v {
		if ps, ok := s.Properties[name]; ok {
			if !valid(ps, pv, depth+1) {
				return false
			}
			continue
		}
		switch more := s.AdditionalProperties.(type) {
		case nil:
		case bool:
			if !more {
				return false
			}
		case *jsonschema.Schema:
			if !valid(more, pv, depth+1) {
				return false
			}
		default:
			return false
		}
	}
	if s.PropertyNames != nil {
		for name := range v {
			if !valid(s.PropertyNames, name, depth+1) {
				return false
			}
		}
	}
	return true
}

func validArray(s *jsonschema.Schema, v []any, depth int) bool {
	if (s.MinItems != -1 && len(v) < s.MinItems) || (s.MaxItems != -1 && len(v) > s.MaxItems) {
		return false
	}
	switch items := s.Items.(type) {
	case nil:
	case *jsonschema.Schema:
		for _, it := range v {
			if !valid(items, it, depth+1) {
				return false
			}
		}
	default:
		return false
	}
	return true
}

func validString(s *jsonschema.Schema, v string) bool {
	if s.MinLength != -1 || s.MaxLength != -1 {
		n := utf8.RuneCountInString(v)
		if (s.MinLength != -1 && n < s.MinLength) || (s.MaxLength != -1 && n > s.MaxLength) {
			return false
		}
	}
	return s.Pattern == nil || s.Pattern.MatchString(v)
}

func validNumber(s *jsonschema.Schema, v any) bool {
	if s.Minimum == nil && s.Maximum == nil && s.ExclusiveMinimum == nil && s.ExclusiveMaximum == nil {
		return true
	}
	n, ok := number(v)
	return ok &&
		(s.Minimum == nil || n.Cmp(s.Minimum) >= 0) &&
		(s.ExclusiveMinimum == nil || n.Cmp(s.ExclusiveMinimum) > 0) &&
		(s.Maximum == nil || n.Cmp(s.Maximum) <= 0) &&
		(s.ExclusiveMaximum == nil || n.Cmp(s.ExclusiveMaximum) < 0)
}

// validApplicators checks $ref, allOf and anyOf.
func validApplicators(s *jsonschema.Schema, v any, depth int) bool {
	if s.Ref != nil && !valid(s.Ref, v, depth+1) {
		return false
	}
	for _, sub := range s.AllOf {
		if !valid(sub, v, depth+1) {
			return false
		}
	}
	return len(s.AnyOf) == 0 || slices.ContainsFunc(s.AnyOf, func(sub *jsonschema.Schema) bool { return valid(sub, v, depth+1) })
}

// checked reports whether valid checks every keyword s has.
func checked(s *jsonschema.Schema) bool {
	return s.Format == "" && s.RecursiveRef == nil && s.DynamicRef == nil &&
		s.Not == nil && len(s.OneOf) == 0 && s.If == nil &&
		!s.RegexProperties && len(s.PatternProperties) == 0 &&
		len(s.Dependencies) == 0 && len(s.DependentRequired) == 0 && len(s.DependentSchemas) == 0 &&
		s.UnevaluatedProperties == nil && s.UnevaluatedItems == nil &&
		!s.UniqueItems && s.AdditionalItems == nil && len(s.PrefixItems) == 0 && s.Items2020 == nil &&
		s.Contains == nil && s.ContentEncoding == "" && s.ContentMediaType == "" && s.ContentSchema == nil &&
		s.MultipleOf == nil && len(s.Extensions) == 0
}

// validType is the library's type check.
func validType(types []string, v any) bool {
	var vt string
	switch v.(type) {
	case nil:
		vt = "null"
	case bool:
		vt = "boolean"
	case json.Number, float64:
		vt = "number"
	case string:
		vt = "string"
	case []any:
		vt = "array"
	case map[string]any:
		vt = "object"
	default:
		return false
	}
	for _, t := range types {
		if t == vt {
			return true
		}
		if t == "integer" && vt == "number" {
			if n, ok := number(v); ok && n.IsInt() {
				return true
			}
		}
	}
	return false
}

// number is the library's reading of a number.
func number(v any) (*big.Rat, bool) {
	if n, ok := v.(json.Number); ok && isNumber(string(n)) && len(n) < 19 {
		i, _ := strconv.ParseInt(string(n), 10, 64)
		return new(big.Rat).SetInt64(i), true
	}
	return new(big.Rat).SetString(fmt.Sprint(v))
}

// sameScalar reports whether v certainly equals the string, boolean or null
// c of a const or enum, as the library compares them.
func sameScalar(v, c any) bool {
	switch c := c.(type) {
	case string:
		s, ok := v.(string)
		return ok && s == c
	case bool:
		b, ok := v.(bool)
		return ok && b == c
	case nil:
		return v == nil
	}
	return false
}

func collect(e *jsonschema.ValidationError, doc any, out *[]Violation) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collect(c, doc, out)
		}
		return
	}
	path := Path(e.InstanceLocation)
	if m := unknownFields.FindStringSubmatch(e.Message); m != nil {
		for _, name := range unknownNames(m[1], doc, e.InstanceLocation) {
			*out = append(*out, Violation{Path: join(path, name), Message: "unknown field"})
		}
		return
	}
	*out = append(*out, Violation{Path: path, Message: e.Message, pointer: e.InstanceLocation})
}

// unknownNames are the fields that the library's list (" 'a', 'b' ")
// names. The list is read against the object's own keys, since a name may
// itself hold a quote or a comma: every key whose quoted form the list
// holds, sorted, so that the report is the same at every run whatever
// order the library listed them in.
func unknownNames(list string, doc any, pointer string) []string {
	obj, ok := lookup(doc, pointer)
	m, isObj := obj.(map[string]any)
	if !ok || !isObj {
		var names []string
		for _, q := range quoted.FindAllStringSubmatch(list, -1) {
			names = append(names, q[1])
		}
		return names
	}
	var names []string
	for k := range m {
		if strings.Contains(list, libraryQuoted(k)) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

// libraryQuoted is a name as the library lists it: Go-quoted, with its
// double quotes bare and its single quotes escaped, between single quotes.
func libraryQuoted(name string) string {
	q := strconv.Quote(name)
	q = strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`)
	return "'" + strings.ReplaceAll(q, "'", `\'`) + "'"
}

// lookup resolves a JSON pointer in a decoded document.
func lookup(doc any, pointer string) (any, bool) {
	if pointer == "" {
		return doc, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = pointerToken(tok)
		switch v := doc.(type) {
		case map[string]any:
			var ok bool
			if doc, ok = v[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			doc = v[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

var (
	unknownFields = regexp.MustCompile(`^additionalProperties (.*) not allowed$`)
	quoted        = regexp.MustCompile(`'([^']*)'`)
)

func dedupe(vs []Violation) []Violation {
	out := vs[:0]
	for i, v := range vs {
		if i > 0 && v == vs[i-1] {
			continue
		}
		out = append(out, v)
	}
	return out
}

// PointerToken escapes a key as one token of a pointer that Path reads.
func PointerToken(key string) string {
	return url.PathEscape(strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1"))
}

// pointerToken reads one token of a JSON pointer as the library writes them:
// ~0 and ~1 for ~ and /, then percent-escaped as in a URL fragment ("7 CB"
// is 7%20CB).
func pointerToken(tok string) string {
	if strings.IndexByte(tok, '%') >= 0 {
		if u, err := url.PathUnescape(tok); err == nil {
			tok = u
		}
	}
	if strings.IndexByte(tok, '~') >= 0 {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
	}
	return tok
}

// Path turns a JSON pointer ("/spec/datasets/0/name"), its tokens escaped
// as the library escapes them (PointerToken), into the dotted form used in
// error messages ("spec.datasets[0].name").
func Path(pointer string) string {
	if pointer == "" || pointer == "/" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(pointer) + 8)
	rest := strings.TrimPrefix(pointer, "/")
	for {
		tok, more, found := strings.Cut(rest, "/")
		writeElem(&b, b.Len() == 0, pointerToken(tok))
		if !found {
			return b.String()
		}
		rest = more
	}
}

func join(path, key string) string {
	var b strings.Builder
	b.WriteString(path)
	writeElem(&b, path == "", key)
	return b.String()
}

// writeElem writes one element of a dotted path: .key (key alone when
// first), [3] for a number, ["a b"] for any other key.
func writeElem(b *strings.Builder, first bool, tok string) {
	switch {
	case plainKey(tok): // never a number: it starts with a letter or _
		if !first {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	case isNumber(tok):
		b.WriteByte('[')
		b.WriteString(tok)
		b.WriteByte(']')
	default:
		q, _ := json.Marshal(tok)
		b.WriteByte('[')
		b.Write(q)
		b.WriteByte(']')
	}
}

// plainKey reports whether key matches [A-Za-z_][A-Za-z0-9_-]*.
func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case '0' <= c && c <= '9', c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// isNumber reports whether strconv.Atoi accepts tok.
func isNumber(tok string) bool {
	digits := strings.TrimLeft(tok, "+-")
	if len(tok)-len(digits) > 1 || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return false
	}
	_, err := strconv.Atoi(tok) // out of range
	return err == nil
}
