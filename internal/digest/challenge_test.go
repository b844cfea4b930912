package digest

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseAuthenticate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []authChallenge
	}{
		{
			name: "one challenge",
			in:   `Digest realm="x", nonce="abc"`,
			want: []authChallenge{{scheme: "Digest", params: map[string]string{"realm": "x", "nonce": "abc"}}},
		},
		{
			name: "commas and escaped quotes inside quotes",
			in:   `Digest realm="a, b=\"c\"", qop="auth,auth-int", nonce=n`,
			want: []authChallenge{{scheme: "Digest", params: map[string]string{"realm": `a, b="c"`, "qop": "auth,auth-int", "nonce": "n"}}},
		},
		{
			name: "several challenges in one header, RFC 9110 example",
			in:   `Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`,
			want: []authChallenge{
				{scheme: "Newauth", params: map[string]string{"realm": "apps", "type": "1", "title": `Login to "apps"`}},
				{scheme: "Basic", params: map[string]string{"realm": "simple"}},
			},
		},
		{
			name: "token68 then a challenge, empty list elements, white space around =",
			in:   `Negotiate YWxhZGRpbjpvcGVu==, , Digest  realm = "r" ,nonce="n",`,
			want: []authChallenge{
				{scheme: "Negotiate", token68: "YWxhZGRpbjpvcGVu==", params: map[string]string{}},
				{scheme: "Digest", params: map[string]string{"realm": "r", "nonce": "n"}},
			},
		},
		{
			name: "scheme alone, parameter names in any case",
			in:   `Bearer, DIGEST Realm="r", NONCE="n"`,
			want: []authChallenge{
				{scheme: "Bearer", params: map[string]string{}},
				{scheme: "DIGEST", params: map[string]string{"realm": "r", "nonce": "n"}},
			},
		},
		{
			name: "a parameter given twice is remembered",
			in:   `Digest realm="r", realm="s"`,
			want: []authChallenge{{scheme: "Digest", params: map[string]string{"realm": "s"}, dup: "realm"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAuthenticate(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseAuthenticateErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unterminated quote", `Digest realm="x, nonce=y`, `malformed header at offset 13: unterminated quoted string`},
		{"backslash at the end", `Digest realm="x\`, `malformed header at offset 13: unterminated quoted string`},
		{"parameter without value", `Digest nonce="n", realm=, qop=auth`, `malformed header at offset 23: parameter "realm" has no value`},
		{"two values", `Digest realm=a b`, `malformed header at offset 15: expected a comma, found 'b'`},
		{"parameter first", `realm="x"`, `malformed header at offset 5: parameter "realm" before any auth scheme`},
		{"stray character", `Digest realm="x", @`, `malformed header at offset 18: expected an auth scheme or parameter`},
		{"control character", "Digest realm=\"a\x01\"", `malformed header at offset 15: control character in quoted string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseAuthenticate(tt.in)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

func TestPickChallenge(t *testing.T) {
	u, _ := url.Parse("http://device.local:8080/rpc/Switch.GetStatus?id=0")
	tests := []struct {
		name    string
		headers []string
		alg     string
		qop     string
		realm   string
		domain  []string
		stale   bool
	}{
		{
			name:    "SHA-256 preferred over MD5 in one header",
			headers: []string{`Digest realm="r", nonce="1", algorithm=MD5, qop="auth", Digest realm="r", nonce="2", algorithm=SHA-256, qop="auth"`},
			alg:     "SHA-256", qop: "auth", realm: "r",
		},
		{
			name:    "SHA-256 preferred over MD5 across headers, Basic ignored",
			headers: []string{`Basic realm="r"`, `Digest realm="r", nonce="1", qop="auth"`, `Digest realm="r", nonce="2", algorithm=sha-256, qop=auth`},
			alg:     "SHA-256", qop: "auth", realm: "r",
		},
		{
			name:    "SHA-512-256 is the strongest",
			headers: []string{`Digest realm="r", nonce="1", algorithm=SHA-256, qop="auth"`, `Digest realm="r", nonce="2", algorithm=SHA-512-256, qop="auth"`},
			alg:     "SHA-512-256", qop: "auth", realm: "r",
		},
		{
			name:    "an unsupported algorithm is passed over",
			headers: []string{`Digest realm="r", nonce="1", algorithm=SHA-512, qop="auth"`, `Digest realm="r", nonce="2", algorithm=MD5, qop="auth"`},
			alg:     "MD5", qop: "auth", realm: "r",
		},
		{
			name:    "a malformed header is passed over",
			headers: []string{`Digest realm="r`, `Digest realm="r", nonce="2"`},
			alg:     "MD5", realm: "r",
		},
		{
			name:    "auth preferred over auth-int, stale, domain of this origin only",
			headers: []string{`Digest realm="r", nonce="1", qop="auth-int, auth", stale=TRUE, domain="/rpc http://device.local:8080/shelly https://other/x"`},
			alg:     "MD5", qop: "auth", realm: "r", stale: true, domain: []string{"/rpc", "/shelly"},
		},
		{
			name:    "auth-int alone",
			headers: []string{`Digest realm="r", nonce="1", qop="auth-int"`},
			alg:     "MD5", qop: "auth-int", realm: "r",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := pickChallenge(http.Header{"Www-Authenticate": tt.headers}, u)
			if err != nil {
				t.Fatal(err)
			}
			if ch.alg.name != tt.alg || ch.qop != tt.qop || ch.realm != tt.realm || ch.stale != tt.stale || !reflect.DeepEqual(ch.domain, tt.domain) {
				t.Errorf("got alg %s qop %q realm %q stale %v domain %q, want %s %q %q %v %q",
					ch.alg.name, ch.qop, ch.realm, ch.stale, ch.domain, tt.alg, tt.qop, tt.realm, tt.stale, tt.domain)
			}
		})
	}
}

func TestPickChallengeErrors(t *testing.T) {
	u, _ := url.Parse("http://device.local/")
	tests := []struct {
		name    string
		headers []string
		want    string
	}{
		{"no Digest at all", []string{`Basic realm="r"`, `Bearer`}, "no Digest challenge"},
		{"unsupported algorithm", []string{`Digest realm="r", nonce="1", algorithm=SHA-512`}, `unsupported algorithm "SHA-512"`},
		{"the first reason is given", []string{`Digest realm="r", nonce="1", algorithm=SHA-512`, `Digest realm="r", nonce="1", qop="auth-conf"`}, `unsupported algorithm "SHA-512"`},
		{"unsupported qop", []string{`Digest realm="r", nonce="1", qop="auth-conf"`}, `unsupported qop "auth-conf"`},
		{"missing nonce", []string{`Digest realm="r"`}, "missing nonce"},
		{"missing realm", []string{`Digest nonce="n"`}, "missing realm"},
		{"duplicate parameter", []string{`Digest realm="r", nonce="1", nonce="2"`}, `parameter "nonce" given twice`},
		{"sess without qop", []string{`Digest realm="r", nonce="1", algorithm=MD5-sess`}, "algorithm MD5-sess needs a qop, and the challenge offers none"},
		{"token68", []string{`Digest abc==`}, "a token68 instead of parameters"},
		{"malformed", []string{`Digest realm="r`}, `WWW-Authenticate "Digest realm=\"r": malformed header at offset 13: unterminated quoted string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pickChallenge(http.Header{"Www-Authenticate": tt.headers}, u)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

func TestParseParams(t *testing.T) {
	p, err := parseParams(`nextnonce="abc", qop=auth, rspauth="d3", cnonce="x", nc=00000001`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"nextnonce": "abc", "qop": "auth", "rspauth": "d3", "cnonce": "x", "nc": "00000001"}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got %v, want %v", p, want)
	}
}

// The WWW-Authenticate header comes from the device: whatever it holds,
// parsing neither panics nor loses a parameter written back quoted.
func FuzzParseAuthenticate(f *testing.F) {
	for _, s := range []string{
		`Digest realm="a, b=\"c\"", qop="auth,auth-int", nonce=n, algorithm=SHA-256, stale=true`,
		`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`,
		`Negotiate YWxhZGRpbjpvcGVu==, , Digest  realm = "r" ,nonce="n",`,
		`Digest realm="x\`, `realm=`, `,,,`, `Digest realm=, nonce="n"`,
	} {
		f.Add(s)
	}
	u, _ := url.Parse("http://device.local/x")
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := parseAuthenticate(s)
		_, _ = pickChallenge(http.Header{"Www-Authenticate": {s}}, u)
		if err != nil {
			return
		}
		for _, c := range cs {
			if c.token68 != "" || c.dup != "" || len(c.params) == 0 {
				continue
			}
			var b strings.Builder
			b.WriteString("Digest ")
			i := 0
			for k, v := range c.params {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(k + "=" + quote(v))
				i++
			}
			back, err := parseAuthenticate(b.String())
			if err != nil || len(back) != 1 || !reflect.DeepEqual(back[0].params, c.params) {
				t.Fatalf("%q: params %q written back as %s read %+v, %v", s, c.params, b.String(), back, err)
			}
		}
	})
}
