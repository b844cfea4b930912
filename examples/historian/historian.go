// Package historian is a process historian's time-window API, as a Go HTTP
// handler, with the device and asset files that make http-connector ask it
// for each new time range and publish every recorded reading once, across
// restarts and outages.
//
// Taken from historians' REST APIs (OSIsoft PI Web API's recorded values,
// AVEVA and Canary's raw data calls): one call answers the values a tag
// recorded between two times, each with its own timestamp and quality,
// oldest first; the times are RFC 3339.
//
// Assumed, and simplified: one tag, line1.flow, recorded once every Every
// (one second by default) from the moment the historian starts, with
// values that follow from the reading's number alone; the range is
// half-open, from included and to excluded, as a window API must be for
// consecutive windows to tile (an API whose ranges include both ends, as
// PI Web API's boundaryType Inside, repeats a value that falls on a
// boundary: deduplicate on its timestamp); every reading up to the moment
// of the request is there (no late data; and the connector's clock is not
// ahead of the historian's, or a reading recorded after the request but
// before its to would be missed), and an answer is never
// truncated (a real historian caps the values of one call: a window that
// outgrows the cap loses the rest, where a cursor would not).
package historian

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Tag is the one tag the historian records.
const Tag = "line1.flow"

// Options configure a Historian; zero values are defaults.
type Options struct {
	Every time.Duration    // one reading per Every; default 1 s
	Start time.Time        // the first reading's time; default now, rounded down to Every
	Now   func() time.Time // the historian's clock; default time.Now
}

// Reading is one recorded value.
type Reading struct {
	Timestamp string  `json:"timestamp"` // RFC 3339 UTC, to the millisecond
	Tag       string  `json:"tag"`
	Value     float64 `json:"value"` // m³/h
	Quality   string  `json:"quality"`
}

// Range is a time range asked of the historian, as the request wrote it.
type Range struct {
	From, To string
	Status   int // the answer's HTTP status; 0 for a request given up before it
}

// Historian is a simulated historian.
type Historian struct {
	opts Options

	mu      sync.Mutex
	asked   []Range
	down    bool
	hold    chan struct{} // closed to let held requests go; nil when not holding
	holding int           // requests waiting on hold
}

// New returns a historian recording from o.Start.
func New(o Options) *Historian {
	if o.Every <= 0 {
		o.Every = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Start.IsZero() {
		o.Start = o.Now().Truncate(o.Every)
	}
	o.Start = o.Start.UTC()
	return &Historian{opts: o}
}

// At is reading k, the (k+1)-th recorded.
func (h *Historian) At(k int) Reading {
	t := h.opts.Start.Add(time.Duration(k) * h.opts.Every)
	v := 42 + 6*math.Sin(float64(k)/9) + float64(k%7)/10
	return Reading{Timestamp: t.Format(timeFormat), Tag: Tag, Value: math.Round(v*100) / 100, Quality: "good"}
}

// Index is the number of the reading recorded at t, and whether there is
// one.
func (h *Historian) Index(t time.Time) (int, bool) {
	d := t.Sub(h.opts.Start)
	if d < 0 || d%h.opts.Every != 0 {
		return 0, false
	}
	return int(d / h.opts.Every), true
}

// timeFormat is RFC 3339 to the millisecond, as readings are written.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// Asked is every range asked so far, in the order of the requests.
func (h *Historian) Asked() []Range {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.asked)
}

// SetDown makes the historian answer 503 Service Unavailable (down) or
// answer again.
func (h *Historian) SetDown(down bool) {
	h.mu.Lock()
	h.down = down
	h.mu.Unlock()
}

// Hold makes requests wait unanswered until Release; one whose client
// gives up meanwhile is recorded with status 0.
func (h *Historian) Hold() {
	h.mu.Lock()
	if h.hold == nil {
		h.hold = make(chan struct{})
	}
	h.mu.Unlock()
}

// Release lets the held requests go, and the next ones through.
func (h *Historian) Release() {
	h.mu.Lock()
	if h.hold != nil {
		close(h.hold)
		h.hold = nil
	}
	h.mu.Unlock()
}

// Holding is how many requests wait on hold.
func (h *Historian) Holding() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.holding
}

// Handler serves the historian's API:
//
//	GET /api/history?from=2025-06-01T12:00:00.000Z&to=2025-06-01T12:01:00.000Z
//	{"tag": "line1.flow", "from": "…", "to": "…",
//	 "readings": [{"timestamp": "2025-06-01T12:00:00.000Z", "tag": "line1.flow", "value": 42.1, "quality": "good"}, …]}
func (h *Historian) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/history", h.history)
	return mux
}

func (h *Historian) history(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rg := Range{From: q.Get("from"), To: q.Get("to")}
	if !h.wait(r) {
		h.record(rg, 0)
		return
	}
	from, ferr := time.Parse(time.RFC3339Nano, rg.From)
	to, terr := time.Parse(time.RFC3339Nano, rg.To)
	h.mu.Lock()
	down := h.down
	h.mu.Unlock()
	switch {
	case down:
		h.record(rg, http.StatusServiceUnavailable)
		problem(w, http.StatusServiceUnavailable, "the historian is not available")
	case ferr != nil || terr != nil:
		h.record(rg, http.StatusBadRequest)
		problem(w, http.StatusBadRequest, "from and to must be RFC 3339 times")
	case !from.Before(to):
		h.record(rg, http.StatusBadRequest)
		problem(w, http.StatusBadRequest, fmt.Sprintf("from %s is not before to %s", rg.From, rg.To))
	default:
		h.record(rg, http.StatusOK)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer{Tag: Tag, From: rg.From, To: rg.To, Readings: h.between(from, to)})
	}
}

// answer is the body of a successful answer.
type answer struct {
	Tag      string    `json:"tag"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Readings []Reading `json:"readings"`
}

// wait holds r while the historian holds requests; false if its client
// gave up meanwhile.
func (h *Historian) wait(r *http.Request) bool {
	h.mu.Lock()
	hold := h.hold
	if hold != nil {
		h.holding++
	}
	h.mu.Unlock()
	if hold == nil {
		return true
	}
	defer func() {
		h.mu.Lock()
		h.holding--
		h.mu.Unlock()
	}()
	select {
	case <-hold:
		return r.Context().Err() == nil
	case <-r.Context().Done():
		return false
	}
}

func (h *Historian) record(rg Range, status int) {
	rg.Status = status
	h.mu.Lock()
	h.asked = append(h.asked, rg)
	h.mu.Unlock()
}

// between is the readings recorded from from (included) to to (excluded),
// up to now.
func (h *Historian) between(from, to time.Time) []Reading {
	to = minTime(to, h.opts.Now().Add(time.Nanosecond))
	out := []Reading{}
	k := 0
	if d := from.Sub(h.opts.Start); d > 0 {
		k = int((d + h.opts.Every - 1) / h.opts.Every)
	}
	for ; ; k++ {
		t := h.opts.Start.Add(time.Duration(k) * h.opts.Every)
		if !t.Before(to) {
			return out
		}
		out = append(out, h.At(k))
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "title": http.StatusText(status), "detail": detail})
}
