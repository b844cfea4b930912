package main

import (
	"context"

	"github.com/http-connector/http-connector/internal/demo"
	"github.com/http-connector/http-connector/internal/version"
)

func cmdDemo(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("demo", "Starts the embedded MQTT broker, the example REST thermostat and the connector on the\nwalkthrough's device and asset (examples/thermostat/config) in one process, and prints\nevery published message with its topic until interrupted.", e)
	sf := addSettingFlags(fs, withOps)
	thermostatAddr := fs.String("thermostat", demo.DefaultThermostatAddr, "`address` of the example thermostat server")
	s, code, done := sf.parseSettings(fs, args, e)
	if done {
		return code
	}
	return exitCode(e, demo.Run(ctx, demo.Options{
		Settings:       s,
		ThermostatAddr: *thermostatAddr,
		Logger:         newLogger(e.stderr, s),
		Getenv:         e.getenv,
		Build:          version.Read(release),
		Messages:       e.stdout,
		Notes:          e.stderr,
	}))
}
