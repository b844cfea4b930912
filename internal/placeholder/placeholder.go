// Package placeholder reads the ${…} placeholders of configuration strings:
// a header value "Bearer ${secret:ha/token}", a query parameter
// "${password}". A string is parsed once, when the configuration loads,
// into a Text of literal parts and references; it is expanded with the
// values of its references when a client or a request is built.
//
// Syntax: ${name} or ${name:argument}. A name is a letter followed by
// letters, digits, '_' or '.'; the argument is any text without '}'. $$ is
// a literal '$'; any other '$' is itself. An unterminated ${ is an error
// that gives its offset.
package placeholder

import (
	"errors"
	"fmt"
	"strings"
)

// Ref is one placeholder: ${Name} or ${Name:Arg}.
type Ref struct {
	Name string
	Arg  string
}

func (r Ref) String() string {
	if r.Arg == "" {
		return "${" + r.Name + "}"
	}
	return "${" + r.Name + ":" + r.Arg + "}"
}

// Text is a parsed string. The zero value is the empty string.
type Text struct {
	parts []part
	src   string
}

// part is a literal, or a reference when ref is set.
type part struct {
	lit string
	ref *Ref
}

// Error is a string that does not parse, or a placeholder that is not
// allowed where it is written.
type Error struct {
	Offset int // byte offset of the placeholder in the string
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("at offset %d: %s", e.Offset, e.Msg) }

// Parse parses s. check, if not nil, is asked about each reference, and its
// error is returned with the reference's offset.
func Parse(s string, check func(Ref) error) (Text, error) {
	t := Text{src: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			lit.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			lit.WriteByte('$')
			i++
			continue
		case '{':
		default:
			lit.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return Text{}, &Error{Offset: i, Msg: "unterminated ${ (write $$ for a literal $)"}
		}
		ref, err := parseRef(s[i+2 : i+2+end])
		if err == nil && check != nil {
			err = check(ref)
		}
		if err != nil {
			return Text{}, &Error{Offset: i, Msg: err.Error()}
		}
		flush()
		t.parts = append(t.parts, part{ref: &ref})
		i += 2 + end
	}
	flush()
	return t, nil
}

// Literal is a Text of s as it is, without placeholders.
func Literal(s string) Text {
	if s == "" {
		return Text{}
	}
	return Text{parts: []part{{lit: s}}, src: strings.ReplaceAll(s, "$", "$$")}
}

func parseRef(body string) (Ref, error) {
	name, arg, _ := strings.Cut(body, ":")
	if !validName(name) {
		return Ref{}, fmt.Errorf("%q is not a placeholder name (a letter, then letters, digits, '_' or '.')", name)
	}
	return Ref{Name: name, Arg: arg}, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// Source is the string as written.
func (t Text) Source() string { return t.src }

// Static reports whether t has no placeholders.
func (t Text) Static() bool {
	for _, p := range t.parts {
		if p.ref != nil {
			return false
		}
	}
	return true
}

// Refs are t's placeholders, in order.
func (t Text) Refs() []Ref {
	var out []Ref
	for _, p := range t.parts {
		if p.ref != nil {
			out = append(out, *p.ref)
		}
	}
	return out
}

// ErrNoValue is what a lookup returns for a reference it does not know.
var ErrNoValue = errors.New("no value")

// Expand is t with each placeholder replaced by what lookup gives it. The
// error names the placeholder, never a value.
func (t Text) Expand(lookup func(Ref) (string, error)) (string, error) {
	if len(t.parts) == 1 && t.parts[0].ref == nil {
		return t.parts[0].lit, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := lookup(*p.ref)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p.ref, err)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// String is the source, so that a Text prints as written (placeholders,
// never values).
func (t Text) String() string { return t.src }

// Bind is t with the references that f knows replaced by their values, as
// literal text; Source stays as written.
func (t Text) Bind(f func(Ref) (string, bool)) Text {
	out := Text{src: t.src}
	for _, p := range t.parts {
		if p.ref != nil {
			if v, ok := f(*p.ref); ok {
				p = part{lit: v}
			}
		}
		if n := len(out.parts); n > 0 && p.ref == nil && out.parts[n-1].ref == nil {
			out.parts[n-1].lit += p.lit
			continue
		}
		out.parts = append(out.parts, p)
	}
	return out
}
