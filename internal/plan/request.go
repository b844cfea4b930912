package plan

import (
	"encoding/json"
	"net/url"
	"sort"
	"strings"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/placeholder"
)

// set reports whether the configuration says anything of the request.
func (rc requestConfig) set() bool {
	return rc.Method != "" || len(rc.Body) > 0 || len(rc.Headers) > 0 || len(rc.Query) > 0
}

// request builds the request of a data point, or of a dataset without data
// points, from its source (sourcePath is where it is written) and its
// configuration (at cfgPath). A request whose placeholders change from one
// sample to the next, or that has some in its path or body, is a Template;
// secrets in headers and query values alone are filled in when the request
// is prepared (Request.Secret); the asset's attributes are filled in here.
// It returns nil on a problem, or when the endpoint is broken.
func (pl *Planner) request(ep *Endpoint, source string, rc requestConfig, attrs map[string]string, sourcePath, cfgPath string, probs *Problems) *Request {
	var method adr.AuthMethod
	if ep != nil {
		method = ep.Auth.Method
	}
	tb := newTemplateBuilder(method, attrs, probs)
	before := len(*probs)
	rawPath, rawQuery, _ := strings.Cut(source, "?")
	path := tb.text(rawPath, sourcePath)
	query := tb.query(rawQuery, sourcePath)
	query = append(query, tb.params(rc.Query, cfgPath+".query")...)
	header := tb.params(rc.Headers, cfgPath+".headers")
	body, bodyText := tb.body(rc.Body, cfgPath+".body")
	if len(*probs) > before {
		return nil
	}
	if rc.Method == "" {
		rc.Method = DefaultMethod
	}
	if tb.dynamic || !path.Static() || (body != nil && len(body.Texts) > 0) || (bodyText != nil && !bodyText.Static()) {
		if ep == nil || ep.Address == nil {
			return nil
		}
		t := &Template{Method: rc.Method, Endpoint: ep, Path: path, Query: query, Header: header, Body: body, BodyText: bodyText}
		if _, err := t.Render(Vars{}); err != nil && !isNoValue(err) {
			probs.add(sourcePath, "%v", err)
			return nil
		}
		return &Request{Method: rc.Method, Template: t}
	}
	// The same request for every sample, but for the secrets of its
	// headers and query values.
	static := requestConfig{Method: rc.Method, Body: rc.Body, Headers: map[string]string{}, Query: map[string]string{}}
	var secret []SecretParam
	for _, list := range []struct {
		ps    []Param
		query bool
	}{{header, false}, {query, true}} {
		for _, p := range list.ps {
			if !p.Value.Static() {
				secret = append(secret, SecretParam{Query: list.query, Param: p})
				continue
			}
			v, _ := p.Value.Expand(nil)
			if list.query {
				static.Query[p.Name] = v
			} else {
				static.Headers[p.Name] = v
			}
		}
	}
	src, _ := path.Expand(nil)
	if src == rawPath && asWritten(query[:len(query)-len(rc.Query)]) {
		// The dataSource's query stays as written, its order and repeated
		// keys with it.
		src = source
		for _, p := range query[len(query)-len(rc.Query):] {
			if p.Value.Static() {
				static.Query[p.Name], _ = p.Value.Expand(nil)
			}
		}
		for k := range static.Query {
			if _, ok := rc.Query[k]; !ok {
				delete(static.Query, k)
			}
		}
	}
	r, err := buildRequest(ep, src, static)
	if err != nil {
		probs.add(sourcePath, "%v", err)
		return nil
	}
	if r != nil {
		r.Secret = secret
	}
	return r
}

// asWritten reports whether the parameters are literal text as written: no
// placeholder, no $$.
func asWritten(ps []Param) bool {
	for _, p := range ps {
		if v, _ := p.Value.Expand(nil); !p.Value.Static() || v != p.Value.Source() {
			return false
		}
	}
	return true
}

func isNoValue(err error) bool {
	for e := err; e != nil; {
		if e == placeholder.ErrNoValue {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// query parses the query of a dataSource: its values may hold
// placeholders.
func (tb *templateBuilder) query(raw, path string) []Param {
	if raw == "" {
		return nil
	}
	var out []Param
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			tb.probs.add(path, "query %q: %v", k, err)
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			tb.probs.add(path, "query %q: %v", k, err)
			continue
		}
		out = append(out, Param{Name: key, Value: tb.text(val, path)})
	}
	return out
}

// params parses the values of a configuration's headers or query.
func (tb *templateBuilder) params(m map[string]string, path string) []Param {
	if len(m) == 0 {
		return nil
	}
	out := make([]Param, 0, len(m))
	for k, v := range m {
		out = append(out, Param{Name: k, Value: tb.text(v, path+"."+k)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// body parses a request body: a string, or a JSON value whose strings may
// hold placeholders.
func (tb *templateBuilder) body(raw json.RawMessage, path string) (*JSONTemplate, *placeholder.Text) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		t := tb.text(s, path)
		return nil, &t
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.probs.add(path, "%v", err)
		return nil, nil
	}
	j := &JSONTemplate{Value: v}
	j.Texts = tb.bodyTexts(v, nil, path)
	return j, nil
}
