// Package examplerun runs an example's own configuration folder through the
// standalone connector, for the examples' end-to-end tests: the folder a
// user reads is the one the test runs, with the device's address of the
// test and the edits the test names.
package examplerun

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/source/folder"
	"github.com/http-connector/http-connector/internal/testing/logbuf"
)

// TB is what the helpers need of a *testing.T.
type TB interface {
	Helper()
	Name() string
	TempDir() string
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// WriteConfig copies the folder config into a folder of the test, with the
// device address configAddress replaced by addr (host:port) and each pair
// of edits (old, new) made: an edit that matches nothing fails the test,
// so that the test cannot drift from the configuration a user reads.
func WriteConfig(t TB, config, configAddress, addr string, edits ...string) string {
	t.Helper()
	dir := t.TempDir()
	found := make([]bool, len(edits)/2)
	err := fs.WalkDir(os.DirFS(config), ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			if err == nil {
				err = os.MkdirAll(filepath.Join(dir, name), 0o755)
			}
			return err
		}
		b, err := os.ReadFile(filepath.Join(config, name))
		if err != nil {
			return err
		}
		text := strings.ReplaceAll(string(b), configAddress, "http://"+addr)
		for i := 0; i+1 < len(edits); i += 2 {
			if strings.Contains(text, edits[i]) {
				found[i/2] = true
				text = strings.ReplaceAll(text, edits[i], edits[i+1])
			}
		}
		return os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
	})
	if err != nil {
		t.Fatalf("write the configuration: %v", err)
	}
	for i, ok := range found {
		if !ok {
			t.Fatalf("the configuration has no %q to change", edits[2*i])
		}
	}
	return dir
}

// Run is one run of the standalone connector, as `http-connector run
// --config dir` starts it, logging JSON lines into Logs.
type Run struct {
	cancel context.CancelFunc
	done   chan error
	Logs   *logbuf.Buffer
}

// Start runs the connector on the configuration folder dir with the broker
// at brokerURL, logging at every level; edit, if set, changes its
// settings. It is stopped when the test ends, if not before.
func Start(t TB, dir, brokerURL string, edit func(*settings.Settings)) *Run {
	t.Helper()
	s := settings.Defaults()
	s.Config, s.Broker = dir, brokerURL
	s.ClientID = "connector-" + strings.ReplaceAll(t.Name(), "/", "-")
	if edit != nil {
		edit(&s)
	}
	return StartWith(t, &s, Options{Level: zerolog.TraceLevel})
}

// Options are what a run takes besides its settings.
type Options struct {
	// Level is the lowest level logged; the zero value is debug.
	Level zerolog.Level
	// Getenv, if set, is the environment the settings' secrets are read
	// from, instead of the process's.
	Getenv func(string) (string, bool)
	// SecretsPeriod, if set, is how often endpoint secrets are read again.
	SecretsPeriod time.Duration
}

// StartWith runs the connector with the settings s, on the folder
// s.Config, as `http-connector run` does with them. It is stopped when the
// test ends, if not before.
func StartWith(t TB, s *settings.Settings, o Options) *Run {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Run{cancel: cancel, done: make(chan error, 1), Logs: &logbuf.Buffer{}}
	log := zerolog.New(r.Logs).Level(o.Level).With().Timestamp().Logger()
	opts := connector.FromSettings(s, log)
	opts.SecretsPeriod = o.SecretsPeriod
	go func() {
		src := folder.New(folder.Options{Settings: s, Config: os.DirFS(s.Config), Display: s.Config, Logger: log, Getenv: o.Getenv})
		r.done <- connector.Run(ctx, src, opts)
	}()
	t.Cleanup(func() { r.Stop(t) })
	return r
}

// Stop cancels the run, as SIGTERM does, and waits until it has returned.
func (r *Run) Stop(t TB) {
	t.Helper()
	if r.done == nil {
		return
	}
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("connector: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("connector still running 30 s after it was told to stop")
	}
	r.done = nil
}

// Record is the log record with the message msg; the test fails without
// one.
func (r *Run) Record(t TB, msg string) map[string]any {
	t.Helper()
	for _, rec := range r.Logs.Records() {
		if rec["message"] == msg {
			return rec
		}
	}
	t.Fatalf("no %q in the connector's log:\n%s", msg, r.Logs.String())
	return nil
}

// ReplaceOnce copies the files of the folder config into a folder of the
// test with every replacement (from → to) made, each from appearing
// exactly once in the folder, and returns that folder.
func ReplaceOnce(t TB, config string, replacements map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(config)
	if err != nil {
		t.Fatalf("read the configuration: %v", err)
	}
	replaced := map[string]int{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(config, e.Name()))
		if err != nil {
			t.Fatalf("read the configuration: %v", err)
		}
		for from, to := range replacements {
			replaced[from] += bytes.Count(b, []byte(from))
			b = bytes.ReplaceAll(b, []byte(from), []byte(to))
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatalf("write the configuration: %v", err)
		}
	}
	for from, n := range replaced {
		if n != 1 {
			t.Fatalf("config: %q appears %d times, want once", from, n)
		}
	}
	return dir
}
