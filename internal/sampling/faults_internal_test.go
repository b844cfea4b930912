package sampling

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestBackoffSkips(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		limit    time.Duration // Options.MaxBackoff
		outcomes string        // f: the device failed, o: it answered
		skips    []int         // ticks to skip after each outcome
		started  int           // index of the outcome that starts backing off; -1 none
		ended    int           // index of the outcome that ends it; -1 none
	}{
		{"doubling up to the cap", 10 * time.Second, 0, "fffffff", []int{0, 1, 2, 4, 6, 6, 6}, 1, -1},
		{"one failure is not backed off", 10 * time.Second, 0, "fofo", []int{0, 0, 0, 0}, -1, -1},
		{"the first success resets", time.Second, 0, "ffffoff", []int{0, 1, 2, 4, 0, 0, 1}, 1, 4},
		{"an interval over a minute never skips", 2 * time.Minute, 0, "ffff", []int{0, 0, 0, 0}, -1, -1},
		{"a shorter cap", time.Second, 3 * time.Second, "fffff", []int{0, 1, 2, 3, 3}, 1, -1},
		{"turned off", time.Second, -1, "ffff", []int{0, 0, 0, 0}, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackoff(tt.interval, tt.limit)
			started, ended := -1, -1
			for i, o := range tt.outcomes {
				s, e, skip, _, _ := b.record(o == 'f', time.Now())
				if s && started < 0 {
					started = i
				}
				if e && ended < 0 {
					ended = i
				}
				if skip != tt.skips[i] {
					t.Errorf("outcome %d (%c): skip %d, want %d", i, o, skip, tt.skips[i])
				}
				skipped := 0
				for b.skipTick() {
					skipped++
				}
				if skipped != tt.skips[i] {
					t.Errorf("outcome %d (%c): %d ticks skipped, want %d", i, o, skipped, tt.skips[i])
				}
			}
			if started != tt.started || ended != tt.ended {
				t.Errorf("backing off started at %d and ended at %d, want %d and %d", started, ended, tt.started, tt.ended)
			}
		})
	}
}

// FuzzDecode feeds response bodies to Decode: it must never panic, a value
// it returns must encode as a message, and a body declared JSON is only
// accepted if it is JSON.
func FuzzDecode(f *testing.F) {
	seeds := []struct {
		body, contentType string
	}{
		{`{"temperature": 21.5, "unit": "C"}`, "application/json"},
		{`[1, 2, 3]`, "application/json; charset=utf-8"},
		{`123456789012345678901234567890.5e-3`, ""},
		{`"quoted"`, "application/problem+json"},
		{`true`, "text/plain"},
		{`21.5 C`, "text/plain"},
		{`{"a": 1} {"b": 2}`, "application/json"},
		{`{"a": 1`, ""},
		{"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"},
		{"<html><body>Please log in</body></html>", "application/json"},
		{"temp=\xff\xfe", "text/plain"},
		{"{\"s\": \"\xff\"}", "application/json"},
		{strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "application/json"},
		{strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000), ""},
		{"", "application/json"},
		{"  \n\t", ""},
		{"\x00\x01\x02", "application/octet-stream"},
		{`{"n": 1e400}`, "application/json"},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.contentType)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		v, err := Decode(body, contentType)
		if err != nil {
			if v != nil {
				t.Errorf("Decode returned a value %v with the error %v", v, err)
			}
			return
		}
		if _, err := encode(v); err != nil {
			t.Errorf("decoded value %#v does not encode: %v", v, err)
		}
		if s, ok := v.(string); ok && !utf8.ValidString(s) {
			t.Errorf("decoded string is not UTF-8: %q", s)
		}
		trimmed := bytes.TrimSpace(body)
		if strings.Contains(strings.ToLower(contentType), "json") && len(trimmed) > 0 && !json.Valid(trimmed) {
			t.Errorf("body declared %q decoded although it is not JSON: %q", contentType, body)
		}
	})
}
