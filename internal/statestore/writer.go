package statestore

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/aiorpc"
)

// Writer writes keys behind their writers' backs: Set keeps the value and
// returns at once; Run sends the pending keys, the last value of a key
// winning (the state store keeps only the last anyway). A write that fails
// is tried again, with back-off, until it succeeds or a newer value comes;
// failures are logged when they start and when they stop, like publish
// failures. Samples never wait for the broker.
type Writer struct {
	prefix string // put before every key
	log    zerolog.Logger

	mu      sync.Mutex
	client  *Client // nil until Bind
	pending map[string][]byte
	failing bool
	wake    chan struct{}
}

// NewWriter returns a writer of keys under prefix; Bind gives it its
// client.
func NewWriter(prefix string, log zerolog.Logger) *Writer {
	return &Writer{prefix: prefix, log: log, pending: map[string][]byte{}, wake: make(chan struct{}, 1)}
}

// Bind gives the writer its client.
func (w *Writer) Bind(c *Client) {
	w.mu.Lock()
	w.client = c
	w.mu.Unlock()
	w.signal()
}

// Client is the bound client, or nil.
func (w *Writer) Client() *Client {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.client
}

// Set keeps value under key, to be written soon.
func (w *Writer) Set(key string, value []byte) {
	w.mu.Lock()
	w.pending[key] = value
	w.mu.Unlock()
	w.signal()
}

func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run writes what is pending until ctx ends; then Flush writes the rest.
func (w *Writer) Run(ctx context.Context) {
	delay := time.Duration(0)
	for {
		var retry <-chan time.Time
		if delay > 0 {
			t := time.NewTimer(delay)
			retry = t.C
			defer t.Stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-retry:
		}
		if w.Flush(ctx) {
			delay = 0
		} else {
			delay = min(max(2*delay, 250*time.Millisecond), 10*time.Second)
		}
	}
}

// Flush writes the pending keys and reports whether every write
// succeeded; the ones that failed stay pending, unless a newer value came.
func (w *Writer) Flush(ctx context.Context) bool {
	c := w.Client()
	if c == nil {
		return true
	}
	w.mu.Lock()
	batch := w.pending
	w.pending = map[string][]byte{}
	w.mu.Unlock()
	ok := true
	for key, value := range batch {
		_, err := c.Set(ctx, []byte(w.prefix+key), value, SetOptions{})
		if err == nil {
			continue
		}
		ok = false
		w.mu.Lock()
		if _, newer := w.pending[key]; !newer && (aiorpc.IsTransient(err) || ctx.Err() == nil) {
			w.pending[key] = value
		}
		first := !w.failing
		w.failing = true
		w.mu.Unlock()
		if first {
			w.log.Warn().Err(err).Str("key", w.prefix+key).Msg("state store SET failed; retrying")
		}
	}
	if ok {
		w.mu.Lock()
		recovered := w.failing && len(w.pending) == 0
		if recovered {
			w.failing = false
		}
		w.mu.Unlock()
		if recovered {
			w.log.Info().Msg("state store SET works again")
		}
	}
	return ok
}
