package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ready exits 0 on a fresh ready file, 1 without one or on a stale one,
// saying why.
func TestReadyCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ready")
	if code, _, errs := runCLI(t, "ready", "--file", file); code != exitFailure || !strings.Contains(errs, "is not there") {
		t.Errorf("no file: exit %d, %q", code, errs)
	}
	if err := os.WriteFile(file, []byte("now\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, "ready", "--file", file); code != exitOK || out != "ready\n" {
		t.Errorf("fresh file: exit %d, %q", code, out)
	}
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(file, old, old); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "ready", "--file", file); code != exitFailure || !strings.Contains(errs, "the connector is not keeping it") {
		t.Errorf("stale file: exit %d, %q", code, errs)
	}
}
