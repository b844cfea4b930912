// Package resp3 encodes and parses the subset of RESP3 (the Redis
// serialization protocol, version 3) that the AIO state store speaks:
// requests are arrays of blob strings, responses are simple strings, simple
// errors, integers, blob strings, nulls and arrays of those.
//
// Parse takes untrusted input: every length is checked against the bytes
// that are left before anything is allocated, and arrays nest at most
// MaxDepth deep.
package resp3

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Kind is the type of a Value, named by its RESP3 type byte.
type Kind byte

// The kinds Parse accepts.
const (
	SimpleString Kind = '+' // +OK\r\n
	SimpleError  Kind = '-' // -ERR syntax error\r\n
	Integer      Kind = ':' // :-1\r\n
	BlobString   Kind = '$' // $5\r\nhello\r\n
	Null         Kind = '_' // _\r\n; also the RESP2 forms $-1\r\n and *-1\r\n
	Array        Kind = '*' // *2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n
)

func (k Kind) String() string {
	switch k {
	case SimpleString:
		return "simple string"
	case SimpleError:
		return "simple error"
	case Integer:
		return "integer"
	case BlobString:
		return "blob string"
	case Null:
		return "null"
	case Array:
		return "array"
	}
	return fmt.Sprintf("kind %q", byte(k))
}

// MaxDepth is how deeply Parse lets arrays nest.
const MaxDepth = 32

// Value is one RESP3 value.
type Value struct {
	Kind Kind
	// Str is the text of a SimpleString or SimpleError (without the type byte
	// and CRLF: "OK", "ERR syntax error") or the bytes of a BlobString.
	// Values from Parse alias the parsed payload.
	Str   []byte
	Int   int64   // Integer
	Elems []Value // Array
}

// Command encodes a request as the SDKs send it: an array of blob strings,
// e.g. Command([]byte("GET"), key) is "*2\r\n$3\r\nGET\r\n$<n>\r\n<key>\r\n".
// Arguments are binary-safe.
func Command(args ...[]byte) []byte {
	n := 16
	for _, a := range args {
		n += len(a) + 16
	}
	b := make([]byte, 0, n)
	b = appendHeader(b, '*', len(args))
	for _, a := range args {
		b = appendBlob(b, a)
	}
	return b
}

func appendHeader(b []byte, typ byte, n int) []byte {
	b = append(b, typ)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

func appendBlob(b, blob []byte) []byte {
	b = appendHeader(b, '$', len(blob))
	b = append(b, blob...)
	return append(b, '\r', '\n')
}

// Marshal encodes v. Null is written as "_\r\n". A simple string or error
// containing CR or LF, or an unknown kind, is an error.
func Marshal(v Value) ([]byte, error) {
	return appendValue(nil, v, 0)
}

func appendValue(b []byte, v Value, depth int) ([]byte, error) {
	switch v.Kind {
	case SimpleString, SimpleError:
		if bytes.ContainsAny(v.Str, "\r\n") {
			return nil, fmt.Errorf("resp3: %s %q contains CR or LF", v.Kind, v.Str)
		}
		b = append(b, byte(v.Kind))
		b = append(b, v.Str...)
		return append(b, '\r', '\n'), nil
	case Integer:
		b = append(b, ':')
		b = strconv.AppendInt(b, v.Int, 10)
		return append(b, '\r', '\n'), nil
	case BlobString:
		return appendBlob(b, v.Str), nil
	case Null:
		return append(b, '_', '\r', '\n'), nil
	case Array:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("resp3: arrays nested deeper than %d", MaxDepth)
		}
		b = appendHeader(b, '*', len(v.Elems))
		for _, e := range v.Elems {
			var err error
			if b, err = appendValue(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("resp3: cannot encode %s", v.Kind)
}

// SyntaxError is a payload that is not one well-formed value.
type SyntaxError struct {
	Offset int // byte offset in the payload
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("resp3: %s at offset %d", e.Msg, e.Offset)
}

// ErrSyntax is matched (errors.Is) by every *SyntaxError.
var ErrSyntax = errors.New("resp3 syntax error")

// Is makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// Parse parses a payload that holds exactly one value.
func Parse(data []byte) (Value, error) {
	p := parser{data: data}
	v, err := p.value(0)
	if err != nil {
		return Value{}, err
	}
	if p.pos != len(data) {
		return Value{}, p.fail(p.pos, "%d bytes after the value", len(data)-p.pos)
	}
	return v, nil
}

type parser struct {
	data []byte
	pos  int
}

func (p *parser) fail(at int, format string, args ...any) error {
	return &SyntaxError{Offset: at, Msg: fmt.Sprintf(format, args...)}
}

// line returns the bytes from pos up to the next CRLF and moves past it. A
// bare CR or LF inside the line is an error.
func (p *parser) line() ([]byte, error) {
	start := p.pos
	rest := p.data[start:]
	i := bytes.IndexAny(rest, "\r\n")
	if i < 0 {
		return nil, p.fail(len(p.data), "missing CRLF")
	}
	if rest[i] != '\r' || i+1 >= len(rest) || rest[i+1] != '\n' {
		return nil, p.fail(start+i, "bare CR or LF")
	}
	p.pos = start + i + 2
	return rest[:i], nil
}

// number parses the decimal line after a type byte. Only integers may
// carry a "+" sign; lengths may not.
func (p *parser) number(plus bool) (int64, error) {
	at := p.pos
	l, err := p.line()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(l), 10, 64)
	if err != nil || (!plus && l[0] == '+') {
		return 0, p.fail(at, "invalid number %q", truncate(l))
	}
	return n, nil
}

func (p *parser) value(depth int) (Value, error) {
	if p.pos >= len(p.data) {
		return Value{}, p.fail(p.pos, "unexpected end of payload")
	}
	at := p.pos
	typ := Kind(p.data[p.pos])
	p.pos++
	switch typ {
	case SimpleString, SimpleError:
		l, err := p.line()
		if err != nil {
			return Value{}, err
		}
		return Value{Kind: typ, Str: l}, nil

	case Integer:
		n, err := p.number(true)
		if err != nil {
			return Value{}, err
		}
		return Value{Kind: Integer, Int: n}, nil

	case Null:
		l, err := p.line()
		if err != nil {
			return Value{}, err
		}
		if len(l) != 0 {
			return Value{}, p.fail(at+1, "null with content")
		}
		return Value{Kind: Null}, nil

	case BlobString:
		n, err := p.number(false)
		if err != nil {
			return Value{}, err
		}
		if n == -1 {
			return Value{Kind: Null}, nil
		}
		left := len(p.data) - p.pos
		if n < 0 || n > int64(left) {
			return Value{}, p.fail(at, "blob length %d with %d bytes left", n, left)
		}
		end := p.pos + int(n)
		if end+2 > len(p.data) || p.data[end] != '\r' || p.data[end+1] != '\n' {
			return Value{}, p.fail(end, "blob string not followed by CRLF")
		}
		v := Value{Kind: BlobString, Str: p.data[p.pos:end]}
		p.pos = end + 2
		return v, nil

	case Array:
		n, err := p.number(false)
		if err != nil {
			return Value{}, err
		}
		if n == -1 {
			return Value{Kind: Null}, nil
		}
		// Each element takes at least 3 bytes ("_\r\n"), which bounds what a
		// forged count can make us allocate.
		left := len(p.data) - p.pos
		if n < 0 || n > int64(left/3) {
			return Value{}, p.fail(at, "array length %d with %d bytes left", n, left)
		}
		if depth >= MaxDepth {
			return Value{}, p.fail(at, "arrays nested deeper than %d", MaxDepth)
		}
		elems := make([]Value, 0, min(n, 64))
		for range n {
			e, err := p.value(depth + 1)
			if err != nil {
				return Value{}, err
			}
			elems = append(elems, e)
		}
		return Value{Kind: Array, Elems: elems}, nil
	}
	return Value{}, p.fail(at, "unsupported type byte %q", byte(typ))
}

// truncate shortens bytes quoted in error messages.
func truncate(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// BlobArray returns the elements of an array of blob strings, such as a
// request or a KEYNOTIFY notification.
func (v Value) BlobArray() ([][]byte, error) {
	if v.Kind != Array {
		return nil, fmt.Errorf("resp3: %s, want an array of blob strings", v.Kind)
	}
	out := make([][]byte, len(v.Elems))
	for i, e := range v.Elems {
		if e.Kind != BlobString {
			return nil, fmt.Errorf("resp3: element %d is a %s, want a blob string", i, e.Kind)
		}
		out[i] = e.Str
	}
	return out, nil
}
