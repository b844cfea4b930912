package resp3_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/statestore/resp3"
)

func TestCommand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"set", []string{"SET", "key", "value"}, "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"},
		{"set with options", []string{"SET", "testkey", "testvalue", "NX", "PX", "10"},
			"*6\r\n$3\r\nSET\r\n$7\r\ntestkey\r\n$9\r\ntestvalue\r\n$2\r\nNX\r\n$2\r\nPX\r\n$2\r\n10\r\n"},
		{"get", []string{"GET", "testkey"}, "*2\r\n$3\r\nGET\r\n$7\r\ntestkey\r\n"},
		{"vdel", []string{"VDEL", "testkey", "testvalue"}, "*3\r\n$4\r\nVDEL\r\n$7\r\ntestkey\r\n$9\r\ntestvalue\r\n"},
		{"empty key and value", []string{"SET", "", ""}, "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n"},
		{"binary with CRLF inside", []string{"SET", "k\r\n", "\x00\r\n$3\r\n\xff"},
			"*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$8\r\n\x00\r\n$3\r\n\xff\r\n"},
		{"no arguments", nil, "*0\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := make([][]byte, len(tt.args))
			for i, a := range tt.args {
				args[i] = []byte(a)
			}
			got := resp3.Command(args...)
			if string(got) != tt.want {
				t.Fatalf("Command = %q, want %q", got, tt.want)
			}
			v, err := resp3.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			back, err := v.BlobArray()
			if err != nil {
				t.Fatal(err)
			}
			if len(back) != len(args) {
				t.Fatalf("parsed %d arguments, want %d", len(back), len(args))
			}
			for i := range back {
				if !bytes.Equal(back[i], args[i]) {
					t.Errorf("argument %d: parsed %q, want %q", i, back[i], args[i])
				}
			}
		})
	}
}

func blob(s string) resp3.Value { return resp3.Value{Kind: resp3.BlobString, Str: []byte(s)} }

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want resp3.Value
	}{
		{"ok", "+OK\r\n", resp3.Value{Kind: resp3.SimpleString, Str: []byte("OK")}},
		{"empty simple string", "+\r\n", resp3.Value{Kind: resp3.SimpleString, Str: []byte{}}},
		{"error", "-ERR syntax error\r\n", resp3.Value{Kind: resp3.SimpleError, Str: []byte("ERR syntax error")}},
		{"integer", ":1\r\n", resp3.Value{Kind: resp3.Integer, Int: 1}},
		{"negative integer", ":-1\r\n", resp3.Value{Kind: resp3.Integer, Int: -1}},
		{"integer with plus", ":+7\r\n", resp3.Value{Kind: resp3.Integer, Int: 7}},
		{"int64 max", ":9223372036854775807\r\n", resp3.Value{Kind: resp3.Integer, Int: 1<<63 - 1}},
		{"blob", "$4\r\n1234\r\n", blob("1234")},
		{"empty blob", "$0\r\n\r\n", blob("")},
		{"blob with CRLF inside", "$6\r\na\r\n\r\nb\r\n", blob("a\r\n\r\nb")},
		{"binary blob", "$3\r\n\x00\xff\r\r\n", blob("\x00\xff\r")},
		{"null", "_\r\n", resp3.Value{Kind: resp3.Null}},
		{"null blob", "$-1\r\n", resp3.Value{Kind: resp3.Null}},
		{"null array", "*-1\r\n", resp3.Value{Kind: resp3.Null}},
		{"empty array", "*0\r\n", resp3.Value{Kind: resp3.Array, Elems: []resp3.Value{}}},
		{"notify delete", "*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n",
			resp3.Value{Kind: resp3.Array, Elems: []resp3.Value{blob("NOTIFY"), blob("DELETE")}}},
		{"notify set", "*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$3\r\nabc\r\n",
			resp3.Value{Kind: resp3.Array, Elems: []resp3.Value{blob("NOTIFY"), blob("SET"), blob("VALUE"), blob("abc")}}},
		{"mixed nested array", "*3\r\n:1\r\n_\r\n*1\r\n+x\r\n", resp3.Value{Kind: resp3.Array, Elems: []resp3.Value{
			{Kind: resp3.Integer, Int: 1}, {Kind: resp3.Null},
			{Kind: resp3.Array, Elems: []resp3.Value{{Kind: resp3.SimpleString, Str: []byte("x")}}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resp3.Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q)\n got  %+v\n want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "resp3: unexpected end of payload at offset 0"},
		{"no CRLF", "+OK", "resp3: missing CRLF at offset 3"},
		{"bare LF", "+OK\n", "resp3: bare CR or LF at offset 3"},
		{"bare CR", "+O\rK\r\n", "resp3: bare CR or LF at offset 2"},
		{"trailing bytes", "+OK\r\n+OK\r\n", "resp3: 5 bytes after the value at offset 5"},
		{"unknown type", "OK\r\n", `resp3: unsupported type byte 'O' at offset 0`},
		{"double", ",1.5\r\n", `resp3: unsupported type byte ',' at offset 0`},
		{"integer not a number", ":abc\r\n", `resp3: invalid number "abc" at offset 1`},
		{"integer empty", ":\r\n", `resp3: invalid number "" at offset 1`},
		{"integer overflow", ":9223372036854775808\r\n", `resp3: invalid number "9223372036854775808" at offset 1`},
		{"blob length not a number", "$x\r\nabc\r\n", `resp3: invalid number "x" at offset 1`},
		{"blob length with plus", "$+3\r\nabc\r\n", `resp3: invalid number "+3" at offset 1`},
		{"blob longer than payload", "$11\r\nhello\r\n", "resp3: blob length 11 with 7 bytes left at offset 0"},
		{"blob forged huge length", "$9223372036854775807\r\nx\r\n", "resp3: blob length 9223372036854775807 with 3 bytes left at offset 0"},
		{"blob negative length", "$-2\r\n", "resp3: blob length -2 with 0 bytes left at offset 0"},
		{"blob shorter than length", "$3\r\nhello\r\n", "resp3: blob string not followed by CRLF at offset 7"},
		{"blob missing final CRLF", "$5\r\nhello", "resp3: blob string not followed by CRLF at offset 9"},
		{"null with content", "_x\r\n", "resp3: null with content at offset 1"},
		{"array forged huge count", "*1000000000\r\n:1\r\n", "resp3: array length 1000000000 with 4 bytes left at offset 0"},
		{"array negative count", "*-5\r\n", "resp3: array length -5 with 0 bytes left at offset 0"},
		{"array short of elements", "*2\r\n:12345\r\n", "resp3: unexpected end of payload at offset 12"},
		{"array count above bytes left", "*3\r\n:1\r\n:2\r\n", "resp3: array length 3 with 8 bytes left at offset 0"},
		{"array bad element", "*2\r\n$1\r\na\r\n$9\r\nb\r\n", "resp3: blob length 9 with 3 bytes left at offset 11"},
		{"nested too deep", strings.Repeat("*1\r\n", resp3.MaxDepth+1) + "_\r\n",
			"resp3: arrays nested deeper than 32 at offset 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resp3.Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want %q", tt.in, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error\n got  %s\n want %s", tt.in, err, tt.want)
			}
			if !errors.Is(err, resp3.ErrSyntax) {
				t.Errorf("error %v does not match ErrSyntax", err)
			}
		})
	}
}

func TestParseMaxDepth(t *testing.T) {
	in := strings.Repeat("*1\r\n", resp3.MaxDepth) + "_\r\n"
	v, err := resp3.Parse([]byte(in))
	if err != nil {
		t.Fatalf("%d nested arrays: %v", resp3.MaxDepth, err)
	}
	depth := 0
	for v.Kind == resp3.Array {
		v = v.Elems[0]
		depth++
	}
	if depth != resp3.MaxDepth || v.Kind != resp3.Null {
		t.Errorf("depth %d ending in %s, want %d ending in null", depth, v.Kind, resp3.MaxDepth)
	}
}

func TestMarshal(t *testing.T) {
	tests := []struct {
		name string
		in   resp3.Value
		want string
	}{
		{"ok", resp3.Value{Kind: resp3.SimpleString, Str: []byte("OK")}, "+OK\r\n"},
		{"error", resp3.Value{Kind: resp3.SimpleError, Str: []byte("ERR syntax error")}, "-ERR syntax error\r\n"},
		{"integer", resp3.Value{Kind: resp3.Integer, Int: -1}, ":-1\r\n"},
		{"blob", blob("a\r\nb"), "$4\r\na\r\nb\r\n"},
		{"null", resp3.Value{Kind: resp3.Null}, "_\r\n"},
		{"array", resp3.Value{Kind: resp3.Array, Elems: []resp3.Value{blob("NOTIFY"), blob("DELETE")}},
			"*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resp3.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	deep := resp3.Value{Kind: resp3.Null}
	for range resp3.MaxDepth + 1 {
		deep = resp3.Value{Kind: resp3.Array, Elems: []resp3.Value{deep}}
	}
	tests := []struct {
		name string
		in   resp3.Value
		want string
	}{
		{"CRLF in simple string", resp3.Value{Kind: resp3.SimpleString, Str: []byte("a\r\nb")}, `resp3: simple string "a\r\nb" contains CR or LF`},
		{"LF in error", resp3.Value{Kind: resp3.SimpleError, Str: []byte("ERR\n")}, `resp3: simple error "ERR\n" contains CR or LF`},
		{"unknown kind", resp3.Value{Kind: '#'}, `resp3: cannot encode kind '#'`},
		{"zero value", resp3.Value{}, `resp3: cannot encode kind '\x00'`},
		{"too deep", deep, "resp3: arrays nested deeper than 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resp3.Marshal(tt.in)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestBlobArray(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"not an array", "+OK\r\n", "resp3: simple string, want an array of blob strings"},
		{"integer element", "*2\r\n$3\r\nGET\r\n:1\r\n", "resp3: element 1 is a integer, want a blob string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := resp3.Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.BlobArray(); err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzParse checks that Parse never panics, that what it accepts encodes
// back to an equivalent value, and that a value never holds more elements
// than the payload has bytes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"+OK\r\n", "-ERR syntax error\r\n", ":-1\r\n", "$4\r\n1234\r\n", "$-1\r\n", "_\r\n", "*-1\r\n",
		"*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n", "*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$3\r\na\r\n\r\n",
		"$999999999999\r\n", "*999999999\r\n", strings.Repeat("*1\r\n", 40),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := resp3.Parse(data)
		if err != nil {
			if !errors.Is(err, resp3.ErrSyntax) {
				t.Fatalf("error %v is not a syntax error", err)
			}
			return
		}
		if n := count(v); n > len(data) {
			t.Fatalf("%d values from %d bytes", n, len(data))
		}
		enc, err := resp3.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal of a parsed value: %v", err)
		}
		again, err := resp3.Parse(enc)
		if err != nil {
			t.Fatalf("Parse(Marshal(v)) = %v for %q", err, enc)
		}
		if !equal(v, again) {
			t.Fatalf("round trip changed %+v into %+v", v, again)
		}
	})
}

func count(v resp3.Value) int {
	n := 1
	for _, e := range v.Elems {
		n += count(e)
	}
	return n
}

// equal compares values ignoring nil versus empty slices.
func equal(a, b resp3.Value) bool {
	if a.Kind != b.Kind || a.Int != b.Int || !bytes.Equal(a.Str, b.Str) || len(a.Elems) != len(b.Elems) {
		return false
	}
	for i := range a.Elems {
		if !equal(a.Elems[i], b.Elems[i]) {
			return false
		}
	}
	return true
}
