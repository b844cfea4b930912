package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"

	"github.com/http-connector/http-connector/internal/akrimount"
	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/source/folder"
)

func cmdRun(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("run", "Samples every enabled asset of the configuration and publishes its datasets to MQTT\nuntil interrupted (SIGINT or SIGTERM).", e)
	sf := addSettingFlags(fs, true)
	fs.String("pprof", "", "serve net/http/pprof on this loopback `address` (host:port); off unless set")
	sf.keys["pprof"] = "pprof"
	statsFile := fs.String("stats-file", "", "write running totals and sample start lateness as JSON lines to `file` every second (for benchmarks)")
	s, code, done := sf.parseSettings(fs, args, e)
	if done {
		return code
	}
	if akrimount.Present(e.getenvString) {
		return runAkri(ctx, e, s)
	}
	if s.Config == "" {
		fmt.Fprintln(e.stderr, "http-connector run: --config is required (or config in the settings), unless the Akri operator's environment is present")
		return exitUsage
	}
	if err := dirExists(s.Config); err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitFailure
	}
	log := newLogger(e.stderr, s)
	gc := lowerGCForStartup()
	defer gc.restore()
	err := folder.Run(ctx, folder.Options{
		Settings:  s,
		Config:    os.DirFS(s.Config),
		Display:   s.Config,
		Logger:    log,
		Getenv:    e.getenv,
		StatsFile: *statsFile,
		Reload:    true,
		Ready:     func(string) { gc.restore() },
	})
	var cerrs config.Errors
	switch {
	case errors.As(err, &cerrs):
		printErrors(e.stderr, err)
		return exitFailure
	case err != nil:
		log.Error().Err(err).Msg("stopped")
		return exitFailure
	}
	return exitOK
}

func cmdValidate(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("validate", "Loads everything 'run' loads and reports every problem with its file, line and field.\nExit status 0: valid; 1: problems found.", e)
	sf := addSettingFlags(fs, false)
	s, code, done := sf.parseSettings(fs, args, e)
	if done {
		return code
	}
	if s.Config == "" {
		fmt.Fprintln(e.stderr, "http-connector validate: --config is required")
		return exitUsage
	}
	cfg, code, done := loadConfig(e, s)
	if done {
		return code
	}
	datasets := 0
	for _, a := range cfg.Assets {
		datasets += len(a.Datasets)
	}
	fmt.Fprintf(e.stdout, "%s: valid: %d %s, %d %s, %d %s\n", s.Config,
		len(cfg.Endpoints), plural(len(cfg.Endpoints), "endpoint", "endpoints"),
		len(cfg.Assets), plural(len(cfg.Assets), "asset", "assets"),
		datasets, plural(datasets, "dataset", "datasets"))
	for _, d := range cfg.Disabled {
		fmt.Fprintln(e.stdout, "not sampled:", d)
	}
	return exitOK
}

// startupGCPercent is the garbage collector's target while the process
// loads its configuration and starts its assets: loading thousands of
// assets makes many times their size in short-lived garbage (YAML,
// schema validation, plans), and with the default of 100 the heap may grow
// to twice what is live at the end of it. A smaller target keeps the
// peak memory near what the connector needs to run, for a little more CPU
// once (bench with 10,000 assets: peak RSS 198 MB at the default, 137 to
// 152 MB at 50, 122 to 128 MB at 35; the start takes 1.7 to 1.8 s instead of
// 1.2 s).
const startupGCPercent = 35

// startupGC lowers the garbage collector's target until restore.
type startupGC struct {
	once sync.Once
	prev int
}

func lowerGCForStartup() *startupGC {
	g := &startupGC{prev: debug.SetGCPercent(startupGCPercent)}
	if g.prev >= 0 && g.prev < startupGCPercent {
		debug.SetGCPercent(g.prev) // the operator's GOGC is lower already
	}
	return g
}

// restore sets the target back and gives the memory the start-up used and
// no longer needs back to the operating system.
func (g *startupGC) restore() {
	g.once.Do(func() {
		debug.SetGCPercent(g.prev)
		debug.FreeOSMemory()
	})
}
