package httpauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/http-connector/http-connector/internal/mapping"
)

// answer reads the session from a 2xx login answer: it checks that the
// answer is no refusal, then takes the token and the lifetime. setCookie
// tells whether an answer of the login, redirects included, set a cookie.
func (t *loginTransport) answer(ctx context.Context, h http.Header, body []byte, setCookie bool) (string, time.Duration, error) {
	doc, jsonErr := decodeJSON(body)
	if jsonErr != nil && (t.cfg.TokenJQ != nil || t.cfg.ErrorJQ != nil || t.cfg.ExpiresInJQ != nil) {
		return "", 0, fmt.Errorf("the answer is not JSON: %w", jsonErr)
	}
	if jsonErr == nil {
		if err := t.refusal(ctx, doc); err != nil {
			return "", 0, err
		}
	}
	token, err := t.token(ctx, h, doc)
	if err != nil {
		return "", 0, err
	}
	lifetime, err := t.lifetime(ctx, doc)
	if err != nil {
		return "", 0, err
	}
	// A device may authenticate the session cookie it set at the first
	// login, without a new one.
	if t.cfg.session() && !setCookie && len(t.jar.Cookies(t.cfg.URL)) == 0 {
		return "", 0, errors.New("the answer set no cookie")
	}
	return token, lifetime, nil
}

// refusal is the error a JSON login answer reports, if any: by ErrorJQ,
// else in the JSON-RPC way.
func (t *loginTransport) refusal(ctx context.Context, doc any) error {
	p := t.cfg.ErrorJQ
	if p == nil {
		if msg, ok := rpcError(doc, t.secrets); ok {
			return errors.New(msg)
		}
		return nil
	}
	out, err := p.Run(ctx, doc)
	if err != nil {
		return fmt.Errorf("error program %q: %s", p.Source(), t.jqError(err))
	}
	for _, v := range out {
		if msg, failed := refusalMessage(v, t.secrets); failed {
			return fmt.Errorf("the device refused: %s", msg)
		}
	}
	return nil
}

// token takes the token from the answer: by TokenJQ, from TokenHeader,
// or none for a session cookie.
func (t *loginTransport) token(ctx context.Context, h http.Header, doc any) (string, error) {
	if name := t.cfg.TokenHeader; name != "" {
		if v := h.Get(name); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("the answer has no %s header", name)
	}
	p := t.cfg.TokenJQ
	if p == nil {
		return "", nil
	}
	v, err := p.One(ctx, doc)
	if err != nil {
		return "", fmt.Errorf("token %q: %s", p.Source(), t.jqError(err))
	}
	if s, ok := v.(string); ok && s != "" {
		return s, nil
	}
	return "", fmt.Errorf("token %q: got %s, want a non-empty string", p.Source(), kind(v))
}

// lifetime is the session's lifetime: by ExpiresInJQ, else Lifetime.
func (t *loginTransport) lifetime(ctx context.Context, doc any) (time.Duration, error) {
	p := t.cfg.ExpiresInJQ
	if p == nil {
		return t.cfg.Lifetime, nil
	}
	v, err := p.One(ctx, doc)
	if err != nil {
		return 0, fmt.Errorf("expires in %q: %s", p.Source(), t.jqError(err))
	}
	if v == nil {
		return t.cfg.Lifetime, nil
	}
	secs, ok := seconds(v)
	if !ok || !(secs > 0) {
		return 0, fmt.Errorf("expires in %q: got %s, want a positive number of seconds", p.Source(), kind(v))
	}
	return time.Duration(min(secs, math.MaxInt32) * float64(time.Second)), nil
}

// seconds is v as a number, from what gojq or encoding/json give.
func seconds(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case *big.Int:
		f, _ := new(big.Float).SetInt(n).Float64()
		return f, true
	}
	return 0, false
}

// kind names the JSON type of v, for errors: never its value, which may
// be a secret.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		if v == "" {
			return "an empty string"
		}
		return "a string"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	if _, ok := seconds(v); ok {
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// jqError is the message of a program's error on a login answer, with the
// strings it quotes from the answer (a token, say) elided.
func (t *loginTransport) jqError(err error) string {
	return elideStrings(t.secrets.redact(err.Error()))
}

// elideStrings replaces each double-quoted string of s, escapes and all,
// by "…"; an unterminated one runs to the end.
func elideStrings(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(`"…"`)
		j := i + 1
		for j < len(s) && s[j] != '"' {
			if s[j] == '\\' {
				j++
			}
			j++
		}
		s = s[min(j+1, len(s)):]
	}
}

// rpcError is the error of a JSON-RPC answer, an object whose error member
// is an object, as `JSON-RPC error <code> "<message>"`, with the device's
// text bounded, single-line and redacted.
func rpcError(doc any, r redactor) (string, bool) {
	obj, _ := doc.(map[string]any)
	e, ok := obj["error"].(map[string]any)
	if !ok {
		return "", false
	}
	s := "JSON-RPC error"
	switch c := e["code"].(type) {
	case json.Number:
		s += " " + truncate(c.String(), 24)
	case float64:
		s += fmt.Sprintf(" %g", c)
	case string:
		s += " " + fmt.Sprintf("%q", snippet([]byte(r.redact(c))))
	}
	switch m := e["message"].(type) {
	case nil:
	case string:
		s += " " + fmt.Sprintf("%q", snippet([]byte(r.redact(m))))
	default:
		s += " " + compact(m, r)
	}
	return s, true
}

// refusalMessage tells whether an output of ErrorJQ means a failed login,
// and says it: null, false and "" mean success.
func refusalMessage(v any, r redactor) (string, bool) {
	switch m := v.(type) {
	case nil:
		return "", false
	case bool:
		if !m {
			return "", false
		}
	case string:
		if m == "" {
			return "", false
		}
		return fmt.Sprintf("%q", snippet([]byte(r.redact(m)))), true
	}
	return compact(v, r), true
}

// compact is v as bounded, single-line JSON, redacted.
func compact(v any, r redactor) string {
	b, err := json.Marshal(v)
	if err != nil {
		return kind(v)
	}
	return snippet([]byte(r.redact(string(b))))
}

// decodeJSON decodes one JSON value, numbers as json.Number.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// peekBody reads up to max bytes of body and, if that is all of it and it
// is JSON, runs p on it: over is whether an output is true. The body
// returned reads exactly as body would have, read error included, and
// closes it.
func peekBody(ctx context.Context, body io.ReadCloser, max int64, p *mapping.Program) (over bool, _ io.ReadCloser) {
	b, err := io.ReadAll(io.LimitReader(body, max+1))
	var rest io.Reader = bytes.NewReader(nil)
	switch {
	case err != nil:
		rest = errReader{err}
	case int64(len(b)) > max:
		rest = body
	default:
		if doc, err := decodeJSON(b); err == nil {
			out, _ := p.Run(ctx, doc) // a failing check is no relogin: the caller reads the body
			for _, v := range out {
				over = over || v == true
			}
		}
	}
	return over, readCloser{io.MultiReader(bytes.NewReader(b), rest), body}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type readCloser struct {
	io.Reader
	io.Closer
}

// loginSecrets are the values of the login request, searched for in what
// the device answers: the body, its JSON strings or form values, the
// header values and their words, the URL's query values and password.
func loginSecrets(l Login) redactor {
	var r redactor
	r.add(string(l.Body))
	if doc, err := decodeJSON(l.Body); err == nil {
		r.add(jsonStrings(doc, nil)...)
	} else if q, err := url.ParseQuery(string(l.Body)); err == nil {
		for _, vs := range q {
			r.add(vs...)
		}
	}
	for _, vs := range l.Header {
		for _, v := range vs {
			r.add(v)
			r.add(strings.Fields(v)...)
		}
	}
	if l.URL != nil {
		for _, vs := range l.URL.Query() {
			r.add(vs...)
		}
		if p, ok := l.URL.User.Password(); ok {
			r.add(p)
		}
	}
	return r
}

// jsonStrings appends the strings of v, keys aside.
func jsonStrings(v any, to []string) []string {
	switch x := v.(type) {
	case string:
		to = append(to, x)
	case []any:
		for _, e := range x {
			to = jsonStrings(e, to)
		}
	case map[string]any:
		for _, e := range x {
			to = jsonStrings(e, to)
		}
	}
	return to
}
