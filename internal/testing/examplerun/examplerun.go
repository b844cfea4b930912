// Package examplerun runs an example's own configuration folder through the
// standalone connector, for the examples' end-to-end tests: the folder a
// user reads is the one the test runs, with the device's address of the
// test and the edits the test names.
package examplerun

import (
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
// at brokerURL; edit, if set, changes its settings. It is stopped when the
// test ends, if not before.
func Start(t TB, dir, brokerURL string, edit func(*settings.Settings)) *Run {
	t.Helper()
	s := settings.Defaults()
	s.Config, s.Broker = dir, brokerURL
	s.ClientID = "connector-" + strings.ReplaceAll(t.Name(), "/", "-")
	if edit != nil {
		edit(&s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Run{cancel: cancel, done: make(chan error, 1), Logs: &logbuf.Buffer{}}
	log := zerolog.New(r.Logs).With().Timestamp().Logger()
	go func() {
		src := folder.New(folder.Options{Settings: &s, Config: os.DirFS(dir), Display: dir, Logger: log})
		r.done <- connector.Run(ctx, src, connector.FromSettings(&s, log))
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
