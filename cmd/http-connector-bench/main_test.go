package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Flag mistakes are usage errors (exit 2) found before anything is built
// or started; --help prints the usage once on stdout.
func TestCommandLineMistakes(t *testing.T) {
	run1 := func(args ...string) (int, string, string) {
		var out, errs bytes.Buffer
		code := run(context.Background(), args, nil, &out, &errs)
		return code, out.String(), errs.String()
	}
	if code, out, errs := run1("--help"); code != exitOK || strings.Count(out, "Usage:") != 1 || errs != "" {
		t.Errorf("--help: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"--assets", "many"},
		{"--assets", "0"},
		{"--points", "9"},
		{"--interval", "5ms"},
		{"--duration", "0s"},
		{"--broker", "rabbitmq"},
		{"--max-conns", "-1"},
		{"extra"},
	} {
		code, out, errs := run1(args...)
		lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
		if code != exitUsage || out != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], "http-connector-bench: ") {
			t.Errorf("%q: exit %d, want 2 and one line of error with the hint\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
		}
	}
}
