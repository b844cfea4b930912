package akri

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/statestore"
)

// storeState keeps what datasets' samples carry over in the broker state
// store, under "http-connector/<connector id>/<asset>/<dataset>": what AIO
// offers connectors for state. Saves are written behind the samples' backs
// (statestore.Writer), so that a sample never waits for the broker; the
// goodbye writes what is pending while the connection is still up.
type storeState struct {
	*statestore.Writer
	prefix string
}

func newStoreState(connectorID string, log zerolog.Logger) *storeState {
	prefix := "http-connector/" + connectorID + "/"
	return &storeState{Writer: statestore.NewWriter(prefix, log), prefix: prefix}
}

// Load reads a key, trying again on transient errors for up to 30 s.
func (s *storeState) Load(ctx context.Context, key string) ([]byte, error) {
	c := s.Client()
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
func (s *storeState) Save(key string, value []byte) { s.Set(key, value) }
