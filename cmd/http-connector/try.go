package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/try"
)

func cmdTry(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("try", "Samples one asset once, as 'run' would, and prints every request with its status and\n"+
		"timing, each response (truncated), each data point value and the messages with their\n"+
		"topic and properties, without publishing anything. Exit status 0: every dataset gave\n"+
		"its messages; 1: a request, value or mapping failed, or the configuration has problems.", e)
	sf := addSettingFlags(fs, withConfig)
	assetName := fs.String("asset", "", "`name` of the asset to sample (required)")
	datasetName := fs.String("dataset", "", "sample only this `dataset` of the asset")
	bodyLimit := fs.Int("body-limit", 1024, "show at most this many `bytes` of each response body")
	s, code, done := sf.parseSettings(fs, args, e)
	if done {
		return code
	}
	if s.Config == "" || *assetName == "" {
		return usageError(e, "try", "--config and --asset are required")
	}
	if err := dirExists(s.Config); err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitFailure
	}
	ok, err := try.Run(ctx, try.Options{
		Settings: s, Asset: *assetName, Dataset: *datasetName, BodyLimit: *bodyLimit,
		Getenv: e.getenv, Logger: newLogger(e.stderr, s), Out: e.stdout,
	})
	var cerrs config.Errors
	switch {
	case errors.As(err, &cerrs):
		printErrors(e.stderr, err)
		return exitFailure
	case err != nil:
		fmt.Fprintln(e.stderr, "http-connector try:", err)
		return exitFailure
	case !ok:
		return exitFailure
	}
	return exitOK
}
