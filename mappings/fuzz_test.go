package mappings_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/mappingfile"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/sampling"
)

// FuzzBodyToMappings drives the untrusted path of a sample: an HTTP body,
// decoded as the sampler decodes it, through every shipped mapping. A
// mapping may fail on a body, but must not panic, must stop by its
// deadline and must give the same result for the same body. go test runs
// the seeds; go test -fuzz FuzzBodyToMappings explores.
func FuzzBodyToMappings(f *testing.F) {
	for _, seed := range []struct {
		body, contentType string
	}{
		{`{"currentTemperature": 71.3, "desiredTemperature": 72.5}`, "application/json"},
		{`{"currentTemperature": 71.3, "desiredTemperature": 72.5, "power": "on"}`, "application/json; charset=utf-8"},
		{`{"readings": [{"v": 1}, {"v": 2, "timestamp": "x"}, 3, null]}`, "application/json"},
		{`[1, 2.5, "3", true, null, {"a": [{}]}]`, "application/json"},
		{`{"a": {"b": {"c": {"d": {"e": [[[[1]]]]}}}}}`, ""},
		{`{"big": 123456789012345678901234567890, "tiny": 1e-320, "huge": 1e308}`, "application/json"},
		{`{"currentTemperature": "71.3"}`, "application/json"},
		{`"98.6"`, "application/json"},
		{`-0`, "text/plain"},
		{`OK <ready>`, "text/plain"},
		{`<html><body>Service Unavailable</body></html>`, "text/html"},
		{`{"x": `, "application/json"},
		{"\xff\xfe\x00", "application/octet-stream"},
		{``, ""},
		{`null`, "application/json"},
		{`{"": {"": ""}, "a.b": 1, "a": {"b": 2}}`, "application/json"},
	} {
		f.Add([]byte(seed.body), seed.contentType)
	}
	lib := shipped(f)
	all := lib.Mappings()
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		input, err := sampling.Decode(body, contentType)
		if err != nil {
			return // counted as a failed sample by the sampler
		}
		for _, m := range all {
			first, err1 := runBounded(t, m, input)
			again, err2 := runBounded(t, m, input)
			if errors.Is(err1, context.DeadlineExceeded) || errors.Is(err2, context.DeadlineExceeded) {
				continue // how far a run gets by its deadline depends on the machine's load
			}
			if fmt.Sprint(err1) != fmt.Sprint(err2) || !reflect.DeepEqual(first, again) {
				t.Errorf("%s is not deterministic on %q: %v / %v, %v / %v", m.Name, body, first, again, err1, err2)
			}
		}
	})
}

// runBounded runs m as the sampler would, under a deadline, and fails the
// test if it overruns it.
func runBounded(t *testing.T, m *mappingfile.Mapping, input any) ([]any, error) {
	const limit = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	vars := mappingfile.TestVariables()
	names := m.Kind.Variables()
	values := make([]any, len(names))
	for i, n := range names {
		values[i] = vars[n]
	}
	start := time.Now()
	var out []any
	var err error
	if m.Kind == plan.DataPointMapping {
		var v any
		if v, err = m.Program.One(ctx, input, values...); err == nil {
			out = []any{v}
		}
	} else {
		out, err = m.Program.Run(ctx, input, values...)
	}
	// Generous: a loaded machine may be late to stop it, but a mapping that
	// ignored its deadline would run on.
	if took := time.Since(start); took > limit+10*time.Second {
		t.Errorf("%s took %v, past its %v deadline", m.Name, took, limit)
	}
	return out, err
}
