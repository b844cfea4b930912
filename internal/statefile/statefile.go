// Package statefile keeps what datasets' samples carry over (a window, a
// cursor, deduplication keys, the last published values) in a folder, one
// file per dataset, for the standalone connector (the stateDir setting).
//
// One connector writes a folder (a lock file says so; a second one is
// refused). A file is written whole, to a temporary file that is synced
// and renamed over the old one, so that a crash leaves the old state or
// the new, never half of either. Saves are kept by a writer of the
// store's own, the last value of a key winning: a sample never waits for
// the disk. Close writes what is pending.
package statefile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/dirlock"
)

// Store is a folder of states.
type Store struct {
	dir  string
	lock *dirlock.Lock
	log  zerolog.Logger

	mu      sync.Mutex
	pending map[string][]byte
	wake    chan struct{}
	done    chan struct{}
	closed  bool
}

// Open opens (and creates) the folder dir and starts its writer.
func Open(dir string, log zerolog.Logger) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	lock, err := dirlock.Take(dir, "state folder")
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, lock: lock, log: log, pending: map[string][]byte{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.write()
	return s, nil
}

// file is the file of key.
func (s *Store) file(key string) string {
	return filepath.Join(s.dir, url.PathEscape(key)+".json")
}

// Load returns the last value saved under key: pending, or on disk; nil
// when there is none.
func (s *Store) Load(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	if v, ok := s.pending[key]; ok {
		s.mu.Unlock()
		return v, nil
	}
	s.mu.Unlock()
	b, err := os.ReadFile(s.file(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	return b, nil
}

// Save keeps value under key, soon.
func (s *Store) Save(key string, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.pending[key] = value
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// write is the store's writer: it writes what is pending until Close.
func (s *Store) write() {
	defer close(s.done)
	for range s.wake {
		s.flush()
	}
}

func (s *Store) flush() {
	s.mu.Lock()
	batch := s.pending
	s.pending = map[string][]byte{}
	s.mu.Unlock()
	for key, value := range batch {
		if err := s.writeFile(s.file(key), value); err != nil {
			s.log.Error().Err(err).Str("key", key).Msg("state not saved")
		}
	}
}

// writeFile replaces file with data: written to a temporary file, synced,
// renamed over it.
func (s *Store) writeFile(file string, data []byte) error {
	tmp, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, file)
	}
	if err != nil {
		_ = os.Remove(name)
	}
	return err
}

// Close writes what is pending, stops the writer and releases the folder.
func (s *Store) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.wake)
	s.mu.Unlock()
	<-s.done
	s.flush()
	s.lock.Release()
}
