package sampling

import (
	"testing"
)

// slowValue is a data point's value the decoding way: the reference the
// raw path must agree with.
func slowValue(body []byte, contentType, name string) ([]byte, error) {
	v, err := Decode(body, contentType)
	if err != nil {
		return nil, err
	}
	if m, ok := v.(map[string]any); ok {
		if member, ok := m[name]; ok {
			v = member
		}
	}
	return encode(v)
}

func TestRawValue(t *testing.T) {
	tests := []struct {
		name, body, contentType, point string
		raw                            bool // taken by the raw path
	}{
		{"number member", `{"t": 71.30, "u": "F"}`, "application/json", "t", true},
		{"big number kept", `{"big": 12345678901234567890}`, "", "big", true},
		{"string member", `{"u": "F <ok> & fine"}`, "application/json", "u", true},
		{"last duplicate wins", `{"t": 1, "t": 2}`, "application/json", "t", true},
		{"escaped key", `{"\u0074": 3}`, "application/json", "t", true},
		{"literal members", `{"a": true, "b": null, "t": false}`, "", "t", true},
		{"nested member", `{"t": {"z": 1, "a": [1, 2]}}`, "application/json", "t", false},
		{"escaped string", `{"t": "caf\u00e9"}`, "application/json", "t", false},
		{"line separator", "{\"t\": \"a\u2028b\"}", "application/json", "t", false},
		{"no such member: the whole object", `{"z": 1, "a": 2}`, "application/json", "t", false},
		{"scalar body", ` 42 `, "text/plain", "t", true},
		{"string body", `"on"`, "application/json", "t", true},
		{"array body", `[1, 2]`, "application/json", "t", false},
		{"text", `OK <ready>`, "text/plain", "t", false},
		{"invalid JSON", `{"t": `, "application/json", "t", false},
		{"not UTF-8", "{\"t\": \"\xff\"}", "application/json", "t", false},
		{"empty", ``, "application/json", "t", false},
		{"member after nested values", `{"a": {"b": "}\"]"}, "c": [[{}]], "t": -0.5e3}`, "", "t", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rb rawBody
			rb.check([]byte(tt.body), tt.contentType)
			got, ok := rb.value(tt.point)
			if ok != tt.raw {
				t.Fatalf("raw path taken: %v, want %v", ok, tt.raw)
			}
			if !ok {
				return
			}
			want, err := slowValue([]byte(tt.body), tt.contentType, tt.point)
			if err != nil {
				t.Fatalf("the decoding way fails where the raw path succeeds: %v", err)
			}
			if string(got) != string(want) {
				t.Errorf("value: got %s, want %s (the decoding way)", got, want)
			}
		})
	}
}

// FuzzRawValue checks that the raw path writes exactly what the decoding
// way writes, whenever it takes a value.
func FuzzRawValue(f *testing.F) {
	for _, s := range []string{
		`{"t": 71.30, "u": "F"}`, `{"t": 1, "t": 2}`, `{"\u0074": 3}`, `{"a": {"b": "}\"]"}, "t": -0.5e3}`,
		`42`, `"on"`, `[1, {"t": 2}]`, `{"t": "caf\u00e9"}`, `{"t": "é"}`, `{}`, `{"t":{}}`, ` {"t" : null } `,
	} {
		f.Add([]byte(s), "application/json", "t")
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType, name string) {
		var rb rawBody
		rb.check(body, contentType)
		got, ok := rb.value(name)
		if !ok {
			return
		}
		want, err := slowValue(body, contentType, name)
		if err != nil {
			t.Fatalf("body %q: the decoding way fails (%v) where the raw path gives %s", body, err, got)
		}
		if string(got) != string(want) {
			t.Errorf("body %q, data point %q: raw %s, decoded %s", body, name, got, want)
		}
	})
}
