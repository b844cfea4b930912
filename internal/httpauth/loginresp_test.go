package httpauth

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/http-connector/http-connector/internal/mapping"
)

func TestRPCError(t *testing.T) {
	secrets := redactor{}
	secrets.add("hunter22")
	tests := []struct {
		name, body, want string
	}{
		{"S7 login failed", `{"jsonrpc":"2.0","id":1,"error":{"code":100,"message":"Login failed"}}`, `JSON-RPC error 100 "Login failed"`},
		{"S7 permission denied", `{"jsonrpc":"2.0","id":1,"error":{"code":2,"message":"Permission denied"}}`, `JSON-RPC error 2 "Permission denied"`},
		{"no message", `{"error":{"code":-32601}}`, `JSON-RPC error -32601`},
		{"string code", `{"error":{"code":"E_AUTH","message":"no"}}`, `JSON-RPC error "E_AUTH" "no"`},
		{"object message", `{"error":{"code":1,"message":{"de":"Falsch"}}}`, `JSON-RPC error 1 {"de":"Falsch"}`},
		{"empty", `{"error":{}}`, `JSON-RPC error`},
		{"echoed password", `{"error":{"code":3,"message":"bad password hunter22"}}`, `JSON-RPC error 3 "bad password <redacted>"`},
		{"folded and bounded", `{"error":{"code":1,"message":"line one\nline\ttwo ` + strings.Repeat("é", 100) + `"}}`,
			`JSON-RPC error 1 "line one line two ` + strings.Repeat("é", 51) + `…"`},
		{"control characters quoted", `{"error":{"code":1,"message":"\u001b[31mred"}}`, `JSON-RPC error 1 "\x1b[31mred"`},
		{"huge code", `{"error":{"code":1` + strings.Repeat("0", 100) + `}}`, `JSON-RPC error 1` + strings.Repeat("0", 23) + `…`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := decodeJSON([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := rpcError(doc, secrets); !ok || got != tt.want {
				t.Errorf("got %s (%v), want %s", got, ok, tt.want)
			}
		})
	}
	for _, body := range []string{`{"result":{"token":"x"}}`, `{"error":"invalid"}`, `{"error":null}`, `[{"error":{}}]`, `"error"`, `null`} {
		doc, _ := decodeJSON([]byte(body))
		if got, ok := rpcError(doc, secrets); ok {
			t.Errorf("%s: got %s, want no JSON-RPC error", body, got)
		}
	}
}

func TestElideStrings(t *testing.T) {
	tests := []struct{ in, want string }{
		{`jq: expected an object but got: string ("t0k3n")`, `jq: expected an object but got: string ("…")`},
		{`jq: cannot iterate over: object ({"token":"a\"b","n":1})`, `jq: cannot iterate over: object ({"…":"…","…":1})`},
		{`unterminated "abc`, `unterminated "…"`},
		{`no strings`, `no strings`},
	}
	for _, tt := range tests {
		if got := elideStrings(tt.in); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.in, got, tt.want)
		}
	}
}

// The login answer comes from the device: whatever it holds, reading a
// JSON-RPC error or an ErrorJQ output from it neither panics nor gives
// more than a line of bounded, valid text.
func FuzzRPCError(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"error":{"code":100,"message":"Login failed"}}`,
		`{"error":{"code":"x","message":{"a":[1,2,{"b":null}]}}}`,
		`{"error":{"code":1e999,"message":"\u0000\ud800"}}`,
		`{"error":{}}`, `[]`, `{"error":[]}`, `{"result":{"token":"t"}}`,
	} {
		f.Add([]byte(s))
	}
	secrets := redactor{}
	secrets.add("s3cret")
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := decodeJSON(body)
		if err != nil {
			return
		}
		msgs := []string{}
		if m, ok := rpcError(doc, secrets); ok {
			if !strings.HasPrefix(m, "JSON-RPC error") {
				t.Errorf("%q: %q", body, m)
			}
			msgs = append(msgs, m)
		}
		if m, failed := refusalMessage(doc, secrets); failed {
			msgs = append(msgs, m)
		}
		for _, m := range msgs {
			if !utf8.ValidString(m) || strings.ContainsAny(m, "\n\r") || len(m) > 1200 || strings.Contains(m, "s3cret") {
				t.Errorf("%q: message %q is not one bounded, valid, redacted line", body, m)
			}
		}
	})
}

// The relogin check reads the bodies of the answers to the caller:
// whatever they hold and however long they are, the caller reads them
// as the device sent them.
func FuzzPeekBody(f *testing.F) {
	for _, s := range []string{`{"error":{"code":2}}`, `{"error":{"code":2}} trailing`, `not json`, ``, `{"result":1}`} {
		f.Add([]byte(s), uint16(64))
		f.Add([]byte(s), uint16(3))
	}
	p, err := mapping.Compile(".error.code? == 2", mapping.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, max uint16) {
		over, rc := peekBody(context.Background(), io.NopCloser(bytes.NewReader(body)), int64(max), p)
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("%q (max %d): read back %q, %v", body, max, got, err)
		}
		if over && len(body) > int(max) {
			t.Errorf("%q: a body over max %d was checked", body, max)
		}
	})
}
