package placeholder_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/placeholder"
)

func values(r placeholder.Ref) (string, error) {
	switch r.String() {
	case "${password}":
		return "s3cr3t", nil
	case "${secret:ha/token}":
		return "tok", nil
	}
	return "", placeholder.ErrNoValue
}

func TestExpand(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"", ""},
		{"Bearer ${secret:ha/token}", "Bearer tok"},
		{"${password}", "s3cr3t"},
		{"a${password}b${secret:ha/token}c", "as3cr3tbtokc"},
		{"cost $5, $$ and $", "cost $5, $ and $"},
		{"$${password}", "${password}"},
	}
	for _, tt := range tests {
		text, err := placeholder.Parse(tt.in, nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		got, err := text.Expand(values)
		if err != nil || got != tt.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if text.Source() != tt.in || text.String() != tt.in {
			t.Errorf("Source of %q is %q", tt.in, text.Source())
		}
	}
}

func TestParseErrors(t *testing.T) {
	noSecrets := func(r placeholder.Ref) error {
		if r.Name == "secret" {
			return errors.New("secrets are not allowed here")
		}
		return nil
	}
	tests := []struct{ in, want string }{
		{"Bearer ${password", "at offset 7: unterminated ${ (write $$ for a literal $)"},
		{"${}", `at offset 0: "" is not a placeholder name (a letter, then letters, digits, '_' or '.')`},
		{"x ${9lives}", `at offset 2: "9lives" is not a placeholder name (a letter, then letters, digits, '_' or '.')`},
		{"k=${secret:a}", "at offset 2: secrets are not allowed here"},
	}
	for _, tt := range tests {
		_, err := placeholder.Parse(tt.in, noSecrets)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q): %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestExpandNamesThePlaceholderNotTheValue(t *testing.T) {
	text, err := placeholder.Parse("${secret:missing} and ${password}", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = text.Expand(values)
	if err == nil || err.Error() != "${secret:missing}: no value" || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %v", err)
	}
	if refs := text.Refs(); len(refs) != 2 || refs[0] != (placeholder.Ref{Name: "secret", Arg: "missing"}) || refs[1].Name != "password" {
		t.Errorf("refs %v", refs)
	}
	if text.Static() || !placeholder.Literal("a$b").Static() {
		t.Error("Static")
	}
}

func TestLiteralRoundTrips(t *testing.T) {
	for _, s := range []string{"", "a", "${x}", "$$", "cost $5"} {
		lit := placeholder.Literal(s)
		back, err := placeholder.Parse(lit.Source(), nil)
		if err != nil {
			t.Fatalf("Parse(%q): %v", lit.Source(), err)
		}
		got, err := back.Expand(values)
		if err != nil || got != s {
			t.Errorf("Literal(%q) parsed back to %q, %v", s, got, err)
		}
	}
}

// Any string either parses, and then expands without a lookup to what its
// literal parts say, or fails with an offset inside it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "plain", "Bearer ${secret:ha/token}", "$${x}", "${", "${a:b:c}", "$$$", "${x}${y}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		text, err := placeholder.Parse(s, nil)
		if err != nil {
			var pe *placeholder.Error
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset >= len(s) {
				t.Fatalf("Parse(%q): %v", s, err)
			}
			return
		}
		if text.Source() != s {
			t.Fatalf("Source %q, want %q", text.Source(), s)
		}
		out, err := text.Expand(func(r placeholder.Ref) (string, error) { return "", nil })
		if err != nil {
			t.Fatalf("Expand: %v", err)
		}
		if len(out) > len(s) {
			t.Fatalf("expanded to empty values, %q grew to %q", s, out)
		}
	})
}

func TestBind(t *testing.T) {
	text, err := placeholder.Parse("line ${attribute:line}, ${password}", nil)
	if err != nil {
		t.Fatal(err)
	}
	bound := text.Bind(func(r placeholder.Ref) (string, bool) { return "L3", r.Name == "attribute" })
	if got, _ := bound.Expand(values); got != "line L3, s3cr3t" || bound.Source() != text.Source() || len(bound.Refs()) != 1 {
		t.Errorf("bound %q (source %q, refs %v)", got, bound.Source(), bound.Refs())
	}
	if all := text.Bind(func(placeholder.Ref) (string, bool) { return "x", true }); !all.Static() {
		t.Error("every reference bound is static")
	}
}
