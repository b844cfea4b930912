package sampling_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/sampling"
)

// latencies counts what a sampler observes.
type latencies struct{ n atomic.Int64 }

func (l *latencies) Observe(time.Duration) { l.n.Add(1) }

// A dataset's own totals, as the status page and the metrics read them:
// what was sampled, published and failed, by kind, and the last message.
func TestStats(t *testing.T) {
	srv, _ := server(t, map[string]string{
		"GET /current": `application/json|{"currentTemperature": 71.3}`,
		"GET /broken":  `application/json|{"x": `,
	})
	rec := &recorder{}
	var lat latencies
	clock := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	s, err := sampling.New(dataset(t, srv.URL, `    - name: d
      dataPoints: [{name: currentTemperature, dataSource: /current}]
`), fetch.New(fetch.Options{}), rec, sampling.Options{Logger: zerolog.Nop(), Latency: &lat, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.Sample(ctx, clock)
	s.Sample(ctx, clock)
	rec.err = errors.New("queue full")
	s.Sample(ctx, clock)

	st := s.Stats()
	const payload = `{"currentTemperature":71.3}`
	if st.Samples != 3 || st.Messages != 2 || st.BytesOut != 2*int64(len(payload)) || st.BytesIn != 3*28 {
		t.Errorf("samples %d messages %d bytes out %d in %d, want 3, 2, %d, %d", st.Samples, st.Messages, st.BytesOut, st.BytesIn, 2*len(payload), 3*28)
	}
	if string(st.LastMessage) != payload || !st.LastPublish.Equal(clock) || !st.LastSample.Equal(clock) || !st.Started.Equal(clock) {
		t.Errorf("last message %q at %v, last sample %v, started %v", st.LastMessage, st.LastPublish, st.LastSample, st.Started)
	}
	if st.Failures != 1 || st.LastError == nil || byKind(st)[sampling.FailPublish] != 1 {
		t.Errorf("failures %d by kind %v, last error %v: want the publish failure", st.Failures, byKind(st), st.LastError)
	}
	if n := lat.n.Load(); n != 3 || st.Responses != 3 {
		t.Errorf("%d latencies observed, %d responses, for 3 requests answered", n, st.Responses)
	}

	missing, err := sampling.New(dataset(t, srv.URL, `    - name: d
      dataPoints: [{name: x, dataSource: /missing}]
`), fetch.New(fetch.Options{}), rec, sampling.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	missing.Sample(ctx, clock)
	if st := missing.Stats(); st.Samples != 1 || st.Responses != 0 || byKind(st)[sampling.FailRequest] != 1 {
		t.Errorf("a 404: samples %d, responses %d, failures by kind %v; want 1 sample, no response, a request failure", st.Samples, st.Responses, byKind(st))
	}

	broken, err := sampling.New(dataset(t, srv.URL, `    - name: d
      dataPoints: [{name: x, dataSource: /broken}]
`), fetch.New(fetch.Options{}), rec, sampling.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	broken.Sample(ctx, clock)
	if st := broken.Stats(); st.Failures != 1 || byKind(st)[sampling.FailParse] != 1 || st.Messages != 0 || st.LastMessage != nil {
		t.Errorf("a body that does not parse: failures %d by kind %v, messages %d", st.Failures, byKind(st), st.Messages)
	}
}

func byKind(st sampling.Stats) map[sampling.FailureKind]int64 {
	out := map[sampling.FailureKind]int64{}
	for i, k := range sampling.FailureKinds() {
		if n := st.FailuresByKind[i]; n > 0 {
			out[k] = n
		}
	}
	return out
}
