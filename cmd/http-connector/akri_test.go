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
	// A complete mount whose template sets a setting that does not exist.
	mount := t.TempDir()
	writeFiles(t, mount, map[string]string{
		"MQTT_CONNECTION_CONFIGURATION":      `{"host":"127.0.0.1:1","keepAliveSeconds":10,"maxInflightMessages":10,"protocol":"mqtt","sessionExpirySeconds":20,"tls":{"mode":"Disabled"}}`,
		"ADDITIONAL_CONNECTOR_CONFIGURATION": `{"metricAddr": ":9464"}`,
	})
	tests := []struct {
		name    string
		environ []string
		want    string
	}{
		{"no configuration mount", []string{"CONNECTOR_ID=c-0", "ADR_RESOURCES_NAME_MOUNT_PATH=" + dir}, "CONNECTOR_CONFIGURATION_MOUNT_PATH"},
		{"configuration mount missing", []string{"CONNECTOR_ID=c-0", "CONNECTOR_CONFIGURATION_MOUNT_PATH=" + dir + "/nope", "ADR_RESOURCES_NAME_MOUNT_PATH=" + dir}, dir + "/nope"},
		{"no MQTT connection file", []string{"CONNECTOR_ID=c-0", "CONNECTOR_CONFIGURATION_MOUNT_PATH=" + dir, "ADR_RESOURCES_NAME_MOUNT_PATH=" + dir}, "MQTT_CONNECTION_CONFIGURATION"},
		{"a template setting that does not exist", []string{"CONNECTOR_ID=c-0", "CONNECTOR_CONFIGURATION_MOUNT_PATH=" + mount, "ADR_RESOURCES_NAME_MOUNT_PATH=" + dir},
			"ADDITIONAL_CONNECTOR_CONFIGURATION: settings: unknown setting metricAddr"},
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
