package drift

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

func TestSensorDriftsSlowly(t *testing.T) {
	s := New(1)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	last := math.NaN()
	for i := 1; i <= 200; i++ {
		resp, err := http.Get(srv.URL + "/api/v1/temperature?at=x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var r struct {
			Temperature float64 `json:"temperature"`
			Unit        string  `json:"unit"`
			Sequence    int     `json:"sequence"`
		}
		if err := json.Unmarshal(b, &r); err != nil || r.Sequence != i || r.Unit != "°C" || r.Temperature < 19.7 || r.Temperature > 22.3 {
			t.Fatalf("reading %d: %s (%v)", i, b, err)
		}
		if step := math.Abs(r.Temperature - last); step > 0.25 {
			t.Errorf("reading %d: %v after %v: want slow drift, at most 0.25 a reading", i, r.Temperature, last)
		}
		last = r.Temperature
	}
	if got := s.Served(); len(got) != 200 || got[0].At != "x" || got[199].Sequence != 200 {
		t.Errorf("served: %d readings, first %+v", len(got), got[0])
	}
}

const (
	samples   = 100
	deadband  = 0.5
	heartbeat = 400 // ms, in the test's configuration
)

// The example's configuration, sampling every 50 ms with a heartbeat of
// 400 ms, over 100 samples of the sensor: what is published is exactly
// what the rule says of the values served, decided sample by sample
// against the last value published; the connector's "stopped" line counts
// the others as suppressed.
func TestReportByException(t *testing.T) {
	s := New(7)
	s.HoldFrom(samples)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	broker := mqtttest.Embedded(t)
	inbox := mqtttest.Subscribe(t, broker.Connect(t, "subscriber"), "building/#")
	dir := writeConfig(t, strings.TrimPrefix(srv.URL, "http://"),
		`"samplingInterval": 1000`, `"samplingInterval": 50`,
		`"heartbeat": 60000`, fmt.Sprintf(`"heartbeat": %d`, heartbeat),
		// The sensor records each sample's time, for the heartbeat.
		`dataSource: /api/v1/temperature`, `dataSource: /api/v1/temperature?at=${now:rfc3339ms}`)
	run := startConnector(t, dir, broker.URL(), nil)
	wait.For(t, fmt.Sprintf("%d samples and one more on hold", samples), func() bool { return s.Holding() > 0 })
	run.Stop(t)

	stopped := run.Record(t, "stopped")
	published := int(stopped["messages"].(float64))
	msgs := inbox.Wait(t, published)
	served := s.Served()
	if len(served) != samples || len(msgs) != published {
		t.Fatalf("%d served, %d messages received, %d published: want %d served and every message received", len(served), len(msgs), published, samples)
	}
	got := publishedReadings(t, msgs, served)
	crossings, heartbeats := checkRule(t, served, got)
	if stopped["suppressed_samples"] != float64(samples-published) {
		t.Errorf("stopped: suppressed_samples %v, want %d (%d samples, %d published)", stopped["suppressed_samples"], samples-published, samples, published)
	}
	t.Logf("%d samples: %d published (%d crossings of the deadband, %d heartbeats, the first), %d suppressed; stopped: %v",
		samples, published, crossings, heartbeats, samples-published, stopped)
}

// publishedReadings checks that each message is a reading served, as
// served (the temperature's text kept), in order, and returns their
// sequence numbers as a set.
func publishedReadings(t *testing.T, msgs []mqtttest.Received, served []Served) map[int]bool {
	t.Helper()
	got := map[int]bool{}
	prev := 0
	for i, m := range msgs {
		var p struct {
			Temperature json.RawMessage `json:"temperature"`
			Sequence    int             `json:"sequence"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil || p.Sequence < 1 || p.Sequence > len(served) {
			t.Fatalf("message %d: %s: want a reading served (%v)", i, m.Payload, err)
		}
		if want := served[p.Sequence-1].Temperature; string(p.Temperature) != want || p.Sequence <= prev {
			t.Errorf("message %d: %s, want temperature %s, after sequence %d", i, m.Payload, want, prev)
		}
		prev = p.Sequence
		got[p.Sequence] = true
	}
	return got
}

// checkRule decides for each sample served whether the rule publishes it:
// the first; a temperature more than the deadband from the one last
// published; the heartbeat since the last publish. The sensor knows each
// sample's time to the millisecond: a gap of exactly the heartbeat may go
// either way. It returns how many were published for crossing the
// deadband and for the heartbeat alone.
func checkRule(t *testing.T, served []Served, published map[int]bool) (crossings, heartbeats int) {
	t.Helper()
	var last *Served
	for i := range served {
		r := &served[i]
		must, may, why := true, true, "the first sample"
		if last != nil {
			moved := math.Abs(number(t, r.Temperature)-number(t, last.Temperature)) > deadband
			gap := sampleTime(t, r).Sub(sampleTime(t, last)).Milliseconds()
			must = moved || gap >= heartbeat+1
			may = moved || gap >= heartbeat
			why = fmt.Sprintf("%s after %s published at sequence %d, %d ms before", r.Temperature, last.Temperature, last.Sequence, gap)
			if published[r.Sequence] && !moved {
				heartbeats++
			} else if published[r.Sequence] {
				crossings++
			}
		}
		switch {
		case published[r.Sequence] && !may:
			t.Errorf("sequence %d published: %s", r.Sequence, why)
		case !published[r.Sequence] && must:
			t.Errorf("sequence %d not published: %s", r.Sequence, why)
		}
		if published[r.Sequence] {
			last = r
		}
	}
	return crossings, heartbeats
}

func number(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func sampleTime(t *testing.T, r *Served) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, r.At)
	if err != nil {
		t.Fatalf("sequence %d: the sample's time %q: %v", r.Sequence, r.At, err)
	}
	return at
}
