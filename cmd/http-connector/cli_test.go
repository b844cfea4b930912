package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, []string{"PATH=/usr/bin"}, &out, &errb)
	return code, out.String(), errb.String()
}

// Every command answers --help, an unknown flag and a bad value the same
// way: the usage once on stdout for --help (exit 0); one line naming the
// mistake and where to find the usage on stderr otherwise (exit 2).
func TestCommandLineMistakes(t *testing.T) {
	badValue := map[string][]string{
		"run":      {"--log-level", "loud"},
		"validate": {"--config", ".", "--log-format", "xml"},
		"demo":     {"--log-level", "loud"},
		"test":     {"--run", "("},
		"try":      {"--body-limit", "x"},
		"version":  {"extra"},
		"ready":    {"extra"},
	}
	mentions := map[string]string{
		"run": "-log-level", "validate": "-log-format", "demo": "-log-level",
		"test": "-run", "try": "-body-limit", "version": `"extra"`, "ready": `"extra"`,
	}
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(t, c.name, "--help")
			if code != exitOK || strings.Count(out, "Usage: http-connector "+c.name) != 1 || errs != "" {
				t.Errorf("--help: exit %d, want 0 and the usage once on stdout\nstdout:\n%s\nstderr:\n%s", code, out, errs)
			}
			bad, ok := badValue[c.name]
			if !ok {
				t.Fatalf("no bad value to try on %s: add one to the table", c.name)
			}
			for _, args := range [][]string{{"--no-such-flag"}, bad} {
				want := mentions[c.name]
				if args[0] == "--no-such-flag" {
					want = "-no-such-flag"
				}
				code, out, errs := runCLI(t, append([]string{c.name}, args...)...)
				lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
				if code != exitUsage || out != "" || len(lines) != 2 ||
					!strings.HasPrefix(lines[0], "http-connector "+c.name+": ") || !strings.Contains(lines[0], want) ||
					lines[1] != "Run 'http-connector "+c.name+" --help' for its flags." {
					t.Errorf("%q: exit %d, want 2, the mistake (naming %s) and the hint on stderr\nstdout:\n%s\nstderr:\n%s", args, code, want, out, errs)
				}
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
		{"try", "--config", "."},
	}
	for _, args := range tests {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// A bad settings file is not a usage error: exit 1, with the file named.
func TestBadSettingsFileIsNotAUsageError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "settings.yaml")
	if err := os.WriteFile(file, []byte("logLevel: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCLI(t, "validate", "--config", ".", "--settings", file)
	if code != exitFailure || !strings.Contains(errs, "logLevel") {
		t.Errorf("exit %d, want 1: %s", code, errs)
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
