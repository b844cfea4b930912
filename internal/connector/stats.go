package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/schedule"
)

// StatsInterval is how often a stats file gets a line.
const StatsInterval = time.Second

// StatsLine is one line of the stats file (Options.StatsFile): the
// connector's running totals since the start. The last line has Final set.
// The benchmark (cmd/http-connector-bench) reads them.
type StatsLine struct {
	Time  time.Time `json:"time"`
	Final bool      `json:"final,omitempty"`
	// LoadMs is how long reading and validating the configuration took;
	// StartMs is from the start of Run until the source was ready: every
	// asset loaded, checked and started.
	LoadMs  float64 `json:"load_ms"`
	StartMs float64 `json:"start_ms"`

	Assets        int64 `json:"assets"`
	Samples       int64 `json:"samples"`
	Failures      int64 `json:"failures"`
	Messages      int64 `json:"messages"`
	PublishErrors int64 `json:"publish_errors"`
	Requests      int64 `json:"requests"`
	MissedTicks   int64 `json:"missed_ticks"`

	// The publisher's QoS 1 queue: messages accepted, acknowledged by the
	// broker, dropped by the overflow policy or expired, and waiting now.
	Queued    int64 `json:"queued"`
	Delivered int64 `json:"delivered"`
	Dropped   int64 `json:"dropped"`
	Expired   int64 `json:"expired"`
	QueueLen  int   `json:"queue_len"`

	Goroutines int    `json:"goroutines"`
	HeapBytes  uint64 `json:"heap_bytes"`  // live and not yet swept heap objects
	StackBytes uint64 `json:"stack_bytes"` // goroutine stacks

	Lateness LatenessSnapshot `json:"lateness"`
}

// statsWriter writes a StatsLine every StatsInterval and a final one. A nil
// *statsWriter does nothing, so Run calls it unconditionally.
type statsWriter struct {
	f        *os.File
	lateness Lateness
	load     time.Duration
	start    atomic.Int64 // ns from the start of Run until ready
	wg       sync.WaitGroup
	sample   []metrics.Sample
}

func newStatsWriter(path string, load time.Duration) (*statsWriter, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("stats file: %w", err)
	}
	return &statsWriter{f: f, load: load, sample: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}}, nil
}

// started records how long the start took.
func (w *statsWriter) started(d time.Duration) {
	if w != nil {
		w.start.Store(int64(d))
	}
}

// observer is the lateness observer for the connector; nil without a file.
func (w *statsWriter) observer() schedule.Observer {
	if w == nil {
		return nil
	}
	return w.lateness.Observe
}

// run writes a line every StatsInterval until ctx ends; close waits for it.
func (w *statsWriter) run(ctx context.Context, rt *Runtime) {
	if w == nil {
		return
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(StatsInterval)
		defer t.Stop()
		for {
			w.write(rt, false)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// close writes the final line and closes the file.
func (w *statsWriter) close(rt *Runtime) {
	if w == nil {
		return
	}
	w.wg.Wait()
	w.write(rt, true)
	if err := w.f.Close(); err != nil {
		rt.log.Warn().Err(err).Msg("stats file")
	}
}

func (w *statsWriter) write(rt *Runtime, final bool) {
	st := rt.Snapshot()
	metrics.Read(w.sample)
	line := StatsLine{
		Time: st.At, Final: final,
		LoadMs:  float64(w.load) / float64(time.Millisecond),
		StartMs: float64(w.start.Load()) / float64(time.Millisecond),
		Assets:  st.Assets, Samples: st.Samples, Failures: st.Failures, Messages: st.Messages,
		PublishErrors: st.PublishErrors, Requests: st.Requests, MissedTicks: st.Missed,
		Goroutines: runtime.NumGoroutine(),
		Lateness:   w.lateness.Snapshot(),
	}
	pc := rt.pub.Counters()
	line.Queued, line.Delivered, line.Dropped, line.Expired = pc.Queued.Load(), pc.Delivered.Load(), pc.Dropped.Load(), pc.Expired.Load()
	line.QueueLen = rt.pub.Len()
	if v := w.sample[0].Value; v.Kind() == metrics.KindUint64 {
		line.HeapBytes = v.Uint64()
	}
	if v := w.sample[1].Value; v.Kind() == metrics.KindUint64 {
		line.StackBytes = v.Uint64()
	}
	b, _ := json.Marshal(line) // plain data: cannot fail
	_, _ = w.f.Write(append(b, '\n'))
}

// servePprof serves net/http/pprof on addr, which must be a loopback
// address: profiles show the process's internals. The returned function
// stops the server.
func servePprof(addr string, log zerolog.Logger) (func(), error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("settings: pprof: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("settings: pprof: %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn().Err(err).Msg("pprof server")
		}
	}()
	log.Info().Str("address", ln.Addr().String()).Msg("serving pprof")
	return func() {
		_ = srv.Close()
		<-done
	}, nil
}
