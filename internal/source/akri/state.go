package akri

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/statestore"
)

// storeState keeps what datasets' samples carry over in the broker state
// store, under "http-connector/<connector id>/<asset>/<dataset>": what AIO
// offers connectors for state. Saves are written by a writer of its own
// (started by Run), the last value of a key winning, so that a sample never
// waits for the broker; Goodbye writes what is pending while the
// connection is still up.
type storeState struct {
	prefix string
	log    zerolog.Logger

	mu      sync.Mutex
	client  *statestore.Client // nil until Run binds it
	pending map[string][]byte
	wake    chan struct{}
}

func newStoreState(connectorID string, log zerolog.Logger) *storeState {
	return &storeState{prefix: "http-connector/" + connectorID + "/", log: log, pending: map[string][]byte{}, wake: make(chan struct{}, 1)}
}

func (s *storeState) bind(c *statestore.Client) {
	s.mu.Lock()
	s.client = c
	s.mu.Unlock()
}

func (s *storeState) get() *statestore.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client
}

// Load reads a key, trying again on transient errors for up to 30 s.
func (s *storeState) Load(ctx context.Context, key string) ([]byte, error) {
	c := s.get()
	if c == nil {
		return nil, errors.New("state store: not connected yet")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for delay := 250 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		v, found, err := c.Get(ctx, []byte(s.prefix+key))
		switch {
		case err == nil && !found:
			return nil, nil
		case err == nil:
			return v, nil
		case !aiorpc.IsTransient(err):
			return nil, fmt.Errorf("state store GET: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("state store GET: %w", err)
		case <-time.After(delay):
		}
	}
}

// Save keeps value under key, soon.
func (s *storeState) Save(key string, value []byte) {
	s.mu.Lock()
	s.pending[key] = value
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run writes what is pending until ctx ends.
func (s *storeState) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			s.flush(ctx)
		}
	}
}

// flush writes the pending keys; one that fails transiently stays pending
// for the next flush, unless a newer value came meanwhile.
func (s *storeState) flush(ctx context.Context) {
	c := s.get()
	if c == nil {
		return
	}
	s.mu.Lock()
	batch := s.pending
	s.pending = map[string][]byte{}
	s.mu.Unlock()
	for key, value := range batch {
		_, err := c.Set(ctx, []byte(s.prefix+key), value, statestore.SetOptions{})
		if err == nil {
			continue
		}
		if aiorpc.IsTransient(err) && ctx.Err() == nil {
			s.mu.Lock()
			if _, newer := s.pending[key]; !newer {
				s.pending[key] = value
			}
			s.mu.Unlock()
		}
		s.log.Warn().Err(err).Str("key", key).Msg("dataset state not saved in the state store")
	}
}
