package mqttclient

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/testing/logbuf"
	"github.com/rs/zerolog"
)

// A broker away for five minutes, tried every second, gives one warning
// with what to check, four summaries (at 30 s, 1 m, 2 m and 4 m) and one
// line when it is back; the next outage starts over.
func TestReachabilityLogsOnceThenSummaries(t *testing.T) {
	logs := &logbuf.Buffer{}
	clock := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	r := newReachability("mqtt://127.0.0.1:1883", zerolog.New(logs))
	r.now = func() time.Time { return clock }

	refused := refusedDial(t)
	for range 300 {
		r.failed(refused)
		clock = clock.Add(time.Second)
	}
	r.connected(false)

	recs := logs.Records()
	if got := logs.Count("mqtt broker unreachable; retrying in the background"); got != 1 {
		t.Errorf("first-failure warnings: %d, want 1", got)
	}
	var summaries []string
	for _, rec := range recs {
		if rec["message"] == "mqtt broker still unreachable" {
			summaries = append(summaries, rec["for"].(string))
		}
	}
	if want := []string{"30s", "1m0s", "2m0s", "4m0s"}; strings.Join(summaries, " ") != strings.Join(want, " ") {
		t.Errorf("summaries at %v, want %v", summaries, want)
	}
	first := recs[0]
	if first["broker"] != "mqtt://127.0.0.1:1883" || first["error"] != "connection refused" ||
		!strings.Contains(first["check"].(string), "is the broker running") {
		t.Errorf("first warning: %v", first)
	}
	back := recs[len(recs)-1]
	if back["message"] != "mqtt connected" || back["failed_attempts"] != float64(300) || back["after"] != float64(300000) {
		t.Errorf("recovery line: %v", back)
	}

	r.failed(refused)
	if got := logs.Count("mqtt broker unreachable; retrying in the background"); got != 2 {
		t.Errorf("a new outage after the recovery: %d first-failure warnings, want 2", got)
	}
}

// refusedDial is the error of a real dial to a loopback port nobody
// listens on.
func refusedDial(t *testing.T) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
		t.Skip("something took the port back at once")
	}
	return err
}

func TestCheckNamesWhatToLookAt(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&net.DNSError{Err: "no such host", Name: "broker.invalid", IsNotFound: true}, "does not resolve"},
		{errors.New("failed to connect: CONNACK: not authorized"), "check the credentials"},
		{errors.New("something else"), "the address"},
	}
	for _, tt := range tests {
		if got := check(tt.err); !strings.Contains(got, tt.want) {
			t.Errorf("check(%v) = %q, want it to mention %q", tt.err, got, tt.want)
		}
	}
}
