package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/http-connector/http-connector/internal/akrimount"
	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/source/akri"
	"github.com/http-connector/http-connector/internal/source/folder"
	"github.com/http-connector/http-connector/internal/version"
)

func cmdRun(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("run", "Samples every enabled asset of the configuration and publishes its datasets to MQTT\nuntil interrupted (SIGINT or SIGTERM).", e)
	sf := addSettingFlags(fs, withConfig|withBroker|withOps)
	fs.String("pprof", "", "serve net/http/pprof on this loopback `address` (host:port); off unless set")
	sf.keys["pprof"] = "pprof"
	statsFile := fs.String("stats-file", "", "write running totals and sample start lateness as JSON lines to `file` every second (for benchmarks)")
	s, code, done := sf.parseSettings(fs, args, e)
	if done {
		return code
	}
	if akrimount.Present(e.getenvString) {
		withTemplate := func(template string) (*settings.Settings, error) { return sf.loadWith(fs, e, nil, template) }
		return runAkri(ctx, e, s, withTemplate, *statsFile)
	}
	if s.Config == "" {
		return usageError(e, "run", "--config is required (or config in the settings), unless the Akri operator's environment is present")
	}
	if err := dirExists(s.Config); err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitFailure
	}
	log := newLogger(e.stderr, s)
	src := folder.New(folder.Options{
		Settings: s,
		Config:   os.DirFS(s.Config),
		Display:  s.Config,
		Logger:   log,
		Getenv:   e.getenv,
		Reload:   true,
	})
	opts := connector.FromSettings(s, log)
	opts.StatsFile = *statsFile
	opts.LowGCWhileStarting = true
	opts.Abort = e.abort
	opts.Build = version.Read(release)
	return exitCode(e, connector.Run(ctx, src, opts))
}

// runAkri runs under the Akri operator: the environment and mounted files
// say everything; the connector settings still give limits and defaults,
// and the connector template's additionalConfiguration may set them.
func runAkri(ctx context.Context, e *env, s *settings.Settings, withTemplate func(string) (*settings.Settings, error), statsFile string) int {
	environment, err := akrimount.Load(e.getenvString)
	if err != nil {
		fmt.Fprintln(e.stderr, "http-connector run (Akri mode):", err)
		return exitFailure
	}
	if t := environment.AdditionalConfiguration; strings.TrimSpace(t) != "" {
		if s, err = withTemplate(t); err != nil {
			fmt.Fprintln(e.stderr, "http-connector run (Akri mode):", akrimount.FileAdditionalConfiguration+":", err)
			return exitFailure
		}
	}
	if s.LogFormat == "" {
		s.LogFormat = settings.LogJSON
	}
	log := newLogger(e.stderr, s)
	if environment.LogLevel != nil {
		log = log.Level(*environment.LogLevel)
	}
	loader, err := config.ForSettings(s)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitFailure
	}
	planner, err := loader.MappingPlanner()
	if err != nil {
		printErrors(e.stderr, err)
		return exitFailure
	}
	src := akri.New(akri.Options{
		Env:           environment,
		Planner:       planner,
		MappingPaths:  s.Mappings,
		ReloadPlanner: loader.MappingPlanner,
		Logger:        log,
	})
	opts := connector.FromSettings(s, log)
	if opts.ReadyFile == "" {
		opts.ReadyFile = settings.DefaultAkriReadyFile
	}
	opts.StatsFile = statsFile
	opts.LowGCWhileStarting = true
	opts.Abort = e.abort
	opts.Build = version.Read(release)
	return exitCode(e, connector.Run(ctx, src, opts))
}

// exitCode reports how a run ended.
func exitCode(e *env, err error) int {
	var cerrs config.Errors
	switch {
	case errors.As(err, &cerrs):
		printErrors(e.stderr, err)
		return exitFailure
	case err != nil:
		fmt.Fprintln(e.stderr, "http-connector:", err)
		return exitFailure
	}
	return exitOK
}

func cmdValidate(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("validate", "Loads everything 'run' loads and reports every problem with its file, line and field.\nExit status 0: valid; 1: problems found.", e)
	sf := addSettingFlags(fs, withConfig)
	s, code, done := sf.parseSettings(fs, args, e)
	if done {
		return code
	}
	if s.Config == "" {
		return usageError(e, "validate", "--config is required")
	}
	cfg, code, done := loadConfig(e, s)
	if done {
		return code
	}
	if cfg.Empty() {
		fmt.Fprintln(e.stderr, cfg.WhyEmpty(s.Config))
		return exitFailure
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
	for _, n := range cfg.Notes {
		fmt.Fprintln(e.stdout, "note:", n)
	}
	return exitOK
}
