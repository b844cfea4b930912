package statuspage

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// streamRecorder is a ResponseWriter that a test reads an event stream
// from while the handler runs.
type streamRecorder struct {
	header http.Header
	mu     sync.Mutex
	status int
	body   strings.Builder
	read   int // bytes of body already handed out by events
}

func newStreamRecorder() *streamRecorder { return &streamRecorder{header: http.Header{}} }

func (s *streamRecorder) Header() http.Header { return s.header }

func (s *streamRecorder) WriteHeader(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

func (s *streamRecorder) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.body.Write(b)
}

func (s *streamRecorder) Flush() {}

// sse is one server-sent event: its name and data, or a comment.
type sse struct {
	event, data, comment string
}

// events returns the whole events written since the last call.
func (s *streamRecorder) events() []sse {
	s.mu.Lock()
	defer s.mu.Unlock()
	text := s.body.String()[s.read:]
	end := strings.LastIndex(text, "\n\n")
	if end < 0 {
		return nil
	}
	s.read += end + 2
	var out []sse
	for block := range strings.SplitSeq(text[:end], "\n\n") {
		var e sse
		for line := range strings.SplitSeq(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				e.event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				e.data = line[len("data: "):]
			case strings.HasPrefix(line, ": "):
				e.comment = line[2:]
			}
		}
		if e != (sse{}) {
			out = append(out, e)
		}
	}
	return out
}

// views are the view events of es, decoded.
func views(t *testing.T, es []sse) []eventJSON {
	t.Helper()
	var out []eventJSON
	for _, e := range es {
		if e.event != "view" {
			continue
		}
		var v eventJSON
		if err := json.Unmarshal([]byte(e.data), &v); err != nil {
			t.Fatalf("event %q: %v", e.data, err)
		}
		out = append(out, v)
	}
	return out
}

// openStream starts GET /api/events?query on page; cancel ends it (as a
// browser closing the page), and the returned channel closes when the
// handler has returned.
func openStream(page *Page, query string) (rec *streamRecorder, cancel func(), done <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	rec = newStreamRecorder()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		page.ServeHTTP(rec, localRequest("GET", "/api/events?"+query, nil).WithContext(ctx))
	}()
	return rec, cancel, finished
}

func TestEventsOnlyWhileSomeoneWatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFake(t, healthy(), failing())
		page := New(fake, Options{})
		defer page.Close()

		time.Sleep(10 * time.Second)
		if n := fake.datasetCalls.Load(); n != 0 {
			t.Fatalf("with nobody watching, %d Datasets calls in 10 s, want 0", n)
		}

		rec, cancel, done := openStream(page, "")
		synctest.Wait()
		if n := fake.datasetCalls.Load(); n != 1 {
			t.Errorf("a browser connected: %d Datasets calls, want 1", n)
		}
		if vs := views(t, rec.events()); len(vs) != 1 || len(vs[0].Datasets.Rows) != 2 {
			t.Fatalf("the first event: got %+v, want one view of 2 rows", vs)
		}
		if got := rec.header.Get("Content-Type"); got != "text/event-stream" {
			t.Errorf("Content-Type %q", got)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := fake.datasetCalls.Load(); n != 6 {
			t.Errorf("5 s of watching: %d Datasets calls, want 6", n)
		}

		cancel()
		<-done
		before := fake.datasetCalls.Load()
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := fake.datasetCalls.Load() - before; n != 0 {
			t.Errorf("after the browser left, %d Datasets calls in a minute, want 0", n)
		}
		// synctest.Test fails if the broadcaster still ran at the end.
	})
}

func TestEventsShowAChangeWithinASecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFake(t, healthy(), failing())
		page := New(fake, Options{})
		defer page.Close()
		rec, cancel, done := openStream(page, "q=boiler")
		defer func() { cancel(); <-done }()
		synctest.Wait()
		first := views(t, rec.events())
		if len(first) != 1 || first[0].Datasets.Rows[0].State != StateSampling {
			t.Fatalf("first: %+v", first)
		}

		// Nothing changes: nothing is sent.
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if es := rec.events(); len(es) != 0 {
			t.Errorf("no change, yet %d events: %+v", len(es), es)
		}

		fake.change("boiler-1", "status", func(d *Dataset) {
			d.State, d.LastError, d.Failures = StateFailing, "HTTP 503 Service Unavailable", 1
		})
		time.Sleep(time.Second)
		synctest.Wait()
		vs := views(t, rec.events())
		if len(vs) != 1 {
			t.Fatalf("a second after the change: %d events, want 1", len(vs))
		}
		r := vs[0].Datasets.Rows[0]
		if r.State != StateFailing || r.LastError != "HTTP 503 Service Unavailable" || vs[0].Datasets.Counts[StateFailing] != 2 {
			t.Errorf("the update: %+v, counts %v", r, vs[0].Datasets.Counts)
		}
		if vs[0].Connector.Now != "2000-01-01T00:00:04Z" {
			t.Errorf("the event's time %q, want the snapshot's, 2000-01-01T00:00:04Z", vs[0].Connector.Now)
		}

		// A change outside the stream's query is not sent to it.
		fake.change("chiller-7", "telemetry", func(d *Dataset) { d.Samples++ })
		time.Sleep(time.Second)
		synctest.Wait()
		if es := rec.events(); len(es) != 0 {
			t.Errorf("a change the stream does not show sent %d events", len(es))
		}
	})
}

func TestEventsKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		page := New(newFake(t, healthy()), Options{})
		defer page.Close()
		rec, cancel, done := openStream(page, "")
		defer func() { cancel(); <-done }()
		synctest.Wait()
		rec.events()
		time.Sleep(keepAliveTicks * eventInterval)
		synctest.Wait()
		if es := rec.events(); len(es) != 1 || es[0].comment != "keep-alive" {
			t.Errorf("after %d quiet seconds: %+v, want one keep-alive comment", keepAliveTicks, es)
		}
	})
}

// However many browsers watch, the backend is asked once a second.
func TestEventsShareOneSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFake(t, fleet(300)...)
		page := New(fake, Options{})
		defer page.Close()
		var recs []*streamRecorder
		for _, q := range []string{"", "state=failing", "page=2", "q=asset-000&sort=asset"} {
			rec, cancel, done := openStream(page, q)
			defer func() { cancel(); <-done }()
			recs = append(recs, rec)
		}
		synctest.Wait()
		for range 10 {
			fake.change("asset-0001", "status", func(d *Dataset) { d.Failures++ })
			time.Sleep(time.Second)
			synctest.Wait() // the tick's snapshot is taken before the next change
		}
		synctest.Wait()
		if n := fake.datasetCalls.Load(); n != 11 {
			t.Errorf("4 streams for 10 s: %d Datasets calls, want 11", n)
		}
		for i, want := range []int{11, 11, 1, 11} { // page 2 does not show asset-0001
			if n := len(views(t, recs[i].events())); n != want {
				t.Errorf("stream %d: %d views, want %d", i, n, want)
			}
		}
	})
}

func TestCloseEndsStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		page := New(newFake(t, healthy()), Options{})
		_, cancel, done := openStream(page, "")
		defer cancel()
		synctest.Wait()
		page.Close()
		<-done
		var e apiError
		if code, _ := call(t, page, "GET", "/api/events", "", &e); code != http.StatusServiceUnavailable || e.Error != "the status page is closed" {
			t.Errorf("after Close: %d %q, want 503", code, e.Error)
		}
	})
}

// Over a real connection, a browser sees the page change.
func TestEventsOverHTTP(t *testing.T) {
	fake := newFake(t, healthy(), failing())
	page := New(fake, Options{})
	srv := httptest.NewServer(page)
	defer srv.Close()
	defer page.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events?state=failing", nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := bufio.NewScanner(res.Body)
	lines.Buffer(nil, 1<<20)
	next := func() eventJSON {
		t.Helper()
		for lines.Scan() {
			if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
				var v eventJSON
				if err := json.Unmarshal([]byte(data), &v); err != nil {
					t.Fatal(err)
				}
				return v
			}
		}
		t.Fatalf("the stream ended: %v", lines.Err())
		return eventJSON{}
	}
	if v := next(); v.Datasets.Total != 1 || v.Datasets.Rows[0].Asset != "chiller-7" {
		t.Fatalf("first view: %+v", v.Datasets)
	}
	fake.change("boiler-1", "status", func(d *Dataset) { d.State = StateFailing })
	if v := next(); v.Datasets.Total != 2 {
		t.Errorf("after boiler-1 failed: %d failing, want 2", v.Datasets.Total)
	}
}
