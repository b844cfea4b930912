package mappingfile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/http-connector/http-connector/internal/plan"
)

// TestTimeout bounds the evaluation of one test case, like the connector
// bounds the mappings of one sample.
const TestTimeout = time.Second

// Result is the outcome of one test case.
type Result struct {
	Mapping *Mapping
	Test    *Test
	// Failure says why the case failed; empty when it passed.
	Failure string
	// Diff shows expected and actual outputs line by line when they differ.
	Diff string
}

// Passed reports whether the case passed.
func (r Result) Passed() bool { return r.Failure == "" }

// RunTest runs one test case of m as the connector would run the mapping:
// a dataset mapping's outputs are the messages, a data point mapping must
// give exactly one value.
func (m *Mapping) RunTest(ctx context.Context, t *Test) Result {
	res := Result{Mapping: m, Test: t}
	if m.Program == nil {
		res.Failure = "the mapping does not compile"
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, TestTimeout)
	defer cancel()
	defaults := TestVariables()
	vars := m.Kind.Variables()
	values := make([]any, len(vars))
	for i, name := range vars {
		values[i] = defaults[name]
		if v, ok := t.Variables[name]; ok {
			values[i] = v
		}
	}
	var got []any
	var err error
	if m.Kind == plan.DataPointMapping {
		var v any
		if v, err = m.Program.One(ctx, t.Input, values...); err == nil {
			got = []any{v}
		}
	} else {
		got, err = m.Program.Run(ctx, t.Input, values...)
	}
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (a test case may take %v)", err, TestTimeout)
	}

	if t.Error != "" {
		switch {
		case err == nil:
			res.Failure = fmt.Sprintf("want an error containing %q, got %s", t.Error, describe(got))
		case !strings.Contains(err.Error(), t.Error):
			res.Failure = fmt.Sprintf("want an error containing %q, got error: %v", t.Error, err)
		}
		return res
	}
	if err != nil {
		res.Failure = "error: " + err.Error()
		return res
	}
	if got == nil {
		got = []any{}
	}
	gotN, err := normalize(got)
	if err != nil {
		res.Failure = fmt.Sprintf("output is not JSON: %v", err)
		return res
	}
	wantN, err := normalize(t.Outputs)
	if err != nil {
		res.Failure = fmt.Sprintf("expected output is not JSON: %v", err)
		return res
	}
	if reflect.DeepEqual(gotN, wantN) {
		return res
	}
	gotList, wantList := gotN.([]any), wantN.([]any)
	switch {
	case t.One && len(gotList) == 1:
		res.Failure = "output differs"
		res.Diff = Diff(pretty(wantList[0]), pretty(gotList[0]))
	case t.One:
		res.Failure = fmt.Sprintf("want 1 output, got %s", describe(got))
		res.Diff = Diff(pretty(wantList), pretty(gotList))
	case len(gotList) != len(wantList):
		res.Failure = fmt.Sprintf("want %s, got %s", count(len(wantList)), describe(got))
		res.Diff = Diff(pretty(wantList), pretty(gotList))
	default:
		res.Failure = "outputs differ"
		res.Diff = Diff(pretty(wantList), pretty(gotList))
	}
	return res
}

// RunTests runs every test case of the file's mappings, in file order.
func (f *File) RunTests(ctx context.Context) []Result {
	var out []Result
	for _, m := range f.Mappings {
		for _, t := range m.Tests {
			out = append(out, m.RunTest(ctx, t))
		}
	}
	return out
}

func count(n int) string {
	if n == 1 {
		return "1 output"
	}
	return fmt.Sprintf("%d outputs", n)
}

func describe(outs []any) string {
	if len(outs) == 0 {
		return "no output"
	}
	return count(len(outs))
}

// normalize makes JSON values comparable: numbers by value, whatever their
// Go type (json.Number, int, float64, *big.Int).
func normalize(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// pretty is v as indented JSON with sorted keys.
func pretty(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
