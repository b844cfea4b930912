package main

import (
	"context"
	"fmt"

	"github.com/http-connector/http-connector/internal/akrimount"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/publish"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/source/akri"
	"github.com/http-connector/http-connector/internal/source/folder"
)

// getenvString is getenv without the presence flag, as akrimount reads it.
func (e *env) getenvString(name string) string {
	v, _ := e.getenv(name)
	return v
}

// runAkri runs under the Akri operator: the environment and mounted files
// say everything; the connector settings still give limits and defaults.
func runAkri(ctx context.Context, e *env, s *settings.Settings) int {
	environment, err := akrimount.Load(e.getenvString)
	if err != nil {
		fmt.Fprintln(e.stderr, "http-connector run (Akri mode):", err)
		return exitFailure
	}
	if s.LogFormat == "" {
		s.LogFormat = "json"
	}
	log := newLogger(e.stderr, s)
	if environment.LogLevel != nil {
		log = log.Level(*environment.LogLevel)
	}
	loader, err := folder.Loader(s)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitFailure
	}
	planner, err := loader.MappingPlanner()
	if err != nil {
		printErrors(e.stderr, err)
		return exitFailure
	}
	err = akri.Run(ctx, akri.Options{
		Env:           environment,
		Planner:       planner,
		MappingPaths:  s.Mappings,
		ReloadPlanner: loader.MappingPlanner,
		Logger:        log,
		Fetch:         fetch.Options{MaxResponseBytes: s.MaxResponseBytes, MaxConns: s.MaxConnsPerDevice},
		// QoS 1 messages wait in the bounded queue (and the spool, if
		// set) while the broker is unreachable.
		Publisher: func(c *mqttclient.Client) (akri.Publisher, error) {
			return publish.Start(ctx, c, publish.Options{
				QueueSize: s.PublishQueueSize,
				Inflight:  s.PublishInflight,
				Overflow:  publish.Overflow(s.PublishOverflow),
				SpoolDir:  s.SpoolDir,
				Logger:    log,
			})
		},
		ShutdownTimeout: s.ShutdownTimeout,
	})
	if err != nil {
		log.Error().Err(err).Msg("stopped")
		return exitFailure
	}
	return exitOK
}
