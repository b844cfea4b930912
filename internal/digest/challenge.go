package digest

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// authChallenge is one challenge of a WWW-Authenticate header (RFC 9110
// §11.6.1): a scheme with either a token68 or a list of parameters.
type authChallenge struct {
	scheme  string
	token68 string
	params  map[string]string // names lowercased, values unquoted
	dup     string            // a parameter given twice, which makes the challenge invalid
}

// parseAuthenticate parses one WWW-Authenticate header value, which may
// hold several challenges:
//
//	Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"
//
// A comma separates both parameters and challenges; an item is a
// parameter when it reads token "=" value, and starts a new challenge
// otherwise.
func parseAuthenticate(s string) ([]authChallenge, error) {
	l := lexer{s: s}
	var out []authChallenge
	for {
		l.skipListSeparators()
		if l.done() {
			return out, nil
		}
		start := l.i
		name := l.token()
		if name == "" {
			return nil, l.errorf("expected an auth scheme or parameter")
		}
		l.skipWS()
		if l.paramAt(start) {
			if len(out) == 0 {
				return nil, l.errorf("parameter %q before any auth scheme", name)
			}
			l.i++ // '='
			l.skipWS()
			v, err := l.value()
			if err != nil {
				return nil, err
			}
			c := &out[len(out)-1]
			key := strings.ToLower(name)
			if _, seen := c.params[key]; seen && c.dup == "" {
				c.dup = key
			}
			c.params[key] = v
			if err := l.endOfItem(); err != nil {
				return nil, err
			}
			continue
		}
		if len(out) > 0 && !l.done() && l.peek() == '=' {
			return nil, l.errorf("parameter %q has no value", name)
		}
		c := authChallenge{scheme: name, params: map[string]string{}}
		if !l.done() && l.peek() != ',' && l.i > start+len(name) && !l.paramAt(l.i) {
			// a token68 (credentials-like blob) right after the scheme
			c.token68 = l.token68()
			if c.token68 == "" {
				return nil, l.errorf("unexpected %q after auth scheme %q", l.s[l.i], name)
			}
			if err := l.endOfItem(); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
	}
}

// parseParams parses a bare list of auth parameters, as in an
// Authentication-Info header (RFC 7616 §3.5).
func parseParams(s string) (map[string]string, error) {
	cs, err := parseAuthenticate("x " + s)
	if err != nil {
		return nil, err
	}
	if len(cs) != 1 || cs[0].token68 != "" {
		return nil, errors.New("expected a list of parameters")
	}
	return cs[0].params, nil
}

// lexer reads the tokens of an HTTP authentication header.
type lexer struct {
	s string
	i int
}

func (l *lexer) done() bool { return l.i >= len(l.s) }
func (l *lexer) peek() byte { return l.s[l.i] }

func (l *lexer) errorf(format string, args ...any) error {
	return fmt.Errorf("malformed header at offset %d: %s", l.i, fmt.Sprintf(format, args...))
}

func (l *lexer) skipWS() {
	for !l.done() && (l.s[l.i] == ' ' || l.s[l.i] == '\t') {
		l.i++
	}
}

// skipListSeparators skips white space and the empty elements of a list.
func (l *lexer) skipListSeparators() {
	for !l.done() && (l.s[l.i] == ' ' || l.s[l.i] == '\t' || l.s[l.i] == ',') {
		l.i++
	}
}

// endOfItem expects the end of the header or a comma after white space.
func (l *lexer) endOfItem() error {
	l.skipWS()
	if !l.done() && l.peek() != ',' {
		return l.errorf("expected a comma, found %q", l.s[l.i])
	}
	return nil
}

func (l *lexer) token() string {
	start := l.i
	for !l.done() && isTchar(l.s[l.i]) {
		l.i++
	}
	return l.s[start:l.i]
}

// paramAt tells whether a parameter, token BWS "=" BWS value, starts at i.
// It tells "realm=x" from a token68 such as "YWxhZGRpbjpvcGVu==".
func (l *lexer) paramAt(i int) bool {
	j := i
	for j < len(l.s) && isTchar(l.s[j]) {
		j++
	}
	if j == i {
		return false
	}
	for j < len(l.s) && (l.s[j] == ' ' || l.s[j] == '\t') {
		j++
	}
	if j >= len(l.s) || l.s[j] != '=' {
		return false
	}
	j++
	for j < len(l.s) && (l.s[j] == ' ' || l.s[j] == '\t') {
		j++
	}
	return j < len(l.s) && l.s[j] != '=' && l.s[j] != ','
}

func (l *lexer) token68() string {
	start := l.i
	for !l.done() && isToken68(l.s[l.i]) {
		l.i++
	}
	if l.i == start {
		return ""
	}
	for !l.done() && l.s[l.i] == '=' {
		l.i++
	}
	return l.s[start:l.i]
}

// value reads a token or a quoted-string, unquoting it.
func (l *lexer) value() (string, error) {
	if l.done() {
		return "", l.errorf("missing parameter value")
	}
	if l.peek() != '"' {
		v := l.token()
		if v == "" {
			return "", l.errorf("unexpected %q in parameter value", l.s[l.i])
		}
		return v, nil
	}
	start := l.i
	l.i++
	var b strings.Builder
	for !l.done() {
		c := l.s[l.i]
		switch {
		case c == '"':
			l.i++
			return b.String(), nil
		case c == '\\':
			if l.i+1 >= len(l.s) {
				l.i = start
				return "", l.errorf("unterminated quoted string")
			}
			// RFC 9110 quoted-pair: a backslash escapes HTAB, SP, VCHAR
			// or obs-text, never a control character.
			if isControl(l.s[l.i+1]) {
				l.i++
				return "", l.errorf("control character in quoted string")
			}
			b.WriteByte(l.s[l.i+1])
			l.i += 2
		case isControl(c):
			return "", l.errorf("control character in quoted string")
		default:
			b.WriteByte(c)
			l.i++
		}
	}
	l.i = start
	return "", l.errorf("unterminated quoted string")
}

func isControl(c byte) bool { return c < ' ' && c != '\t' || c == 0x7f }

func isTchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken68(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("-._~+/", c) >= 0
}

// challenge is a Digest challenge the transport can answer.
type challenge struct {
	realm     string
	nonce     string
	opaque    *string  // nil when the server sent none
	domain    []string // path prefixes on the challenging origin; none: all of it
	alg       algorithm
	algGiven  bool   // the challenge named its algorithm, so the answer does too
	qop       string // "auth", "auth-int", or "" (RFC 2069 style)
	stale     bool
	userhash  bool
	charsetOK bool // charset=UTF-8 was announced
}

// errNoDigest is the reason a 401 carries no Digest challenge at all.
var errNoDigest = errors.New("no Digest challenge")

// pickChallenge chooses the strongest Digest challenge the transport
// supports among all WWW-Authenticate headers of a response from u. When
// no Digest challenge is usable it returns the reason the first one was
// not, or errNoDigest when there is none.
func pickChallenge(h http.Header, u *url.URL) (challenge, error) {
	var best challenge
	found := false
	var firstErr error
	for _, v := range h.Values("Www-Authenticate") {
		cs, err := parseAuthenticate(v)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("WWW-Authenticate %q: %w", truncate(v, 80), err)
			}
			continue
		}
		for _, c := range cs {
			if !strings.EqualFold(c.scheme, "Digest") {
				continue
			}
			ch, err := digestChallenge(c, u)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			if !found || ch.alg.strength > best.alg.strength {
				best, found = ch, true
			}
		}
	}
	switch {
	case found:
		return best, nil
	case firstErr != nil:
		return challenge{}, firstErr
	default:
		return challenge{}, errNoDigest
	}
}

// digestChallenge checks the parameters of a Digest challenge (RFC 7616
// §3.3).
func digestChallenge(c authChallenge, u *url.URL) (challenge, error) {
	if c.token68 != "" {
		return challenge{}, errors.New("a token68 instead of parameters")
	}
	if c.dup != "" {
		return challenge{}, fmt.Errorf("parameter %q given twice", c.dup)
	}
	p := c.params
	realm, ok := p["realm"]
	if !ok {
		return challenge{}, errors.New("missing realm")
	}
	ch := challenge{realm: realm, nonce: p["nonce"]}
	if ch.nonce == "" {
		return challenge{}, errors.New("missing nonce")
	}
	name := "MD5"
	if a, ok := p["algorithm"]; ok {
		name, ch.algGiven = a, true
	}
	alg, ok := lookupAlgorithm(name)
	if !ok {
		return challenge{}, fmt.Errorf("unsupported algorithm %q", name)
	}
	ch.alg = alg
	if q, ok := p["qop"]; ok {
		for _, o := range strings.Split(q, ",") {
			switch strings.ToLower(strings.TrimSpace(o)) {
			case "auth":
				ch.qop = "auth"
			case "auth-int":
				if ch.qop == "" {
					ch.qop = "auth-int"
				}
			}
		}
		if ch.qop == "" {
			return challenge{}, fmt.Errorf("unsupported qop %q", q)
		}
	} else if alg.sess {
		return challenge{}, fmt.Errorf("algorithm %s needs a qop, and the challenge offers none", alg.name)
	}
	if o, ok := p["opaque"]; ok {
		ch.opaque = &o
	}
	ch.stale = strings.EqualFold(p["stale"], "true")
	ch.userhash = strings.EqualFold(p["userhash"], "true")
	ch.charsetOK = strings.EqualFold(p["charset"], "UTF-8")
	for _, d := range strings.Fields(p["domain"]) {
		du, err := u.Parse(d)
		if err != nil || originOf(du) != originOf(u) {
			continue // another origin, or not a URI: not a space we poll
		}
		path := du.EscapedPath()
		if path == "" {
			path = "/"
		}
		ch.domain = append(ch.domain, path)
	}
	return ch, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
