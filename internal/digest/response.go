package digest

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// algorithm is a Digest algorithm of RFC 7616 §3.3 (or RFC 2617 §3.2.1).
type algorithm struct {
	name     string // as written in the Authorization header
	new      func() hash.Hash
	sess     bool // the -sess variant: H(A1) also covers nonce and cnonce
	strength int  // higher is preferred when a server offers several
}

// lookupAlgorithm finds an algorithm by its case-insensitive name.
func lookupAlgorithm(name string) (algorithm, bool) {
	switch strings.ToUpper(name) {
	case "MD5":
		return algorithm{"MD5", md5.New, false, 1}, true
	case "MD5-SESS":
		return algorithm{"MD5-sess", md5.New, true, 1}, true
	case "SHA-256":
		return algorithm{"SHA-256", sha256.New, false, 2}, true
	case "SHA-256-SESS":
		return algorithm{"SHA-256-sess", sha256.New, true, 2}, true
	case "SHA-512-256":
		return algorithm{"SHA-512-256", sha512.New512_256, false, 3}, true
	case "SHA-512-256-SESS":
		return algorithm{"SHA-512-256-sess", sha512.New512_256, true, 3}, true
	}
	return algorithm{}, false
}

// h is the hex digest of s: H(data) of RFC 7616 §3.4.
func (a algorithm) h(s string) string {
	d := a.new()
	d.Write([]byte(s))
	return hex.EncodeToString(d.Sum(nil))
}

// request is what one Authorization header answers: the request and the
// counters of this use of the nonce.
type request struct {
	method   string
	uri      string // the request-target, as sent on the request line
	bodyHash string // H(entity-body), for qop=auth-int only
	nc       uint32
	cnonce   string
}

// secret is what a protection space keeps of the credentials: the
// username as sent and H(username ":" realm ":" password). The password
// itself is not kept. It never leaves the package.
type secret struct {
	user     string // the username, or H(username ":" realm) with userhash
	userStar bool   // user is sent as username* (RFC 8187), being non-ASCII
	base     string // H(unq(username) ":" unq(realm) ":" passwd)
}

// newSecret derives the secret of user and pass for ch.
func newSecret(ch challenge, user, pass string) secret {
	s := secret{user: user, base: ch.alg.h(user + ":" + ch.realm + ":" + pass)}
	switch {
	case ch.userhash:
		s.user = ch.alg.h(user + ":" + ch.realm)
	case !quotable(user):
		s.userStar = true
	}
	return s
}

// response computes the request-digest of RFC 7616 §3.4.1, or of RFC
// 2069 when the challenge had no qop.
func response(ch challenge, s secret, r request) string {
	a := ch.alg
	ha1 := s.base
	if a.sess {
		// RFC 7616 §3.4.2. The cnonce is this request's, as most servers
		// recompute the session key from the header they are given.
		ha1 = a.h(ha1 + ":" + ch.nonce + ":" + r.cnonce)
	}
	a2 := r.method + ":" + r.uri
	if ch.qop == "auth-int" {
		a2 += ":" + r.bodyHash
	}
	ha2 := a.h(a2)
	if ch.qop == "" {
		return a.h(ha1 + ":" + ch.nonce + ":" + ha2)
	}
	return a.h(ha1 + ":" + ch.nonce + ":" + nc(r.nc) + ":" + r.cnonce + ":" + ch.qop + ":" + ha2)
}

func nc(n uint32) string { return fmt.Sprintf("%08x", n) }

// authorization is the value of the Authorization header for r.
func authorization(ch challenge, s secret, r request) string {
	var b strings.Builder
	b.WriteString("Digest ")
	if s.userStar {
		b.WriteString("username*=UTF-8''" + extValue(s.user))
	} else {
		b.WriteString("username=" + quote(s.user))
	}
	b.WriteString(", realm=" + quote(ch.realm))
	b.WriteString(", nonce=" + quote(ch.nonce))
	b.WriteString(", uri=" + quote(r.uri))
	if ch.algGiven {
		b.WriteString(", algorithm=" + ch.alg.name)
	}
	if ch.qop != "" {
		b.WriteString(", qop=" + ch.qop + ", nc=" + nc(r.nc) + ", cnonce=" + quote(r.cnonce))
	}
	b.WriteString(", response=" + quote(response(ch, s, r)))
	if ch.opaque != nil {
		b.WriteString(", opaque=" + quote(*ch.opaque))
	}
	if ch.userhash {
		b.WriteString(", userhash=true")
	}
	return b.String()
}

// quote writes s as a quoted-string.
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// quotable tells whether s can be sent as a quoted-string unchanged:
// printable ASCII only (RFC 7616 §3.4.4 asks for username* otherwise).
func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// extValue percent-encodes s as the value-chars of RFC 8187 §3.2.1.
func extValue(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
