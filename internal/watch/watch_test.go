package watch_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/watch"
)

// run watches paths until the test ends; changes counts the calls.
func run(t *testing.T, paths ...string) func() int {
	t.Helper()
	var mu sync.Mutex
	calls := 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- watch.Run(ctx, watch.Options{
			Paths: paths,
			Delay: 150 * time.Millisecond, // a burst of writes fits even on a loaded machine
			OnChange: func(context.Context) {
				mu.Lock()
				calls++
				mu.Unlock()
			},
			OnError: func(err error) { t.Errorf("watch error: %v", err) },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	time.Sleep(50 * time.Millisecond) // the watches are in place
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return calls
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within 3s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBurstIsOneChange(t *testing.T) {
	dir := t.TempDir()
	calls := run(t, dir)
	for i := range 5 {
		write(t, filepath.Join(dir, "asset.yaml"), string(rune('a'+i)))
	}
	eventually(t, "called", func() bool { return calls() == 1 })
	time.Sleep(400 * time.Millisecond)
	if got := calls(); got != 1 {
		t.Errorf("a burst of 5 writes made %d calls, want 1", got)
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
	eventually(t, "called after a rename", func() bool { return calls() == 1 })

	if err := os.Mkdir(later, 0o755); err != nil {
		t.Fatal(err)
	}
	eventually(t, "called after the folder appeared", func() bool { return calls() == 2 })
	write(t, filepath.Join(later, "a.yaml"), "x")
	eventually(t, "called for a file in the new folder", func() bool { return calls() == 3 })
}
