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
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

//go:embed *.json
var files embed.FS

// Names of the embedded schema files.
const (
	ADRResources           = "adr-resources.schema.json"
	DatasetConfiguration   = "dataset-configuration.schema.json"
	DataPointConfiguration = "datapoint-configuration.schema.json"
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
	err := v.schema.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{Message: err.Error()}}
	}
	var out []Violation
	collect(ve, &out)
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

func collect(e *jsonschema.ValidationError, out *[]Violation) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collect(c, out)
		}
		return
	}
	path := Path(e.InstanceLocation)
	if m := unknownFields.FindStringSubmatch(e.Message); m != nil {
		for _, name := range quoted.FindAllStringSubmatch(m[1], -1) {
			*out = append(*out, Violation{Path: join(path, name[1]), Message: "unknown field"})
		}
		return
	}
	*out = append(*out, Violation{Path: path, Message: e.Message, pointer: e.InstanceLocation})
}

// lookup resolves a JSON pointer in a decoded document.
func lookup(doc any, pointer string) (any, bool) {
	if pointer == "" {
		return doc, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
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
	plainKey      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
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

// Path turns a JSON pointer ("/spec/datasets/0/name") into the dotted form
// used in error messages ("spec.datasets[0].name").
func Path(pointer string) string {
	if pointer == "" || pointer == "/" {
		return ""
	}
	var b strings.Builder
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		b.WriteString(pathElem(b.Len() == 0, tok))
	}
	return b.String()
}

func join(path, key string) string {
	return path + pathElem(path == "", key)
}

func pathElem(first bool, tok string) string {
	if _, err := strconv.Atoi(tok); err == nil {
		return "[" + tok + "]"
	}
	if !plainKey.MatchString(tok) {
		q, _ := json.Marshal(tok)
		return "[" + string(q) + "]"
	}
	if first {
		return tok
	}
	return "." + tok
}
