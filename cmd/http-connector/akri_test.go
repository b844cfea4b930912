package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// With the Akri operator's environment, run is in Akri mode and a missing
// or broken part of that environment stops it with an error naming it.
func TestRunAkriModeEnvironmentErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		environ []string
		want    string
	}{
		{"no configuration mount", []string{"CONNECTOR_ID=c-0", "ADR_RESOURCES_NAME_MOUNT_PATH=" + dir}, "CONNECTOR_CONFIGURATION_MOUNT_PATH"},
		{"configuration mount missing", []string{"CONNECTOR_ID=c-0", "CONNECTOR_CONFIGURATION_MOUNT_PATH=" + dir + "/nope", "ADR_RESOURCES_NAME_MOUNT_PATH=" + dir}, dir + "/nope"},
		{"no MQTT connection file", []string{"CONNECTOR_ID=c-0", "CONNECTOR_CONFIGURATION_MOUNT_PATH=" + dir, "ADR_RESOURCES_NAME_MOUNT_PATH=" + dir}, "MQTT_CONNECTION_CONFIGURATION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			code := run(context.Background(), []string{"run"}, tt.environ, &out, &errs)
			if code != exitFailure || !strings.Contains(errs.String(), "Akri mode") || !strings.Contains(errs.String(), tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant it to name %s", code, errs.String(), tt.want)
			}
		})
	}
}
