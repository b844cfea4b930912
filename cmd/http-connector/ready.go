package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/http-connector/http-connector/internal/settings"
)

// readyStale is how old the ready file may be: the connector rewrites it
// every 2 s while it is ready, so an older one belongs to a process that
// is hung or gone.
const readyStale = 30 * time.Second

func cmdReady(_ context.Context, e *env, args []string) int {
	fs := newFlagSet("ready", "Exits 0 when the connector is ready: connected to the broker, its assets applied (the file\n"+
		"the running connector keeps is there and fresh); 1 otherwise, saying why. The readiness probe\n"+
		"of the connector metadata runs it.", e)
	file := fs.String("file", "", "the ready `file` (default: the readyFile setting, else "+settings.DefaultAkriReadyFile+")")
	if code, done := parse(fs, args, e); done {
		return code
	}
	path := *file
	if path == "" {
		path, _ = e.getenv(settings.EnvPrefix + "READY_FILE")
	}
	if path == "" {
		path = settings.DefaultAkriReadyFile
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		fmt.Fprintf(e.stderr, "not ready: %s is not there (%v)\n", path, err)
		return exitFailure
	case time.Since(fi.ModTime()) > readyStale:
		fmt.Fprintf(e.stderr, "not ready: %s was last written %v ago: the connector is not keeping it\n", path, time.Since(fi.ModTime()).Round(time.Second))
		return exitFailure
	}
	fmt.Fprintln(e.stdout, "ready")
	return exitOK
}
