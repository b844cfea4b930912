package mapping

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSyntaxErrorPosition(t *testing.T) {
	tests := []struct {
		src, want, snippet string
	}{
		{".a |", "jq syntax error at line 1, column 5: unexpected end of input", "    .a |\n        ^"},
		{"{a: .b,\n b: .c ]", `jq syntax error at line 2, column 8: unexpected token "]"`, "     b: .c ]\n           ^"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.src, Options{})
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("%q: got %v, want a SyntaxError", tt.src, err)
		}
		if se.Error() != tt.want || se.Snippet() != tt.snippet {
			t.Errorf("%q:\ngot  %s\n%s\nwant %s\n%s", tt.src, se.Error(), se.Snippet(), tt.want, tt.snippet)
		}
	}
}

func TestDefinitionsAndVariables(t *testing.T) {
	p, err := Compile(".t | f2c | . * 10 | round / 10", Options{Definitions: "def f2c: (. - 32) * 5 / 9;"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.One(context.Background(), map[string]any{"t": json.Number("71.3")})
	if err != nil || v != 21.8 {
		t.Errorf("got %v, %v; want 21.8", v, err)
	}
	p, err = Compile("{asset: $asset, n: .}", Options{Variables: []string{"asset"}})
	if err != nil {
		t.Fatal(err)
	}
	v, err = p.One(context.Background(), 1, "boiler")
	if b, _ := json.Marshal(v); err != nil || string(b) != `{"asset":"boiler","n":1}` {
		t.Errorf("got %s, %v", b, err)
	}
	if _, err := Compile("$nope", Options{}); err == nil || err.Error() != "jq: variable not defined: $nope" {
		t.Errorf("undefined variable: got %v", err)
	}
}

func TestEnvironmentIsClosed(t *testing.T) {
	t.Setenv("HTTP_CONNECTOR_TEST_SECRET", "hunter2")
	for _, src := range []string{"env", "$ENV", "$ENV.HTTP_CONNECTOR_TEST_SECRET", "env.HTTP_CONNECTOR_TEST_SECRET"} {
		p, err := Compile(src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Run(context.Background(), nil)
		b, _ := json.Marshal(out)
		if err != nil || strings.Contains(string(b), "hunter2") {
			t.Errorf("%s: got %s, %v: the environment must be empty", src, b, err)
		}
	}
}

func TestRunIsBoundedByTheContext(t *testing.T) {
	p, err := Compile("def f: f; f", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Run(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "jq: stopped") {
		t.Errorf("got %v, want stopped by the deadline", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	p, _ = Compile("range(infinite)", Options{})
	if _, err := p.Run(context.Background(), nil); err == nil || err.Error() != "jq: more than 10000 outputs" {
		t.Errorf("unbounded outputs: got %v", err)
	}
}

func TestOneNeedsExactlyOneOutput(t *testing.T) {
	for src, want := range map[string]string{
		"empty":                  "jq: no output (a value needs exactly one)",
		"1, 2":                   "jq: 2 outputs (a value needs exactly one)",
		"error(\"bad reading\")": "jq: error: bad reading",
	} {
		p, err := Compile(src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.One(context.Background(), nil); err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", src, err, want)
		}
	}
}
