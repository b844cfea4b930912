package watch_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/testing/wait"
	"github.com/http-connector/http-connector/internal/watch"
)

// run watches paths until the test ends; calls counts the calls. It
// returns once the paths are watched.
func run(t *testing.T, paths ...string) (calls func() int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- watch.Run(ctx, watch.Options{
			Paths: paths,
			Delay: 20 * time.Millisecond,
			OnChange: func(context.Context) {
				mu.Lock()
				n++
				mu.Unlock()
			},
			OnError: func(err error) { t.Errorf("watch error: %v", err) },
			Ready:   func() { close(ready) },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	<-ready
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A file replaced by rename, and a folder that appears later, are seen.
func TestRenameAndLateFolder(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "site.yaml")
	write(t, file, "v1")
	later := filepath.Join(dir, "mappings")
	calls := run(t, file, later)

	write(t, file+".tmp", "v2")
	if err := os.Rename(file+".tmp", file); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "a call after a rename", func() bool { return calls() >= 1 })

	mark := calls()
	if err := os.Mkdir(later, 0o755); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "a call after the folder appeared", func() bool { return calls() > mark })
	mark = calls()
	write(t, filepath.Join(later, "a.yaml"), "x")
	wait.For(t, "a call for a file in the new folder", func() bool { return calls() > mark })
}
