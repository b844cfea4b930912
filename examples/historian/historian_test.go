package historian

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/testing/examplerun"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

var start = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// history asks h's handler for a range and decodes the answer.
func history(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, body
}

func TestHistoryRanges(t *testing.T) {
	now := start.Add(10 * time.Second)
	h := New(Options{Start: start, Now: func() time.Time { return now }})
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	tests := []struct {
		name, from, to string
		status         int
		want           []string // the readings' timestamps
	}{
		{"from included, to excluded", "2025-06-01T12:00:02.000Z", "2025-06-01T12:00:04.000Z", 200, []string{"2025-06-01T12:00:02.000Z", "2025-06-01T12:00:03.000Z"}},
		{"between readings", "2025-06-01T12:00:02.001Z", "2025-06-01T12:00:03.999Z", 200, []string{"2025-06-01T12:00:03.000Z"}},
		{"before the start", "2025-06-01T11:00:00Z", "2025-06-01T12:00:01.5Z", 200, []string{"2025-06-01T12:00:00.000Z", "2025-06-01T12:00:01.000Z"}},
		{"not recorded yet", "2025-06-01T12:00:09.5Z", "2025-06-01T12:00:30Z", 200, []string{"2025-06-01T12:00:10.000Z"}},
		{"empty", "2025-06-01T12:00:02.1Z", "2025-06-01T12:00:02.9Z", 200, nil},
		{"backwards", "2025-06-01T12:00:04Z", "2025-06-01T12:00:02Z", 400, nil},
		{"not a time", "yesterday", "2025-06-01T12:00:02Z", 400, nil},
	}
	for _, tt := range tests {
		code, body := history(t, srv.URL+"/api/history?from="+tt.from+"&to="+tt.to)
		var got []string
		readings, _ := body["readings"].([]any)
		for _, r := range readings {
			got = append(got, r.(map[string]any)["timestamp"].(string))
		}
		if code != tt.status || strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s: %d %v, want %d %v", tt.name, code, got, tt.status, tt.want)
		}
	}
	h.SetDown(true)
	if code, body := history(t, srv.URL+"/api/history?from=2025-06-01T12:00:00Z&to=2025-06-01T12:00:01Z"); code != 503 || body["detail"] != "the historian is not available" {
		t.Errorf("down: %d %v", code, body)
	}
	if got := h.Asked(); len(got) != len(tests)+1 || got[0] != (Range{From: tests[0].from, To: tests[0].to, Status: 200}) || got[len(got)-1].Status != 503 {
		t.Errorf("asked: %+v", got)
	}
	if r := h.At(3); r != (Reading{Timestamp: "2025-06-01T12:00:03.000Z", Tag: Tag, Value: 44.26, Quality: "good"}) {
		t.Errorf("reading 3: %+v", r)
	}
}

// The example's configuration against the historian, with a state folder:
// the connector stopped (as SIGTERM stops it) and started again, then the
// historian down for a while. The ranges answered tile time, each from
// where the one before ended; every reading is published once, in order.
func TestEveryReadingOnceAcrossRestartAndOutage(t *testing.T) {
	h := New(Options{Every: 20 * time.Millisecond})
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	broker := mqtttest.Embedded(t)
	inbox := mqtttest.Subscribe(t, broker.Connect(t, "subscriber"), "plant/#")
	dir := writeConfig(t, strings.TrimPrefix(srv.URL, "http://"), `"samplingInterval": 10000`, `"samplingInterval": 100`)
	stateDir := t.TempDir()
	withState := func(s *settings.Settings) { s.StateDir = stateDir }

	first := startConnector(t, dir, broker.URL(), withState)
	waitAnswered(t, h, 5)
	published := stopBetweenSamples(t, h, first)

	second := startConnector(t, dir, broker.URL(), withState)
	waitAnswered(t, h, answered(h)+3)
	h.SetDown(true)
	wait.For(t, "two samples failing in a row", func() bool {
		return second.Logs.Count("device keeps failing; polling it less often") > 0
	})
	h.SetDown(false)
	waitAnswered(t, h, answered(h)+3)
	published += stopBetweenSamples(t, h, second)

	msgs := inbox.Wait(t, published)
	if len(msgs) != published {
		t.Errorf("%d messages received, %d published", len(msgs), published)
	}
	asked := h.Asked()
	checkRangesTile(t, asked)
	n := checkEveryReadingOnce(t, h, asked, msgs)
	refused, given := 0, 0
	for _, r := range asked {
		switch r.Status {
		case 503:
			refused++
		case 0:
			given++
		}
	}
	t.Logf("%d ranges answered, %d refused (503), %d given up on hold; %d readings, %d messages", answered(h), refused, given, n, len(msgs))
}

// stopBetweenSamples stops run while its next request waits on hold, so
// that no answered range is left unpublished, and returns how many
// messages the run published.
func stopBetweenSamples(t *testing.T, h *Historian, run *examplerun.Run) int {
	t.Helper()
	h.Hold()
	wait.For(t, "a request on hold", func() bool { return h.Holding() > 0 })
	run.Stop(t)
	// The connector closed its connection: the request on hold is given up
	// (released before the historian notices, it would be answered to no
	// one).
	wait.For(t, "the request on hold given up", func() bool { return h.Holding() == 0 })
	h.Release()
	stopped := run.Record(t, "stopped")
	n, _ := stopped["messages"].(float64)
	return int(n)
}

func answered(h *Historian) int {
	n := 0
	for _, r := range h.Asked() {
		if r.Status == http.StatusOK {
			n++
		}
	}
	return n
}

func waitAnswered(t *testing.T, h *Historian, n int) {
	t.Helper()
	wait.For(t, fmt.Sprintf("%d ranges answered", n), func() bool { return answered(h) >= n })
}

// checkRangesTile checks that each range answered starts where the one
// before ended, and that a range refused or given up on was asked again
// from its start.
func checkRangesTile(t *testing.T, asked []Range) {
	t.Helper()
	var last *Range
	var retry []Range // asked since the last answer, not answered
	for i := range asked {
		r := asked[i]
		if r.Status != http.StatusOK {
			retry = append(retry, r)
			continue
		}
		if r.From >= r.To {
			t.Errorf("range %d: %s to %s is empty", i, r.From, r.To)
		}
		if last != nil && r.From != last.To {
			t.Errorf("range %d: from %s, but the range answered before it ended at %s", i, r.From, last.To)
		}
		for _, x := range retry {
			if x.From != r.From {
				t.Errorf("range %d: from %s, but %s (status %d) was not answered", i, r.From, x.From, x.Status)
			}
		}
		last, retry = &asked[i], nil
	}
}

// checkEveryReadingOnce checks that the messages are the readings of the
// ranges answered, each once, in order, and returns how many there are.
func checkEveryReadingOnce(t *testing.T, h *Historian, asked []Range, msgs []mqtttest.Received) int {
	t.Helper()
	var to time.Time
	for _, r := range asked {
		if r.Status == http.StatusOK {
			to, _ = time.Parse(time.RFC3339Nano, r.To)
		}
	}
	want := 0
	for ; h.opts.Start.Add(time.Duration(want) * h.opts.Every).Before(to); want++ {
	}
	if len(msgs) != want {
		t.Errorf("%d messages, want the %d readings recorded until %s", len(msgs), want, to.Format(timeFormat))
	}
	for i, m := range msgs {
		var got struct {
			Reading
			Asset string `json:"asset"`
		}
		if err := json.Unmarshal(m.Payload, &got); err != nil {
			t.Fatalf("message %d: %s: %v", i, m.Payload, err)
		}
		if got.Reading != h.At(i) || got.Asset != "line1-flow-history" || m.Topic != "plant/line1/flow" {
			t.Fatalf("message %d on %s: %s, want reading %d: %+v", i, m.Topic, m.Payload, i, h.At(i))
		}
	}
	return want
}
