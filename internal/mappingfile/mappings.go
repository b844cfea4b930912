// Package mappings reads mapping files: YAML files of named jq mappings for
// datasets and data points, the jq definitions a file's mappings share, and
// test cases. A file is checked against schemas/mapping-file.schema.json,
// checked across fields and each mapping compiled once, with the file's
// definitions and the variables of its kind; every problem names the file,
// line and column, with a caret under a jq fault. A Library holds mappings
// by name: the shipped ones (the YAML files of this folder, embedded) and
// the user's. RunTest runs a mapping's test cases. The mapping contract
// (inputs, variables, what zero or several outputs mean) is in README.md.
package mappingfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/http-connector/http-connector/internal/mapping"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/yamlfile"
	"github.com/http-connector/http-connector/schemas"
)

// File is a read mapping file.
type File struct {
	Path        string // as named in messages
	Namespace   string
	Description string
	Mappings    []*Mapping // in file order
}

// Mapping is a named mapping of a file with its test cases.
type Mapping struct {
	plan.Mapping // Program is nil when it does not compile
	Description  string
	File         string
	Line         int // of its key
	Tests        []*Test
}

// Test is one test case of a mapping.
type Test struct {
	Name      string
	Line      int
	Input     any
	Variables map[string]any // the case's own values; see TestVariables
	// Outputs are the outputs expected, unless Error is set.
	Outputs []any
	// One: the case gave output, not outputs: exactly one is expected.
	One bool
	// Error, if set, is text the expected error contains.
	Error string
}

// TestVariables are the values of the variables a test case does not set.
func TestVariables() map[string]any {
	return map[string]any{
		"asset":           "test-asset",
		"dataset":         "test-dataset",
		"dataPoint":       "test-data-point",
		"timestamp":       "2026-01-01T12:00:00.000Z",
		"assetAttributes": map[string]any{},
	}
}

// Error is a problem in a mapping file.
type Error = yamlfile.Error

// SortErrors orders errors by file, line and column; others go last.
func SortErrors(errs []error) { yamlfile.SortErrors(errs) }

// Reader reads mapping files; it holds the compiled mapping file schema.
type Reader struct {
	schema *schemas.Validator
}

// NewReader compiles the mapping file schema.
func NewReader() (*Reader, error) {
	v, err := schemas.Compile(schemas.MappingFile)
	if err != nil {
		return nil, err
	}
	return &Reader{schema: v}, nil
}

// Read parses, checks and compiles one mapping file. The file is returned
// whenever its mappings could be named, even with errors, so that the
// library knows the names it was meant to hold; a mapping that does not
// compile has no Program.
func (r *Reader) Read(file string, data []byte) (*File, []error) {
	fail := func(line, col int, msg string) []error {
		return []error{&Error{File: file, Line: line, Column: col, Message: msg}}
	}
	const empty = "empty file: expected a mapping file with namespace and mappings"
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fail(0, 0, empty)
	}
	docs, errs := yamlfile.Read(file, data)
	switch {
	case len(errs) > 0:
		return nil, errs
	case len(docs) == 0:
		return nil, fail(0, 0, empty)
	case len(docs) > 1:
		return nil, fail(docs[1].Line, 0, "a mapping file holds one YAML document")
	}
	d := &document{file: file, fields: docs[0].Fields()}
	v := docs[0].Value
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fail(docs[0].Line, docs[0].Column, "a mapping file is a YAML mapping with namespace and mappings")
	}
	for _, viol := range r.schema.Validate(obj) {
		p := d.fields.At(viol.Path)
		errs = append(errs, &Error{File: file, Line: p.Line, Column: p.Column, Path: viol.Path, Message: viol.Message})
	}
	f := d.decode(obj)
	if f == nil {
		return nil, errs
	}
	f.Path = file
	return f, append(errs, d.check(f, obj)...)
}

// decode builds the file and its mappings from a value, without programs
// and tests; when the schema found problems it keeps to what can be named.
func (d *document) decode(obj map[string]any) *File {
	ns, _ := obj["namespace"].(string)
	ms, _ := obj["mappings"].(map[string]any)
	if ns == "" || ms == nil {
		return nil
	}
	f := &File{Namespace: ns}
	f.Description, _ = obj["description"].(string)
	names := slices.Collect(maps.Keys(ms))
	d.fields.Order("mappings", names)
	for _, name := range names {
		raw, _ := ms[name].(map[string]any)
		kind, _ := raw["kind"].(string)
		if raw == nil || (kind != string(plan.DatasetMapping) && kind != string(plan.DataPointMapping)) {
			continue
		}
		path := schemas.Path("/mappings/" + escape(name))
		m := &Mapping{File: d.file, Line: d.fields.At(path).Line}
		m.Name = ns + "/" + name
		m.Kind = plan.MappingKind(kind)
		m.Where = fmt.Sprintf("%s:%d", d.file, m.Line)
		m.Description, _ = raw["description"].(string)
		f.Mappings = append(f.Mappings, m)
	}
	return f
}

func pathElem(key string) string { return schemas.Path("/x/" + escape(key))[1:] }

func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// check compiles the definitions and mappings and reads the test cases.
func (d *document) check(f *File, obj map[string]any) []error {
	var errs []error
	defs, _ := obj["definitions"].(string)
	defsOK := true
	if defs != "" {
		// Checked on their own so that a fault in them is reported once.
		if _, err := mapping.Compile(".", mapping.Options{Variables: plan.PointVariables, Definitions: defs}); err != nil {
			var se *mapping.SyntaxError
			if errors.As(err, &se) && se.Source != defs {
				// The parser read past the definitions: the last one is
				// not closed.
				end := len(strings.TrimRight(defs, " \t\r\n"))
				err = &mapping.SyntaxError{Source: defs, Offset: end, Msg: `the definitions end inside a def: each def ends with ";"`}
			}
			errs = append(errs, d.jqError("definitions", "", defs, err))
			defsOK = false
		}
	}
	ms, _ := obj["mappings"].(map[string]any)
	for _, m := range f.Mappings {
		local := strings.TrimPrefix(m.Name, f.Namespace+"/")
		path := "mappings" + pathElem(local)
		raw := ms[local].(map[string]any)
		context := fmt.Sprintf("mapping %q", m.Name)
		src, _ := raw["jq"].(string)
		sum := sha256.Sum256([]byte(string(m.Kind) + "\x00" + defs + "\x00" + src))
		m.Fingerprint = hex.EncodeToString(sum[:])
		tests, terrs := d.tests(m, path, raw)
		m.Tests = tests
		errs = append(errs, terrs...)
		if src == "" {
			continue // the schema said so
		}
		if !defsOK {
			// Without working definitions only the mapping's own syntax
			// can be checked.
			var se *mapping.SyntaxError
			if _, err := mapping.Compile(src, mapping.Options{Variables: m.Kind.Variables()}); errors.As(err, &se) {
				errs = append(errs, d.jqError(path+".jq", context, src, err))
			}
			continue
		}
		prog, err := mapping.Compile(src, mapping.Options{Variables: m.Kind.Variables(), Definitions: defs})
		switch {
		case err != nil:
			e := d.jqError(path+".jq", context, src, err)
			if _, inDefs := locate(src, err); !inDefs && defs != "" {
				if _, found := locate(defs, err); found {
					e = d.jqError("definitions", context, defs, err)
					if m.Kind == plan.DatasetMapping && strings.HasSuffix(err.Error(), "variable not defined: $dataPoint") {
						e.Message += " (jq compiles every definition with each mapping, and dataset mappings have no $dataPoint: keep such definitions in a file of data point mappings)"
					}
				}
			}
			errs = append(errs, e)
		default:
			m.Program = prog
		}
	}
	return errs
}

// jqError reports a compile error of the jq at path, with the position of
// the fault in the file when it is known.
func (d *document) jqError(path, context, src string, err error) *Error {
	start, held := d.fields.Value(path)
	e := &Error{File: d.file, Context: context, Path: path, Message: err.Error(), Line: start.Line, Column: start.Column}
	var se *mapping.SyntaxError
	if errors.As(err, &se) {
		e.Message = "jq syntax error: " + se.Msg
	}
	off, found := locate(src, err)
	if !held || !found {
		return e
	}
	// The end of input is just after the last character, not on the
	// empty line a block scalar ends with.
	off = min(off, len(strings.TrimRight(src, " \t\r\n")))
	p, exact := d.fields.InString(path, off)
	e.Line, e.Column = p.Line, p.Column
	if exact {
		e.Detail = d.fields.Caret(p)
	} else if se != nil {
		e.Detail = se.Snippet()
	}
	return e
}

var notDefined = regexp.MustCompile(`(function|variable) not defined: (\$?[A-Za-z_][A-Za-z0-9_]*)(/[0-9]+)?`)

// locate finds the byte offset in src of the fault err reports: the
// position of a syntax error, or the first use of an undefined function or
// variable.
func locate(src string, err error) (int, bool) {
	var se *mapping.SyntaxError
	if errors.As(err, &se) {
		return se.Offset, se.Source == src
	}
	m := notDefined.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	name := regexp.QuoteMeta(m[2])
	var re *regexp.Regexp
	if m[1] == "variable" {
		re = regexp.MustCompile(name + `\b`)
	} else {
		// A call, not a definition, a field (.name) or an object key (name:).
		re = regexp.MustCompile(`(^|[^.$A-Za-z0-9_])` + name + `\b`)
	}
	for _, loc := range re.FindAllStringSubmatchIndex(src, -1) {
		start := loc[0]
		if m[1] != "variable" {
			start = loc[3]
			before := strings.TrimRight(src[:start], " \t")
			after := strings.TrimLeft(src[loc[1]:], " \t")
			if strings.HasSuffix(before, "def") || strings.HasPrefix(after, ":") && !strings.HasPrefix(after, "::") {
				continue
			}
		}
		return start, true
	}
	return 0, false
}

// parseBody parses a test case's response body as its format (and
// contentType) say, as a dataset would.
func parseBody(body string, obj map[string]any) (any, error) {
	p, err := plan.FormatParser(obj)
	if err != nil {
		return nil, err
	}
	ct, _ := obj["contentType"].(string)
	return p.Parse([]byte(body), ct)
}

// tests reads the test cases of a mapping.
func (d *document) tests(m *Mapping, path string, raw map[string]any) ([]*Test, []error) {
	list, _ := raw["tests"].([]any)
	var out []*Test
	var errs []error
	context := fmt.Sprintf("mapping %q", m.Name)
	names := map[string]int{}
	for i, item := range list {
		tpath := fmt.Sprintf("%s.tests[%d]", path, i)
		obj, ok := item.(map[string]any)
		if !ok {
			continue // the schema said so
		}
		problem := func(p, format string, args ...any) {
			pos := d.fields.At(p)
			errs = append(errs, &Error{File: d.file, Line: pos.Line, Column: pos.Column, Context: context, Path: p, Message: fmt.Sprintf(format, args...)})
		}
		t := &Test{Line: d.fields.At(tpath).Line, Input: obj["input"]}
		t.Name, _ = obj["name"].(string)
		if body, ok := obj["body"].(string); ok {
			if _, both := obj["input"]; both {
				problem(tpath+".body", "give input or body, not both")
				continue
			}
			v, err := parseBody(body, obj)
			if err != nil {
				problem(tpath+".body", "%v", err)
				continue
			}
			t.Input = v
		} else if _, ok := obj["input"]; !ok {
			problem(tpath, "give the input, or a response body")
			continue
		}
		if j, dup := names[t.Name]; dup && t.Name != "" {
			problem(tpath+".name", "duplicate test name %q (also tests[%d])", t.Name, j)
		}
		names[t.Name] = i
		if vars, ok := obj["variables"].(map[string]any); ok {
			t.Variables = vars
			if _, ok := vars["dataPoint"]; ok && m.Kind == plan.DatasetMapping {
				problem(tpath+".variables.dataPoint", "a dataset mapping has no $dataPoint")
			}
		}
		var given []string
		for _, k := range []string{"output", "outputs", "error"} {
			if _, ok := obj[k]; ok {
				given = append(given, k)
			}
		}
		switch {
		case len(given) == 0:
			problem(tpath, "give the expected output, outputs or error")
			continue
		case len(given) > 1:
			problem(tpath+"."+given[1], "give one of output, outputs and error, not %s", strings.Join(given, " and "))
			continue
		}
		switch given[0] {
		case "output":
			t.Outputs, t.One = []any{obj["output"]}, true
		case "outputs":
			if m.Kind == plan.DataPointMapping {
				problem(tpath+".outputs", "a data point mapping gives exactly one value: use output (or error)")
				continue
			}
			t.Outputs, _ = obj["outputs"].([]any)
			if t.Outputs == nil {
				t.Outputs = []any{}
			}
		case "error":
			t.Error, _ = obj["error"].(string)
		}
		out = append(out, t)
	}
	return out, errs
}
