package historian

import (
	"testing"

	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/testing/examplerun"
)

// configAddress is the device address the example's configuration is
// written for.
const configAddress = "http://127.0.0.1:3002"

// writeConfig is the example's config folder for a test, its device at
// addr (host:port), with each pair of edits (old, new) made.
func writeConfig(t *testing.T, addr string, edits ...string) string {
	t.Helper()
	return examplerun.WriteConfig(t, "config", configAddress, addr, edits...)
}

// startConnector runs the connector on the configuration folder dir with
// the broker at brokerURL; edit, if set, changes its settings.
func startConnector(t *testing.T, dir, brokerURL string, edit func(*settings.Settings)) *examplerun.Run {
	t.Helper()
	return examplerun.Start(t, dir, brokerURL, edit)
}
