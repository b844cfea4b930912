package digest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// challengeFrom parses the one usable Digest challenge of header value v.
func challengeFrom(t *testing.T, v string) challenge {
	t.Helper()
	u, _ := url.Parse("http://www.example.org/")
	ch, err := pickChallenge(http.Header{"Www-Authenticate": {v}}, u)
	if err != nil {
		t.Fatalf("challenge %q: %v", v, err)
	}
	return ch
}

// The worked examples of the RFCs, reproduced exactly with their fixed
// client nonces.
func TestResponseVectors(t *testing.T) {
	const (
		rfc7616Nonce  = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
		rfc7616Opaque = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
		rfc7616CNonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
	)
	tests := []struct {
		name       string
		challenge  string
		user, pass string
		uri        string
		cnonce     string
		response   string
		header     string // the whole Authorization value, when given
	}{
		{
			name:      "RFC 7616 §3.9.1 MD5",
			challenge: `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="` + rfc7616Nonce + `", opaque="` + rfc7616Opaque + `"`,
			user:      "Mufasa", pass: "Circle of Life", uri: "/dir/index.html", cnonce: rfc7616CNonce,
			response: "8ca523f5e9506fed4657c9700eebdbec",
			header: `Digest username="Mufasa", realm="http-auth@example.org", nonce="` + rfc7616Nonce + `", uri="/dir/index.html", algorithm=MD5, qop=auth, nc=00000001, cnonce="` + rfc7616CNonce +
				`", response="8ca523f5e9506fed4657c9700eebdbec", opaque="` + rfc7616Opaque + `"`,
		},
		{
			name:      "RFC 7616 §3.9.1 SHA-256",
			challenge: `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="` + rfc7616Nonce + `", opaque="` + rfc7616Opaque + `"`,
			user:      "Mufasa", pass: "Circle of Life", uri: "/dir/index.html", cnonce: rfc7616CNonce,
			response: "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
			header: `Digest username="Mufasa", realm="http-auth@example.org", nonce="` + rfc7616Nonce + `", uri="/dir/index.html", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="` + rfc7616CNonce +
				`", response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="` + rfc7616Opaque + `"`,
		},
		{
			// with the hashes of erratum 4897: the RFC printed values of a
			// draft SHA-512/256
			name:      "RFC 7616 §3.9.2 SHA-512-256 with userhash",
			challenge: `Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true`,
			user:      "J\u00e4s\u00f8n Doe", pass: "Secret, or not?", uri: "/doe.json", cnonce: "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",
			response: "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5",
			header: `Digest username="793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b", realm="api@example.org", nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", uri="/doe.json", algorithm=SHA-512-256, qop=auth, nc=00000001, cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v", ` +
				`response="3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", userhash=true`,
		},
		{
			name:      "RFC 7616 §3.9.2 without userhash: username*",
			challenge: `Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8`,
			user:      "J\u00e4s\u00f8n Doe", pass: "Secret, or not?", uri: "/doe.json", cnonce: "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",
			response: "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5",
			header: `Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm="api@example.org", nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", uri="/doe.json", algorithm=SHA-512-256, qop=auth, nc=00000001, cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v", ` +
				`response="3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS"`,
		},
		{
			name:      "RFC 2617 §3.5 MD5 qop=auth",
			challenge: `Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
			user:      "Mufasa", pass: "Circle Of Life", uri: "/dir/index.html", cnonce: "0a4f113b",
			response: "6629fae49393a05397450978507c4ef1",
			header:   `Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
		},
		{
			name:      "RFC 2069 style MD5 without qop",
			challenge: `Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
			user:      "Mufasa", pass: "Circle Of Life", uri: "/dir/index.html", cnonce: "ignored",
			response: "670fd8c2df070c60b045671b8b24ff02",
			header:   `Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", response="670fd8c2df070c60b045671b8b24ff02", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
		},
		{
			// curl's test 2061
			name:      "SHA-256 without qop, algorithm quoted",
			challenge: `Digest realm="testrealm", nonce="1053604145", algorithm="SHA-256"`,
			user:      "testuser", pass: "testpass", uri: "/2061", cnonce: "ignored",
			response: "9dc55255f1a2537b838311674b621d45346b862a81631bb20e4ce356ef25062d",
			header:   `Digest username="testuser", realm="testrealm", nonce="1053604145", uri="/2061", algorithm=SHA-256, response="9dc55255f1a2537b838311674b621d45346b862a81631bb20e4ce356ef25062d"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := challengeFrom(t, tt.challenge)
			s := newSecret(ch, tt.user, tt.pass)
			r := request{method: "GET", uri: tt.uri, nc: 1, cnonce: tt.cnonce}
			if got := response(ch, s, r); got != tt.response {
				t.Errorf("response: got %s, want %s", got, tt.response)
			}
			if got := authorization(ch, s, r); got != tt.header {
				t.Errorf("Authorization:\n got %s\nwant %s", got, tt.header)
			}
		})
	}
}

// The -sess variants and auth-int, computed step by step from RFC 7616
// §3.4.1-3.4.3 with the hash written out.
func TestResponseSessAndAuthInt(t *testing.T) {
	md5 := func(s string) string { a, _ := lookupAlgorithm("MD5"); return a.h(s) }
	sha := func(s string) string { a, _ := lookupAlgorithm("SHA-256"); return a.h(s) }
	const nonce, cnonce = "n0nce", "cn0nce"
	tests := []struct {
		name      string
		challenge string
		body      string
		want      string
	}{
		{
			name:      "MD5-sess",
			challenge: `Digest realm="r", nonce="n0nce", qop="auth", algorithm=MD5-sess`,
			want:      md5(md5(md5("u:r:p")+":"+nonce+":"+cnonce) + ":" + nonce + ":00000007:" + cnonce + ":auth:" + md5("GET:/x")),
		},
		{
			name:      "SHA-256-sess",
			challenge: `Digest realm="r", nonce="n0nce", qop="auth", algorithm=SHA-256-sess`,
			want:      sha(sha(sha("u:r:p")+":"+nonce+":"+cnonce) + ":" + nonce + ":00000007:" + cnonce + ":auth:" + sha("GET:/x")),
		},
		{
			name:      "SHA-256 auth-int",
			challenge: `Digest realm="r", nonce="n0nce", qop="auth-int", algorithm=SHA-256`,
			body:      `{"on":true}`,
			want:      sha(sha("u:r:p") + ":" + nonce + ":00000007:" + cnonce + ":auth-int:" + sha("GET:/x:"+sha(`{"on":true}`))),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := challengeFrom(t, tt.challenge)
			r := request{method: "GET", uri: "/x", nc: 7, cnonce: cnonce, bodyHash: ch.alg.h(tt.body)}
			if got := response(ch, newSecret(ch, "u", "p"), r); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{`plain`, `"plain"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
	}
	for _, tt := range tests {
		if got := quote(tt.in); got != tt.want {
			t.Errorf("quote(%q): got %s, want %s", tt.in, got, tt.want)
		}
		// and the parser reads it back
		cs, err := parseAuthenticate("Digest realm=" + quote(tt.in))
		if err != nil || cs[0].params["realm"] != tt.in {
			t.Errorf("read back %s: %v %v", quote(tt.in), cs, err)
		}
	}
	if strings.Contains(extValue("a b"), " ") {
		t.Error("extValue left a space")
	}
}
