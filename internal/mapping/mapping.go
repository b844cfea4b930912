// Package mapping compiles and runs jq programs (gojq). A program is compiled
// once, when the configuration loads, and run for every sample with the
// sample's context, so its run time is bounded by the caller's deadline. The
// process environment is never visible to a program: $ENV and env are empty.
package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/itchyny/gojq"
)

// MaxOutputs bounds how many values one run may produce.
const MaxOutputs = 10000

// Program is a compiled jq program.
type Program struct {
	code *gojq.Code
	src  string
	vars []string
}

// SyntaxError is a jq parse error with its position in the source.
type SyntaxError struct {
	Source string
	Offset int // byte offset of the fault
	Line   int // 1-based
	Column int // 1-based, in characters
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("jq syntax error at line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Snippet returns the faulty source line with a caret under the column.
func (e *SyntaxError) Snippet() string {
	lines := strings.Split(e.Source, "\n")
	if e.Line < 1 || e.Line > len(lines) {
		return ""
	}
	line := lines[e.Line-1]
	return "    " + line + "\n    " + strings.Repeat(" ", max(e.Column-1, 0)) + "^"
}

// Options shape a compilation.
type Options struct {
	// Variables are the names (without $) the program may use; Run takes
	// their values in the same order.
	Variables []string
	// Definitions are jq function definitions ("def c2f: . * 9 / 5 + 32;")
	// placed before the program.
	Definitions string
}

// Compile parses and compiles src.
func Compile(src string, opts Options) (*Program, error) {
	full := src
	prefix := 0
	if opts.Definitions != "" {
		full = opts.Definitions + "\n" + src
		prefix = len(opts.Definitions) + 1
	}
	q, err := gojq.Parse(full)
	if err != nil {
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			return nil, syntaxError(full, pe, prefix, opts.Definitions)
		}
		return nil, fmt.Errorf("jq: %w", err)
	}
	vars := make([]string, len(opts.Variables))
	for i, v := range opts.Variables {
		vars[i] = "$" + v
	}
	code, err := gojq.Compile(q,
		gojq.WithVariables(vars),
		gojq.WithEnvironLoader(func() []string { return nil }),
	)
	if err != nil {
		return nil, fmt.Errorf("jq: %w", err)
	}
	return &Program{code: code, src: src, vars: opts.Variables}, nil
}

func syntaxError(full string, pe *gojq.ParseError, prefix int, defs string) error {
	off := pe.Offset
	// gojq reports the offset after the bad token; point at its start.
	if pe.Token != "" && off >= len(pe.Token) {
		off -= len(pe.Token)
	}
	src := full
	if off >= prefix {
		src = full[prefix:]
		off -= prefix
	} else {
		src = defs
	}
	off = min(off, len(src))
	line := strings.Count(src[:off], "\n") + 1
	col := len([]rune(src[strings.LastIndexByte(src[:off], '\n')+1:off])) + 1
	msg := "unexpected end of input"
	if pe.Token != "" {
		msg = fmt.Sprintf("unexpected token %q", pe.Token)
	}
	return &SyntaxError{Source: src, Offset: off, Line: line, Column: col, Msg: msg}
}

// Source is the program text as written.
func (p *Program) Source() string { return p.src }

// Run runs the program on input and returns every output. values are the
// variables' values in the order given to Compile. A jq error, a value that
// cannot be JSON (NaN, infinity) or more than MaxOutputs outputs is an error.
func (p *Program) Run(ctx context.Context, input any, values ...any) ([]any, error) {
	iter := p.code.RunWithContext(ctx, input, values...)
	var out []any
	for {
		v, ok := iter.Next()
		if !ok {
			break
		}
		if err, ok := v.(error); ok {
			var he *gojq.HaltError
			if errors.As(err, &he) && he.Value() == nil {
				break
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("jq: stopped: %w", ctx.Err())
			}
			return nil, fmt.Errorf("jq: %w", err)
		}
		if len(out) == MaxOutputs {
			return nil, fmt.Errorf("jq: more than %d outputs", MaxOutputs)
		}
		out = append(out, v)
	}
	return out, nil
}

// One runs the program and requires exactly one output.
func (p *Program) One(ctx context.Context, input any, values ...any) (any, error) {
	out, err := p.Run(ctx, input, values...)
	if err != nil {
		return nil, err
	}
	switch len(out) {
	case 1:
		return out[0], nil
	case 0:
		return nil, errors.New("jq: no output (a value needs exactly one)")
	default:
		return nil, fmt.Errorf("jq: %d outputs (a value needs exactly one)", len(out))
	}
}
