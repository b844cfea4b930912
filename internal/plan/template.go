package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/placeholder"
)

// Placeholder names of what changes from one sample to the next.
const (
	RefNow       = "now"       // the sample's time
	RefPrevious  = "previous"  // the last successful sample's time (or the start of the first window)
	RefCursor    = "cursor"    // what the last successful sample's cursor jq gave
	RefAttribute = "attribute" // ${attribute:NAME}: the asset's attribute, fixed when the configuration loads
)

// Time formats of ${now:…} and ${previous:…}.
var timeFormats = map[string]bool{"": true, "rfc3339": true, "rfc3339ms": true, "unix": true, "unixms": true}

// FormatTime writes t as a time placeholder's argument asks.
func FormatTime(t time.Time, format string) string {
	switch format {
	case "unix":
		return strconv.FormatInt(t.Unix(), 10)
	case "unixms":
		return strconv.FormatInt(t.UnixMilli(), 10)
	case "rfc3339ms":
		return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	return t.UTC().Format(time.RFC3339)
}

// Template is a request whose URL, query, headers or body change from one
// sample to the next: it is rendered for every sample. Its placeholders are
// the time ones, ${cursor} and the secrets; the asset's attributes are
// filled in when the configuration loads.
type Template struct {
	Method   string
	Endpoint *Endpoint
	Path     placeholder.Text // the dataSource without its query; values are path-escaped
	Query    []Param          // the dataSource's query and the configuration's, in order
	Header   []Param
	Body     *JSONTemplate // nil: no body
	BodyText *placeholder.Text
}

// Vars are the values of a sample's placeholders.
type Vars struct {
	Now, Previous time.Time
	Cursor        string
	// Secrets gives the secret placeholders.
	Secrets func(placeholder.Ref) (string, error)
}

func (v Vars) lookup(r placeholder.Ref) (string, error) {
	switch r.Name {
	case RefNow:
		return FormatTime(v.Now, r.Arg), nil
	case RefPrevious:
		return FormatTime(v.Previous, r.Arg), nil
	case RefCursor:
		return v.Cursor, nil
	}
	if v.Secrets == nil {
		return "", placeholder.ErrNoValue
	}
	return v.Secrets(r)
}

// Render is the request of one sample.
func (t *Template) Render(v Vars) (*Request, error) {
	path, err := t.Path.Expand(func(r placeholder.Ref) (string, error) {
		s, err := v.lookup(r)
		return url.PathEscape(s), err
	})
	if err != nil {
		return nil, fmt.Errorf("dataSource: %w", err)
	}
	pc := requestConfig{Method: t.Method}
	var q []string
	for _, p := range t.Query {
		val, err := p.Value.Expand(v.lookup)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", p.Name, err)
		}
		q = append(q, url.QueryEscape(p.Name)+"="+url.QueryEscape(val))
	}
	if len(q) > 0 {
		path += "?" + strings.Join(q, "&")
	}
	for _, p := range t.Header {
		val, err := p.Value.Expand(v.lookup)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", p.Name, err)
		}
		if pc.Headers == nil {
			pc.Headers = map[string]string{}
		}
		pc.Headers[p.Name] = val
	}
	switch {
	case t.Body != nil:
		b, err := t.Body.Render(v.lookup)
		if err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		pc.Body = b
	case t.BodyText != nil:
		s, err := t.BodyText.Expand(v.lookup)
		if err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		pc.Body, _ = json.Marshal(s)
	}
	r, err := buildRequest(t.Endpoint, path, pc)
	if err == nil && r == nil {
		err = fmt.Errorf("the endpoint has no address")
	}
	return r, err
}

// source is everything the template holds as written, for telling
// requests apart.
func (t *Template) source() []string {
	out := []string{t.Method, t.Path.Source()}
	for _, ps := range [][]Param{t.Query, t.Header} {
		for _, p := range ps {
			out = append(out, p.Name, p.Value.Source())
		}
		out = append(out, "")
	}
	if t.Body != nil {
		b, _ := json.Marshal(t.Body.Value)
		out = append(out, string(b))
	}
	if t.BodyText != nil {
		out = append(out, t.BodyText.Source())
	}
	return out
}

// String is the template as written, for messages: method and dataSource.
func (t *Template) String() string {
	s := t.Method + " " + t.Path.Source()
	if len(t.Query) > 0 {
		s += "?…"
	}
	return s
}

// JSONTemplate is a JSON value whose strings may hold placeholders.
type JSONTemplate struct {
	Value any
	Texts []Text // the strings with placeholders, by path
}

// Render is the JSON text of the value with the placeholders filled in,
// each string in place, so that a value is JSON-escaped whatever it holds.
func (j *JSONTemplate) Render(lookup func(placeholder.Ref) (string, error)) ([]byte, error) {
	return FillJSON(j.Value, j.Texts, func(t Text) (string, error) {
		s, err := t.Value.Expand(lookup)
		if err != nil {
			return "", fmt.Errorf("%s: %w", jsonPath(t.Path), err)
		}
		return s, nil
	})
}

// FillJSON is the JSON text of value, a decoded JSON value, with the
// string at each text's path replaced by what fill gives for it: value
// itself is not changed. HTML characters are not escaped, so that a
// password with & or < is sent as it is.
func FillJSON(value any, texts []Text, fill func(Text) (string, error)) ([]byte, error) {
	v := cloneJSON(value)
	for _, t := range texts {
		s, err := fill(t)
		if err != nil {
			return nil, err
		}
		v = setAt(v, t.Path, s)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func jsonPath(path []any) string {
	s := ""
	for _, p := range path {
		switch p := p.(type) {
		case string:
			s += "." + p
		case int:
			s += "[" + strconv.Itoa(p) + "]"
		}
	}
	if s == "" {
		return "."
	}
	return s
}

// cloneJSON is a deep copy of a decoded JSON value.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = cloneJSON(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = cloneJSON(e)
		}
		return a
	}
	return v
}

// setAt sets the string at path of v and returns v (the new string itself
// for an empty path).
func setAt(v any, path []any, s string) any {
	if len(path) == 0 {
		return s
	}
	root, cur := v, v
	for i, p := range path {
		last := i == len(path)-1
		switch p := p.(type) {
		case string:
			m, _ := cur.(map[string]any)
			if m == nil {
				return root
			}
			if last {
				m[p] = s
				return root
			}
			cur = m[p]
		case int:
			a, _ := cur.([]any)
			if p >= len(a) {
				return root
			}
			if last {
				a[p] = s
				return root
			}
			cur = a[p]
		}
	}
	return root
}

// templateBuilder parses the placeholders of a data point's or dataset's
// request: secrets, the sample's variables and the asset's attributes.
type templateBuilder struct {
	configBuilder
	attrs   map[string]string
	dynamic bool // some placeholder changes from sample to sample
}

func newTemplateBuilder(method adr.AuthMethod, attrs map[string]string, probs *Problems) *templateBuilder {
	tb := &templateBuilder{attrs: attrs}
	secret := checkSecretRef(method)
	tb.configBuilder = configBuilder{probs: probs, check: func(r placeholder.Ref) error {
		switch r.Name {
		case RefNow, RefPrevious:
			if !timeFormats[r.Arg] {
				return fmt.Errorf("%s: the time format is rfc3339 (the default), rfc3339ms, unix or unixms", r)
			}
			tb.dynamic = true
		case RefCursor:
			if r.Arg != "" {
				return fmt.Errorf("%s takes no argument", r)
			}
			tb.dynamic = true
		case RefAttribute:
			if _, ok := attrs[r.Arg]; !ok {
				return fmt.Errorf("%s: the asset has no attribute %q%s", r, r.Arg, attributeNames(attrs))
			}
		default:
			if err := secret(r); err != nil {
				return fmt.Errorf("%w, or the request's ${now}, ${previous}, ${cursor} and ${attribute:NAME}", err)
			}
		}
		return nil
	}}
	return tb
}

func attributeNames(attrs map[string]string) string {
	if len(attrs) == 0 {
		return " (it has none)"
	}
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, strconv.Quote(k))
	}
	sort.Strings(names)
	return " (it has " + strings.Join(names, ", ") + ")"
}

// text parses s and fills in the asset's attributes.
func (tb *templateBuilder) text(s, path string) placeholder.Text {
	t := tb.configBuilder.text(s, path)
	return t.Bind(func(r placeholder.Ref) (string, bool) {
		if r.Name == RefAttribute {
			return tb.attrs[r.Arg], true
		}
		return "", false
	})
}
