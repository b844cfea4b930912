package digest_test

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// device is a Digest-protected HTTP server written the way an embedded
// device's is, and independently of package digest: random nonces that go
// stale after a number of uses or an age, nonce counts that may never be
// used twice, and checks of everything the client sends. The client
// mistakes it notices (a wrong uri, realm or qop, a reused nonce count or
// client nonce) are answered 400 and listed in problems, which tests
// assert empty.
type device struct {
	realm     string
	algorithm string // "MD5", "MD5-sess", "SHA-256", "SHA-256-sess"; "" sends none (MD5)
	qop       string // "auth", "auth-int", or "" for RFC 2069
	user      string
	opaque    string
	domain    string
	maxUses   int           // a nonce goes stale after this many uses; 0: never
	maxAge    time.Duration // a nonce goes stale after this long on the device clock; 0: never
	nextNonce bool          // hand a new nonce in Authentication-Info on each success

	mu       sync.Mutex
	password string
	clock    time.Time
	nonces   map[string]*nonceUse
	order    []string // nonces in the order they were issued
	stats    deviceStats
	problems []string
	bodies   []string // bodies of the requests served
}

type nonceUse struct {
	issued  time.Time
	uses    int
	ncs     []uint64 // nonce counts in order of arrival
	cnonces map[string]bool
}

// deviceStats counts what the device saw.
type deviceStats struct {
	Requests     int // all requests
	Unauthorized int // 401 answers, for whatever reason
	Stale        int // 401 answers with stale=true
	Refused      int // 401 answers to a wrong response or username
	OK           int // requests served
}

func newDevice(password string) *device {
	return &device{realm: "device@example.org", algorithm: "SHA-256", qop: "auth", user: "admin", opaque: "0paque", password: password, clock: time.Unix(1_700_000_000, 0), nonces: map[string]*nonceUse{}}
}

func (d *device) setPassword(p string) {
	d.mu.Lock()
	d.password = p
	d.mu.Unlock()
}

func (d *device) advance(by time.Duration) {
	d.mu.Lock()
	d.clock = d.clock.Add(by)
	d.mu.Unlock()
}

func (d *device) snapshot() (deviceStats, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats, append([]string(nil), d.problems...)
}

// ncsOf returns the nonce counts seen with the i-th nonce issued.
func (d *device) ncsOf(i int) []uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]uint64(nil), d.nonces[d.order[i]].ncs...)
}

func (d *device) hash() hash.Hash {
	if strings.HasPrefix(d.algorithm, "SHA-256") {
		return sha256.New()
	}
	return md5.New()
}

func (d *device) h(s string) string {
	x := d.hash()
	io.WriteString(x, s)
	return hex.EncodeToString(x.Sum(nil))
}

// issue makes a fresh nonce; the caller holds mu.
func (d *device) issue() string {
	b := make([]byte, 18)
	rand.Read(b)
	n := base64.StdEncoding.EncodeToString(b)
	d.nonces[n] = &nonceUse{issued: d.clock, cnonces: map[string]bool{}}
	d.order = append(d.order, n)
	return n
}

// challenge answers 401; the caller holds mu.
func (d *device) challenge(w http.ResponseWriter, stale bool) {
	v := fmt.Sprintf(`Digest realm="%s", nonce="%s"`, d.realm, d.issue())
	if d.qop != "" {
		v += fmt.Sprintf(`, qop="%s"`, d.qop)
	}
	if d.algorithm != "" {
		v += ", algorithm=" + d.algorithm
	}
	if d.opaque != "" {
		v += fmt.Sprintf(`, opaque="%s"`, d.opaque)
	}
	if d.domain != "" {
		v += fmt.Sprintf(`, domain="%s"`, d.domain)
	}
	if stale {
		v += ", stale=true"
		d.stats.Stale++
	}
	// a Basic challenge too, as many devices send, which the client must pass over
	w.Header().Add("WWW-Authenticate", `Basic realm="`+d.realm+`"`)
	w.Header().Add("WWW-Authenticate", v)
	d.stats.Unauthorized++
	http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
}

func (d *device) problem(w http.ResponseWriter, format string, args ...any) {
	d.problems = append(d.problems, fmt.Sprintf(format, args...))
	http.Error(w, "400 Bad Request", http.StatusBadRequest)
}

// parseAuthorization reads the parameters of a Digest Authorization header.
func parseAuthorization(v string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(v, "Digest ")
	if !ok {
		return nil, false
	}
	param := regexp.MustCompile(`(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))`)
	unescape := regexp.MustCompile(`\\(.)`)
	p := map[string]string{}
	for _, m := range param.FindAllStringSubmatch(rest, -1) {
		val := m[3]
		if m[3] == "" {
			val = unescape.ReplaceAllString(m[2], "$1")
		}
		p[m[1]] = val
	}
	return p, true
}

func (d *device) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stats.Requests++
	p, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		d.challenge(w, false)
		return
	}
	for _, k := range []string{"username", "realm", "nonce", "uri", "response"} {
		if p[k] == "" {
			d.problem(w, "missing %s", k)
			return
		}
	}
	switch {
	case p["realm"] != d.realm:
		d.problem(w, "realm %q, want %q", p["realm"], d.realm)
		return
	case p["uri"] != r.RequestURI:
		d.problem(w, "uri %q for request-target %q", p["uri"], r.RequestURI)
		return
	case p["algorithm"] != d.algorithm:
		d.problem(w, "algorithm %q, want %q", p["algorithm"], d.algorithm)
		return
	case p["opaque"] != d.opaque:
		d.problem(w, "opaque %q, want %q", p["opaque"], d.opaque)
		return
	case p["qop"] != firstQop(d.qop):
		d.problem(w, "qop %q, want %q", p["qop"], firstQop(d.qop))
		return
	}
	var nc uint64
	if d.qop != "" {
		if len(p["nc"]) != 8 || p["cnonce"] == "" {
			d.problem(w, "nc %q cnonce %q", p["nc"], p["cnonce"])
			return
		}
		var err error
		if nc, err = strconv.ParseUint(p["nc"], 16, 32); err != nil || nc == 0 {
			d.problem(w, "nc %q", p["nc"])
			return
		}
	}
	// the expected response, RFC 7616 §3.4.1
	ha1 := d.h(d.user + ":" + d.realm + ":" + d.password)
	if strings.HasSuffix(d.algorithm, "-sess") {
		ha1 = d.h(ha1 + ":" + p["nonce"] + ":" + p["cnonce"])
	}
	a2 := r.Method + ":" + p["uri"]
	if p["qop"] == "auth-int" {
		a2 += ":" + d.h(string(body))
	}
	want := d.h(ha1 + ":" + p["nonce"] + ":" + d.h(a2))
	if d.qop != "" {
		want = d.h(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":" + p["qop"] + ":" + d.h(a2))
	}
	if p["username"] != d.user || p["response"] != want {
		d.stats.Refused++
		d.challenge(w, false)
		return
	}
	n := d.nonces[p["nonce"]]
	if n == nil || d.maxUses > 0 && n.uses >= d.maxUses || d.maxAge > 0 && d.clock.Sub(n.issued) >= d.maxAge {
		d.challenge(w, true) // right credentials, old nonce
		return
	}
	if d.qop != "" {
		for _, seen := range n.ncs {
			if seen == nc {
				d.problem(w, "nc %08x used twice with one nonce", nc)
				return
			}
		}
		if n.cnonces[p["cnonce"]] {
			d.problem(w, "cnonce %q used twice", p["cnonce"])
			return
		}
		n.ncs = append(n.ncs, nc)
		n.cnonces[p["cnonce"]] = true
	}
	n.uses++
	d.stats.OK++
	d.bodies = append(d.bodies, string(body))
	if d.nextNonce {
		w.Header().Set("Authentication-Info", fmt.Sprintf(`nextnonce="%s", qop=%s, rspauth="unchecked"`, d.issue(), firstQop(d.qop)))
	}
	if r.Method == http.MethodPost {
		w.Write(body)
		return
	}
	io.WriteString(w, "ok")
}

func firstQop(q string) string {
	first, _, _ := strings.Cut(q, ",")
	return first
}

// check fails the test on every problem the device noticed.
func (d *device) check(t *testing.T) {
	t.Helper()
	_, problems := d.snapshot()
	for _, p := range problems {
		t.Errorf("device: %s", p)
	}
}
