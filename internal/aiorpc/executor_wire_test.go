package aiorpc

import (
	"bytes"
	"maps"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/mqttclient"
)

func TestParseTopicPattern(t *testing.T) {
	values := map[string]string{"executorId": "exec-1", "commandName": "grp::act", "ex:site": "plant/hall-2"}
	tests := []struct {
		name, pattern string
		wantFilter    string
		topic         string
		wantTokens    map[string]string
	}{
		{"plain", "assets/a1/reset", "assets/a1/reset", "assets/a1/reset", nil},
		{"resolved tokens", "mgmt/{executorId}/{commandName}", "mgmt/exec-1/grp::act", "mgmt/exec-1/grp::act",
			map[string]string{"executorId": "exec-1", "commandName": "grp::act"}},
		{"open token", "mgmt/{executorId}/{ex:unit}/run", "mgmt/exec-1/+/run", "mgmt/exec-1/u7/run",
			map[string]string{"executorId": "exec-1", "ex:unit": "u7"}},
		{"value of several levels", "{ex:site}/{ex:unit}/{modelId}", "plant/hall-2/+/+", "plant/hall-2/u7/dtmi:x;1",
			map[string]string{"ex:site": "plant/hall-2", "ex:unit": "u7", "modelId": "dtmi:x;1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseTopicPattern(tt.pattern, values)
			if err != nil {
				t.Fatal(err)
			}
			if p.filter != tt.wantFilter {
				t.Errorf("filter %q, want %q", p.filter, tt.wantFilter)
			}
			if !mqttclient.MatchTopic(p.filter, tt.topic) {
				t.Errorf("filter %q does not match %q", p.filter, tt.topic)
			}
			if got := p.tokensOf(tt.topic); !maps.Equal(got, tt.wantTokens) {
				t.Errorf("tokens %v, want %v", got, tt.wantTokens)
			}
		})
	}
}

func TestParseTopicPatternInvalid(t *testing.T) {
	values := map[string]string{"executorId": "exec 1", "commandName": "c", "ex:slash": "/a"}
	tests := []struct{ pattern, want string }{
		{"", "empty request topic"},
		{"$sys/x", `request topic "$sys/x" starts with $`},
		{"a//b", `request topic "a//b": level 2 is empty`},
		{"a/b/", `request topic "a/b/": level 3 is empty`},
		{"a/+/b", `request topic "a/+/b": level "+" holds a character not allowed in a topic`},
		{"a/#", `request topic "a/#": level "#" holds a character not allowed in a topic`},
		{"a/b c", `request topic "a/b c": level "b c" holds a character not allowed in a topic`},
		{"a/x{y}", `request topic "a/x{y}": level "x{y}" holds a character not allowed in a topic`},
		{"a/{}", `request topic "a/{}": token "{}" is not a valid token name`},
		{"a/{executorId}", `request topic "a/{executorId}": value "exec 1" of token {executorId} is not a valid topic`},
		{"a/{ex:slash}", `request topic "a/{ex:slash}": value "/a" of token {ex:slash} is not a valid topic`},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			_, err := parseTopicPattern(tt.pattern, values)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestValidReplacement(t *testing.T) {
	for s, want := range map[string]bool{
		"clients/inv/cmd": true, "a": true, "a:b;c": true,
		"": false, "/a": false, "a/": false, "a//b": false, "a/+": false, "a/#": false,
		"a b": false, `a"b`: false, "a{b": false, "a\x00": false, "ä": false,
	} {
		if got := validReplacement(s); got != want {
			t.Errorf("validReplacement(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestISODuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                    "PT0S",
		30 * time.Second:                     "PT30S",
		200 * time.Millisecond:               "PT0.2S",
		90 * time.Second:                     "PT1M30S",
		2*time.Hour + 500*time.Millisecond:   "PT2H0.5S",
		25*time.Hour + time.Minute:           "PT25H1M",
		time.Minute + 1500*time.Microsecond:  "PT1M0.0015S",
		-time.Second:                         "PT0S",
		10*time.Minute + 10*time.Millisecond: "PT10M0.01S",
		3*time.Hour + 2*time.Minute + time.Second: "PT3H2M1S",
	} {
		if got := isoDuration(d); got != want {
			t.Errorf("isoDuration(%s) = %s, want %s", d, got, want)
		}
	}
}

func TestResponseExpiry(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		left   time.Duration
		want   uint32
		wantOK bool
	}{
		{10 * time.Second, 10, true},
		{7500 * time.Millisecond, 8, true}, // rounded up
		{time.Nanosecond, 1, true},
		{0, 0, false},
		{-time.Second, 0, false},
		{200 * 365 * 24 * time.Hour, 1<<32 - 1, true},
	}
	for _, tt := range tests {
		got, ok := responseExpiry(now.Add(tt.left), now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s left: %d, %v; want %d, %v", tt.left, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestParseProtocolVersion(t *testing.T) {
	for v, want := range map[string]int{"1.0": 1, "1.7": 1, "2.0": 2, "01.0": 1} {
		if got, ok := parseProtocolVersion(v); !ok || got != want {
			t.Errorf("parseProtocolVersion(%q) = %d, %v; want %d", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "1", "1.", ".0", "a.0", "1.x", "1.0.0", "-1.0", "70000.0"} {
		if _, ok := parseProtocolVersion(v); ok {
			t.Errorf("parseProtocolVersion(%q) accepted", v)
		}
	}
}

func TestResponseCache(t *testing.T) {
	c := newResponseCache(2)
	t0 := time.Unix(1000, 0)
	corr := func(b byte) []byte { return bytes.Repeat([]byte{b}, 16) }
	resp := &mqttclient.Message{Payload: []byte("r")}

	a, _, st := c.lookup("clients/x/t", corr(1), t0, t0.Add(10*time.Second))
	if st != cacheNew {
		t.Fatalf("first lookup: state %d, want new", st)
	}
	if _, _, st := c.lookup("clients/x/t", corr(1), t0, t0.Add(10*time.Second)); st != cacheInFlight {
		t.Errorf("duplicate under way: state %d, want in flight", st)
	}
	if waiting := c.complete(a, resp); len(waiting) != 1 || !waiting[0].Equal(t0.Add(10*time.Second)) {
		t.Errorf("waiting %v, want the duplicate's expiry", waiting)
	}
	if _, got, st := c.lookup("clients/x/t", corr(1), t0.Add(9*time.Second), t0.Add(19*time.Second)); st != cacheDone || got != resp {
		t.Errorf("duplicate after the answer: state %d, response %v; want done, the cached one", st, got)
	}
	if _, _, st := c.lookup("clients/y/t", corr(1), t0, t0.Add(10*time.Second)); st != cacheNew {
		t.Errorf("other response topic, same correlation data: state %d, want new", st)
	}
	// A third live entry evicts the one expiring first (clients/x/t, at 10 s
	// like clients/y/t; either may go).
	c.lookup("clients/z/t", corr(1), t0, t0.Add(20*time.Second))
	if n := c.len(); n != 2 {
		t.Errorf("%d entries, want the bound 2", n)
	}
	if _, _, st := c.lookup("clients/z/t", corr(1), t0, t0.Add(20*time.Second)); st != cacheInFlight {
		t.Errorf("the latest-expiring entry was evicted")
	}
	// At its expiry an entry goes: the request is new again.
	if _, _, st := c.lookup("clients/z/t", corr(1), t0.Add(20*time.Second), t0.Add(30*time.Second)); st != cacheNew {
		t.Errorf("after the expiry: state %d, want new", st)
	}
	if n := c.len(); n != 1 {
		t.Errorf("%d entries after the expiries, want 1", n)
	}
}
