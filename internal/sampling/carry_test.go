package sampling_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/sampling"
)

// memState is a State in memory, as a restart sees it: what was saved.
type memState struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memState) Load(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key], nil
}

func (s *memState) Save(key string, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = value
}

// clock is a sample clock moved by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// newSampler is a sampler of ds publishing to rec, on the clock, with
// state.
func newSampler(t *testing.T, ds *plan.Dataset, rec *recorder, c *clock, state sampling.State, counters *sampling.Counters) *sampling.Sampler {
	t.Helper()
	client := fetch.New(fetch.Options{})
	t.Cleanup(client.Close)
	s, err := sampling.New(ds, client, rec, sampling.Options{Logger: zerolog.Nop(), Now: c.now, State: state, Counters: counters, MaxBackoff: -1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// windowAPI records the ranges it is asked for and answers one record per
// request; failing makes it answer 503.
type windowAPI struct {
	mu      sync.Mutex
	ranges  []string
	failing bool
}

func (a *windowAPI) serve(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.failing {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		q := r.URL.Query()
		a.ranges = append(a.ranges, q.Get("from")+"/"+q.Get("to"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `[{"from": %q, "to": %q}]`, q.Get("from"), q.Get("to"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (a *windowAPI) asked() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.ranges...)
}

// A time-window API is asked from where the last successful sample ended
// to now: no range is asked twice or skipped, across a failure, a refused
// publish and a restart.
func TestTimeWindowCoversEveryRangeOnce(t *testing.T) {
	api := &windowAPI{}
	srv := api.serve(t)
	ds := dataset(t, srv.URL, `    - name: history
      dataSource: /history?from=${previous:unix}&to=${now:unix}
      datasetConfiguration: '{"samplingInterval": 60000, "window": {"initial": 600000}}'
`)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	state := &memState{}
	rec := &recorder{}
	s := newSampler(t, ds, rec, c, state, nil)
	step := func() {
		s.Sample(context.Background(), c.t)
		c.t = c.t.Add(time.Minute)
	}
	step() // 10 minutes back
	step()
	api.failing = true
	step() // fails: the window does not move
	api.failing = false
	rec.err = errors.New("queue full")
	step() // asked, but not accepted: asked again
	rec.err = nil
	step()
	// A restart: a new sampler on the same state.
	s = newSampler(t, ds, rec, c, state, nil)
	step()

	base := int64(1_800_000_000)
	at := func(m int64) string { return strconv.FormatInt(base+60*m, 10) }
	want := []string{
		at(-10) + "/" + at(0),
		at(0) + "/" + at(1),
		at(1) + "/" + at(3), // refused by the publisher
		at(1) + "/" + at(4),
		at(4) + "/" + at(5),
	}
	if got := api.asked(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ranges asked:\n got %v\nwant %v", got, want)
	}
}

// A cursor taken from the records of one sample is the next one's, and
// survives a restart.
func TestCursorCarriesOver(t *testing.T) {
	var mu sync.Mutex
	var after []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		a := r.URL.Query().Get("after")
		after = append(after, a)
		n, _ := strconv.Atoi(a)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `[{"id": %d}, {"id": %d}]`, n+1, n+2)
	}))
	t.Cleanup(srv.Close)
	ds := dataset(t, srv.URL, `    - name: events
      dataSource: /events?after=${cursor}
      datasetConfiguration: '{"cursor": {"jq": ".[-1].id", "initial": 0}}'
`)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	state := &memState{}
	rec := &recorder{}
	newSampler(t, ds, rec, c, state, nil).Sample(context.Background(), c.t)
	s := newSampler(t, ds, rec, c, state, nil) // restarted
	s.Sample(context.Background(), c.t)
	s.Sample(context.Background(), c.t)
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(after, ",") != "0,2,4" {
		t.Errorf("cursors sent %v, want 0,2,4", after)
	}
}

// Paged answers are followed to their end, whichever way the next page is
// given; the records of all pages are the sample's input.
func TestPagesAreFollowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		q := r.URL.Query()
		switch r.URL.Path {
		case "/odata":
			skip, _ := strconv.Atoi(q.Get("$skip"))
			next := ""
			if skip < 4 {
				next = fmt.Sprintf(`, "@odata.nextLink": "%s/odata?$skip=%d"`, "http://"+r.Host, skip+2)
			}
			fmt.Fprintf(w, `{"value": [{"n": %d}, {"n": %d}]%s}`, skip, skip+1, next)
		case "/linked":
			p, _ := strconv.Atoi(q.Get("p"))
			if p < 2 {
				w.Header().Set("Link", fmt.Sprintf(`</linked?p=%d>; rel="next", </linked?p=0>; rel="first"`, p+1))
			}
			fmt.Fprintf(w, `[{"n": %d}]`, p)
		case "/paged":
			p, _ := strconv.Atoi(q.Get("page"))
			if p > 3 {
				fmt.Fprint(w, `{"items": []}`)
				return
			}
			fmt.Fprintf(w, `{"items": [{"n": %d}]}`, p)
		case "/endless":
			w.Header().Set("Link", `</endless>; rel="next"`)
			fmt.Fprint(w, `[]`)
		}
	}))
	t.Cleanup(srv.Close)
	tests := []struct{ name, source, config, want, fails string }{
		{"odata nextLink", "/odata", `{"pages": {"next": {"url": ".[\"@odata.nextLink\"]"}, "records": ".value"}}`,
			`[{"n":0},{"n":1},{"n":2},{"n":3},{"n":4},{"n":5}]`, ""},
		{"Link header", "/linked", `{"pages": {"next": "link"}}`, `[{"n":0},{"n":1},{"n":2}]`, ""},
		{"page numbers until an empty page", "/paged", `{"pages": {"next": {"page": "page"}, "records": ".items"}}`,
			`[{"n":1},{"n":2},{"n":3}]`, ""},
		{"a cap on pages", "/endless", `{"pages": {"next": "link", "max": 5}}`, "", "more than 5 pages in one sample (pages.max)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := dataset(t, srv.URL, fmt.Sprintf("    - name: d\n      dataSource: %s\n      datasetConfiguration: '%s'\n", tt.source, tt.config))
			rec := &recorder{}
			s := newSampler(t, ds, rec, &clock{t: time.Now()}, nil, nil)
			s.Sample(context.Background(), time.Now())
			if tt.fails != "" {
				if err := s.Failing(); err == nil || !strings.Contains(err.Error(), tt.fails) {
					t.Fatalf("error %v, want %q", err, tt.fails)
				}
				return
			}
			if err := s.Failing(); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(rec.payloads(), " "); got != tt.want {
				t.Errorf("message %s, want %s", got, tt.want)
			}
		})
	}
}

// A slowly drifting value with a deadband publishes only the samples that
// crossed it, and the heartbeats; the others are counted as suppressed.
func TestDeadbandPublishesCrossingsAndHeartbeats(t *testing.T) {
	var mu sync.Mutex
	i := 0
	value := func(n int) float64 { return 20 + 0.13*float64(n) } // drifts 0.13 a sample
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"temperature": %.2f}`, value(i))
		i++
	}))
	t.Cleanup(srv.Close)
	ds := dataset(t, srv.URL, `    - name: d
      datasetConfiguration: '{"samplingInterval": 1000}'
      dataPoints:
        - {name: temperature, dataSource: /t, dataPointConfiguration: '{"report": {"deadband": 0.5, "heartbeat": 10000}}'}
`)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	rec := &recorder{}
	counters := &sampling.Counters{}
	s := newSampler(t, ds, rec, c, nil, counters)
	for range 100 {
		s.Sample(context.Background(), c.t)
		c.t = c.t.Add(time.Second)
	}
	// What the rule says, worked out independently.
	var want []string
	last, lastAt := 0.0, -1
	for n := range 100 {
		v := value(n)
		if lastAt < 0 || v-last > 0.5 || n-lastAt >= 10 {
			want = append(want, fmt.Sprintf(`{"temperature":%.2f}`, v))
			last, lastAt = v, n
		}
	}
	got := rec.payloads()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("published %d samples:\n got %v\nwant %v", len(got), got, want)
	}
	if sup := counters.Suppressed.Load(); sup != int64(100-len(want)) || counters.Failures.Load() != 0 {
		t.Errorf("%d suppressed, %d failures; want %d suppressed, none failed", sup, counters.Failures.Load(), 100-len(want))
	}
	if len(want) > 25 {
		t.Errorf("the rule publishes %d of 100 samples: the test does not exercise suppression", len(want))
	}
}

// Records seen before are dropped; each message keeps its record's time.
func TestDedupAndRecordTime(t *testing.T) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		n++
		w.Header().Set("Content-Type", "application/json")
		// Each answer repeats the last record of the one before.
		fmt.Fprintf(w, `[{"id": %d, "t": "2026-12-03T10:00:%02dZ"}, {"id": %d, "t": "2026-12-03T10:00:%02dZ"}]`, n, n, n+1, n+1)
	}))
	t.Cleanup(srv.Close)
	ds := dataset(t, srv.URL, `    - name: d
      dataSource: /records
      datasetConfiguration: '{"mapping": "fanout/readings", "dedup": {"key": ".id"}, "recordTime": ".t"}'
`)
	rec := &recorder{}
	c := &clock{t: time.Now()}
	s := newSampler(t, ds, rec, c, &memState{}, nil)
	for range 3 {
		s.Sample(context.Background(), c.t)
	}
	if err := s.Failing(); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var ids []string
	for _, m := range rec.msgs {
		var v struct {
			ID int    `json:"id"`
			T  string `json:"t"`
		}
		_ = json.Unmarshal(m.Payload, &v)
		ids = append(ids, strconv.Itoa(v.ID))
		if m.Time.Format(time.RFC3339) != v.T {
			t.Errorf("message %s has time %v, want its record's", m.Payload, m.Time)
		}
	}
	if strings.Join(ids, ",") != "1,2,3,4" {
		t.Errorf("ids published %v, want each once: 1,2,3,4", ids)
	}
}
