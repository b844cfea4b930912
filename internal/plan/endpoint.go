package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/mapping"
	"github.com/http-connector/http-connector/internal/placeholder"
)

// AuthType is an authentication scheme of an endpoint's configuration.
type AuthType string

// The schemes of the endpoint configuration's auth.type.
const (
	AuthByMethod AuthType = "" // the ADR authentication method decides
	AuthBasic    AuthType = "basic"
	AuthDigest   AuthType = "digest"
	AuthBearer   AuthType = "bearer"
	AuthAPIKey   AuthType = "apiKey"
	AuthOAuth2   AuthType = "oauth2"
	AuthLogin    AuthType = "login"
)

// EndpointConfig is an endpoint's additionalConfiguration: its
// authentication scheme and what every request of it carries. It holds
// placeholders, never secrets.
type EndpointConfig struct {
	Auth    AuthConfig `json:"-"`
	Header  []Param    `json:"-"` // sorted by name
	Query   []Param    `json:"-"` // sorted by name
	Cookies bool       `json:"-"`
	// Ignored are the members of the configuration that are not
	// http-connector's (a device written for another connector): they are
	// left alone, and noted.
	Ignored []string `json:"-"`
	// Source is the configuration as written, canonical JSON: what tells
	// two configurations apart.
	Source string `json:"source,omitempty"`
}

// Param is a header or query parameter whose value may hold placeholders.
type Param struct {
	Name  string
	Value placeholder.Text
}

// AuthConfig is a scheme with its settings; the fields of other schemes
// are zero.
type AuthConfig struct {
	Type AuthType
	// bearer
	Token placeholder.Text
	// apiKey
	KeyInQuery bool
	KeyName    string
	KeyValue   placeholder.Text
	// oauth2
	OAuth2 *OAuth2Config
	// login
	Login *LoginConfig
}

// OAuth2Config is an OAuth2 client credentials grant.
type OAuth2Config struct {
	TokenURL     *url.URL
	ClientID     placeholder.Text
	ClientSecret placeholder.Text
	Scopes       []string
	Params       []Param
	AuthStyle    string // "auto", "header" or "params"
	RenewBefore  time.Duration
}

// LoginConfig is a login request and what its answer gives.
type LoginConfig struct {
	Method      string
	URL         *url.URL
	Header      []Param
	Body        any    // JSON body whose strings may hold placeholders; nil: none
	BodyTexts   []Text // the placeholders of Body's strings, by JSON path
	Form        []Param
	TokenJQ     *mapping.Program
	TokenHeader string
	ErrorJQ     *mapping.Program
	UseHeader   string
	UsePrefix   string
	UseQuery    string
	Lifetime    time.Duration
	ExpiresInJQ *mapping.Program
	Relogin     []int
	ReloginJQ   *mapping.Program
}

// Text is a string of a JSON body with placeholders, at its path.
type Text struct {
	Path  []any // object keys (string) and array indexes (int)
	Value placeholder.Text
}

// Refs are every placeholder of the configuration.
func (c *EndpointConfig) Refs() []placeholder.Ref {
	var out []placeholder.Ref
	add := func(t placeholder.Text) { out = append(out, t.Refs()...) }
	params := func(ps []Param) {
		for _, p := range ps {
			add(p.Value)
		}
	}
	params(c.Header)
	params(c.Query)
	a := &c.Auth
	add(a.Token)
	add(a.KeyValue)
	if o := a.OAuth2; o != nil {
		add(o.ClientID)
		add(o.ClientSecret)
		params(o.Params)
	}
	if l := a.Login; l != nil {
		params(l.Header)
		params(l.Form)
		for _, t := range l.BodyTexts {
			add(t.Value)
		}
	}
	return out
}

// SecretNames are the names of the ${secret:NAME} placeholders of the
// asset's requests.
func (a *Asset) SecretNames() []string {
	var refs []placeholder.Ref
	for _, d := range a.Datasets {
		for _, r := range d.Requests {
			refs = append(refs, r.SecretRefs()...)
		}
	}
	return SecretNames(refs)
}

// SecretNames are the names of the ${secret:NAME} placeholders of refs,
// each once, sorted.
func SecretNames(refs []placeholder.Ref) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range refs {
		if r.Name == RefSecret && !seen[r.Arg] {
			seen[r.Arg] = true
			out = append(out, r.Arg)
		}
	}
	sort.Strings(out)
	return out
}

// Placeholder names of secrets.
const (
	RefUsername = "username" // the endpoint's username secret
	RefPassword = "password" // the endpoint's password secret
	RefSecret   = "secret"   // ${secret:NAME}: a secret by name
)

// checkSecretRef allows the secret placeholders. method is the endpoint's
// authentication method, "" when it is not known (a broken endpoint).
func checkSecretRef(method adr.AuthMethod) func(placeholder.Ref) error {
	return func(r placeholder.Ref) error {
		switch r.Name {
		case RefUsername, RefPassword:
			if r.Arg != "" {
				return fmt.Errorf("%s takes no argument", r)
			}
			if method != "" && method != adr.AuthUsernamePassword {
				return fmt.Errorf("%s needs the endpoint's authentication method %s (it is %s)", r, adr.AuthUsernamePassword, method)
			}
		case RefSecret:
			if err := checkSecretName(r.Arg); err != nil {
				return fmt.Errorf("%s: %v", r, err)
			}
		default:
			return fmt.Errorf("unknown placeholder %s: want ${username}, ${password} or ${secret:NAME}", r)
		}
		return nil
	}
}

func checkSecretName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("a secret name is required")
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("a secret name is a relative path")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." || part == "." || part == "" {
			return fmt.Errorf("a secret name has no empty, . or .. parts")
		}
	}
	return nil
}

// endpointConfigJSON is the decoded endpoint configuration.
type endpointConfigJSON struct {
	Auth    *authJSON         `json:"auth"`
	Headers map[string]string `json:"headers"`
	Query   map[string]string `json:"query"`
	Cookies bool              `json:"cookies"`
}

type authJSON struct {
	Type         string            `json:"type"`
	Token        json.RawMessage   `json:"token"`
	In           string            `json:"in"`
	Name         string            `json:"name"`
	Value        *string           `json:"value"`
	TokenURL     string            `json:"tokenUrl"`
	ClientID     *string           `json:"clientId"`
	ClientSecret *string           `json:"clientSecret"`
	Scopes       []string          `json:"scopes"`
	Params       map[string]string `json:"params"`
	AuthStyle    string            `json:"authStyle"`
	RenewBefore  *int64            `json:"renewBefore"`
	Request      *loginRequestJSON `json:"request"`
	Error        *string           `json:"error"`
	Use          *struct {
		Header string  `json:"header"`
		Prefix *string `json:"prefix"`
		Query  string  `json:"query"`
	} `json:"use"`
	Lifetime  *int64  `json:"lifetime"`
	ExpiresIn *string `json:"expiresIn"`
	Relogin   *struct {
		Status []int   `json:"status"`
		JQ     *string `json:"jq"`
	} `json:"relogin"`
}

type loginRequestJSON struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
	Form    map[string]string `json:"form"`
}

// endpointConfig builds an endpoint's configuration from its
// additionalConfiguration; path is the endpoint's field path.
func (pl *Planner) endpointConfig(text string, ep *Endpoint, path string, probs *Problems) EndpointConfig {
	path += ".additionalConfiguration"
	raw, err := decodeConfig(text)
	if err != nil {
		probs.add(path, "%v", err)
		return EndpointConfig{}
	}
	var ignored []string
	for k := range raw {
		switch k {
		case "auth", "headers", "query", "cookies":
		default:
			ignored = append(ignored, k)
			delete(raw, k)
		}
	}
	sort.Strings(ignored)
	if len(raw) == 0 {
		return EndpointConfig{Ignored: ignored}
	}
	if vp := pl.validate(pl.endpointV, raw, path); len(vp) > 0 {
		*probs = append(*probs, vp...)
		return EndpointConfig{}
	}
	var cj endpointConfigJSON
	if err := remarshal(raw, &cj); err != nil {
		probs.add(path, "%v", err)
		return EndpointConfig{}
	}
	canonical, _ := json.Marshal(raw) // maps marshal with sorted keys
	c := EndpointConfig{Cookies: cj.Cookies, Ignored: ignored, Source: string(canonical)}
	b := configBuilder{check: checkSecretRef(ep.Auth.Method), probs: probs}
	c.Header = b.params(cj.Headers, path+".headers")
	for _, p := range c.Header {
		if http.CanonicalHeaderKey(p.Name) == "Authorization" && cj.Auth != nil {
			probs.add(path+".headers.Authorization", "set by auth: give one or the other")
		}
	}
	c.Query = b.params(cj.Query, path+".query")
	if cj.Auth != nil {
		c.Auth = b.auth(cj.Auth, ep, path+".auth")
	}
	return c
}

// configBuilder parses the placeholders of a configuration, collecting
// problems.
type configBuilder struct {
	check func(placeholder.Ref) error
	probs *Problems
}

func (b configBuilder) text(s, path string) placeholder.Text {
	t, err := placeholder.Parse(s, b.check)
	if err != nil {
		b.probs.add(path, "%v", err)
	}
	return t
}

// textOr is the text of s, or of def when s is nil.
func (b configBuilder) textOr(s *string, def, path string) placeholder.Text {
	if s == nil {
		return b.text(def, path)
	}
	return b.text(*s, path)
}

func (b configBuilder) params(m map[string]string, path string) []Param {
	if len(m) == 0 {
		return nil
	}
	out := make([]Param, 0, len(m))
	for k, v := range m {
		out = append(out, Param{Name: k, Value: b.text(v, path+"."+k)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (b configBuilder) jq(src *string, path string) *mapping.Program {
	if src == nil {
		return nil
	}
	prog, err := mapping.Compile(*src, mapping.Options{})
	if err != nil {
		*b.probs = append(*b.probs, jqProblem(path, err))
	}
	return prog
}

// authFields are the auth fields of each scheme besides type.
var authFields = map[AuthType][]string{
	AuthBasic:  nil,
	AuthDigest: nil,
	AuthBearer: {"token"},
	AuthAPIKey: {"in", "name", "value"},
	AuthOAuth2: {"tokenUrl", "clientId", "clientSecret", "scopes", "params", "authStyle", "renewBefore"},
	AuthLogin:  {"request", "token", "error", "use", "lifetime", "expiresIn", "relogin"},
}

func (b configBuilder) auth(aj *authJSON, ep *Endpoint, path string) AuthConfig {
	a := AuthConfig{Type: AuthType(aj.Type)}
	b.onlyFields(aj, a.Type, path)
	needsUserPass := func(what string) {
		if ep.Auth.Method != "" && ep.Auth.Method != adr.AuthUsernamePassword {
			b.probs.add(path+".type", "%s needs the endpoint's authentication method %s for %s (it is %s)", a.Type, adr.AuthUsernamePassword, what, ep.Auth.Method)
		}
	}
	switch a.Type {
	case AuthBasic, AuthDigest:
		needsUserPass("the username and password")
	case AuthBearer:
		var token *string
		if len(aj.Token) > 0 {
			var s string
			if json.Unmarshal(aj.Token, &s) != nil {
				b.probs.add(path+".token", "bearer takes the token as a string")
			}
			token = &s
		}
		a.Token = b.textOr(token, "${password}", path+".token")
	case AuthAPIKey:
		a.KeyInQuery, a.KeyName = aj.In == "query", aj.Name
		a.KeyValue = b.textOr(aj.Value, "${password}", path+".value")
	case AuthOAuth2:
		a.OAuth2 = b.oauth2(aj, ep, path)
	case AuthLogin:
		a.Login = b.login(aj, ep, path)
	}
	return a
}

// onlyFields reports the fields set that belong to another scheme.
func (b configBuilder) onlyFields(aj *authJSON, t AuthType, path string) {
	var m map[string]any
	raw, _ := json.Marshal(aj)
	_ = json.Unmarshal(raw, &m)
	allowed := map[string]bool{"type": true}
	for _, f := range authFields[t] {
		allowed[f] = true
	}
	var names []string
	for k, v := range m {
		if v != nil && !allowed[k] && !isZero(v) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		b.probs.add(path+"."+k, "not a setting of auth type %s", t)
	}
}

func isZero(v any) bool {
	switch v := v.(type) {
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	case bool:
		return !v
	}
	return false
}

func (b configBuilder) oauth2(aj *authJSON, ep *Endpoint, path string) *OAuth2Config {
	o := &OAuth2Config{Scopes: aj.Scopes, AuthStyle: aj.AuthStyle, RenewBefore: time.Minute}
	if o.AuthStyle == "" {
		o.AuthStyle = "auto"
	}
	if aj.RenewBefore != nil {
		o.RenewBefore = time.Duration(*aj.RenewBefore) * time.Millisecond
	}
	if u, err := resolveURL(ep, aj.TokenURL); err != nil {
		b.probs.add(path+".tokenUrl", "%v", err)
	} else {
		o.TokenURL = u
	}
	o.ClientID = b.textOr(aj.ClientID, "${username}", path+".clientId")
	o.ClientSecret = b.textOr(aj.ClientSecret, "${password}", path+".clientSecret")
	o.Params = b.params(aj.Params, path+".params")
	return o
}

func (b configBuilder) login(aj *authJSON, ep *Endpoint, path string) *LoginConfig {
	l := &LoginConfig{Method: http.MethodPost, Relogin: []int{http.StatusUnauthorized, http.StatusForbidden}}
	if rq := aj.Request; rq != nil {
		b.loginRequest(l, rq, ep, path+".request")
	}
	if len(aj.Token) > 0 {
		var tok struct {
			JQ     *string `json:"jq"`
			Header string  `json:"header"`
		}
		if json.Unmarshal(aj.Token, &tok) != nil {
			b.probs.add(path+".token", `login takes {"jq": …} or {"header": …}`)
		}
		l.TokenJQ, l.TokenHeader = b.jq(tok.JQ, path+".token.jq"), tok.Header
	}
	l.ErrorJQ = b.jq(aj.Error, path+".error")
	if u := aj.Use; u != nil {
		if u.Header != "" && u.Query != "" {
			b.probs.add(path+".use", "header and query both: give one")
		}
		l.UseHeader, l.UseQuery = u.Header, u.Query
		if u.Prefix != nil {
			l.UsePrefix = *u.Prefix
		} else if http.CanonicalHeaderKey(u.Header) == "Authorization" {
			l.UsePrefix = "Bearer "
		}
		if l.TokenJQ == nil && l.TokenHeader == "" {
			b.probs.add(path+".use", "a session cookie carries itself: use needs a token")
		}
	} else {
		l.UseHeader, l.UsePrefix = "Authorization", "Bearer "
	}
	if aj.Lifetime != nil {
		l.Lifetime = time.Duration(*aj.Lifetime) * time.Millisecond
	}
	if aj.Lifetime != nil && aj.ExpiresIn != nil {
		b.probs.add(path+".expiresIn", "lifetime and expiresIn both: give one")
	}
	l.ExpiresInJQ = b.jq(aj.ExpiresIn, path+".expiresIn")
	if r := aj.Relogin; r != nil {
		if r.Status != nil {
			l.Relogin = r.Status
		}
		l.ReloginJQ = b.jq(r.JQ, path+".relogin.jq")
	}
	return l
}

func (b configBuilder) loginRequest(l *LoginConfig, rq *loginRequestJSON, ep *Endpoint, path string) {
	if rq.Method != "" {
		l.Method = rq.Method
	}
	if u, err := resolveURL(ep, rq.Path); err != nil {
		b.probs.add(path+".path", "%v", err)
	} else {
		l.URL = u
	}
	l.Header = b.params(rq.Headers, path+".headers")
	l.Form = b.params(rq.Form, path+".form")
	if len(rq.Body) > 0 && string(rq.Body) != "null" {
		if len(rq.Form) > 0 {
			b.probs.add(path+".form", "body and form both: give one")
		}
		var body any
		dec := json.NewDecoder(bytes.NewReader(rq.Body))
		dec.UseNumber() // an id of 2^60 stays exact
		if err := dec.Decode(&body); err != nil {
			b.probs.add(path+".body", "%v", err)
		}
		l.Body = body
		l.BodyTexts = b.bodyTexts(body, nil, path+".body")
	}
}

// bodyTexts are the strings of a JSON body with placeholders, or with a
// $$ that stands for $: those a render must fill in.
func (b configBuilder) bodyTexts(v any, at []any, path string) []Text {
	var out []Text
	switch v := v.(type) {
	case string:
		if t := b.text(v, path); !t.Static() || strings.Contains(v, "$$") {
			out = append(out, Text{Path: append([]any(nil), at...), Value: t})
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, b.bodyTexts(v[k], append(at, k), path+"."+k)...)
		}
	case []any:
		for i, e := range v {
			out = append(out, b.bodyTexts(e, append(at, i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

// resolveURL is an absolute http(s) URL, or a path on the endpoint's
// address.
func resolveURL(ep *Endpoint, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %v", err)
	}
	if u.IsAbs() {
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("must be a path or an http(s) URL, got %q", s)
		}
		if u.User != nil {
			return nil, fmt.Errorf("must not hold credentials")
		}
		return u, nil
	}
	if ep.Address == nil {
		return nil, nil // the address is reported broken
	}
	base := *ep.Address
	base.Path = path.Join("/", strings.TrimSuffix(base.Path, "/"), u.Path)
	base.RawPath = ""
	base.RawQuery = u.RawQuery
	return &base, nil
}
