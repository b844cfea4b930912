package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, []string{"PATH=/usr/bin"}, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, out, _ := runCLI(t, c.name, "--help")
			if code != exitOK || !strings.Contains(out, "Usage: http-connector "+c.name) {
				t.Errorf("exit %d, output:\n%s", code, out)
			}
		})
	}
	code, out, _ := runCLI(t, "--help")
	if code != exitOK || !strings.Contains(out, "Commands:") {
		t.Errorf("top-level help: exit %d\n%s", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{},
		{"frobnicate"},
		{"validate"},
		{"run"},
		{"validate", "--config"},
		{"validate", "--no-such-flag"},
		{"validate", "--config", "x", "extra"},
	}
	for _, args := range tests {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestValidate(t *testing.T) {
	code, out, errs := runCLI(t, "validate", "--config", "../../examples/thermostat/config")
	if code != exitOK || out != "../../examples/thermostat/config: valid: 1 endpoint, 1 asset, 1 dataset\n" {
		t.Errorf("thermostat example: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}

	code, _, errs = runCLI(t, "validate", "--config", "../../internal/config/testdata/invalid/bad-method")
	want := `../../internal/config/testdata/invalid/bad-method/asset.yaml:12: asset "a" dataset "d" data point "p": spec.datasets[0].dataPoints[0].dataPointConfiguration.HttpRequestMethod: value must be one of "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", got "FETCH"
1 problem
`
	if code != exitFailure || errs != want {
		t.Errorf("invalid folder: exit %d\nstderr:\n%s\nwant:\n%s", code, errs, want)
	}

	// The parent of the configuration folder: its subfolders are not read.
	code, out, errs = runCLI(t, "validate", "--config", "../../examples/thermostat")
	want = "../../examples/thermostat: no Device or Asset resources: only the *.yaml, *.yml and *.json files directly in the folder are read; not its subfolders config, server (point --config at the folder that holds the resources)\n"
	if code != exitFailure || out != "" || errs != want {
		t.Errorf("folder without resources: exit %d\nstdout: %s\nstderr: %s\nwant: %s", code, out, errs, want)
	}

	code, _, errs = runCLI(t, "validate", "--config", "does-not-exist")
	if code != exitFailure || !strings.Contains(errs, "configuration folder: stat does-not-exist: no such file or directory") {
		t.Errorf("missing folder: exit %d: %s", code, errs)
	}
}

func TestVersion(t *testing.T) {
	if code, out, _ := runCLI(t, "version"); code != exitOK || !strings.HasPrefix(out, "http-connector ") {
		t.Errorf("exit %d: %q", code, out)
	}
}
