package yamlfile_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/yamlfile"
)

// bomb is a document whose aliases stand for 10^levels values.
func bomb(levels int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	return b.String()
}

func TestRead(t *testing.T) {
	for _, c := range []struct {
		name, file, data string
		want             []any  // the documents' values, as JSON
		err              string // the first error
	}{
		{name: "numbers keep their text", file: "f.yaml", data: "a: 71.30\nb: 0x1F\nc: 1_000\nd: 12345678901234567890\n",
			want: []any{`{"a":71.30,"b":31,"c":1000,"d":12345678901234567890}`}},
		{name: "documents", file: "f.yaml", data: "---\na: 1\n---\n# only a comment\n---\n[x, null, true]\n",
			want: []any{`{"a":1}`, `["x",null,true]`}},
		{name: "json", file: "f.json", data: `{"a": [1, {"b": "c"}]}`, want: []any{`{"a":[1,{"b":"c"}]}`}},
		{name: "aliases within the bound", file: "f.yaml", data: bomb(4), want: []any{}},
		{name: "alias bomb", file: "f.yaml", data: bomb(9), err: "f.yaml:5:45: a4[7]: YAML aliases expand to more than 100000 values"},
		{name: "merge key", file: "f.yaml", data: "a: &a {x: 1}\nb:\n  <<: *a\n", err: "f.yaml:3:3: b: YAML merge keys (<<) are not supported"},
		{name: "duplicate key", file: "f.yaml", data: "a:\n  x: 1\n  x: 2\n", err: `f.yaml:3:3: a.x: duplicate key "x" (also line 2)`},
		{name: "key not a string", file: "f.yaml", data: "? [a]\n: 1\n", err: "f.yaml:1:3: mapping keys must be strings"},
		{name: "unknown tag", file: "f.yaml", data: "a: !secret x\n", err: "f.yaml:1:4: a: YAML tag !secret is not supported"},
		{name: "not UTF-8", file: "f.yaml", data: "a: b\nc: d\xff\n", err: "f.yaml:2:5: not UTF-8 text: byte 0xff"},
		{name: "syntax error", file: "f.yaml", data: "a: 1\n\tb: 2\n", err: "f.yaml:2: invalid YAML: found a tab character that violates indentation"},
		{name: "syntax error in JSON", file: "f.json", data: "{\"a\": 1,\n\"b\"\n", err: "f.json:2: invalid JSON: did not find expected ',' or '}'"},
		{name: "not a number", file: "f.yaml", data: "a: .inf\n", err: "f.yaml:1:4: a: number .inf is not valid JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			docs, errs := yamlfile.Read(c.file, []byte(c.data))
			if c.err != "" {
				if len(errs) == 0 || errs[0].Error() != c.err {
					t.Fatalf("errors %v, want %s", errs, c.err)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if len(c.want) == 0 {
				return
			}
			var got []any
			for _, d := range docs {
				b, err := json.Marshal(d.Value)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(b))
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestFields(t *testing.T) {
	const data = `first: 1
---
# the second document
spec:
  list:
    - name: a
    - &b {name: b}
    - *b
  "": empty
  jq: |
    {a: .x
     | f}
  inline: '{a: .x}'
`
	docs, errs := yamlfile.Read("f.yaml", []byte(data))
	if len(errs) > 0 || len(docs) != 2 {
		t.Fatal(docs, errs)
	}
	f := docs[1].Fields()
	for path, want := range map[string]yamlfile.Position{
		"":                      {4, 1},
		"spec":                  {4, 1},
		"spec.list[0].name":     {6, 7},
		"spec.list[2]":          {7, 7}, // an alias is where its anchor is
		"spec.list[2].name":     {7, 11},
		`spec[""]`:              {9, 3},
		"spec.list[7].name":     {5, 3}, // not in the file: its deepest field that is
		"spec.jq.somewhere":     {10, 3},
		"spec.inline":           {13, 3},
		"spec.list[0].name.sub": {6, 7},
	} {
		if got := f.At(path); got != want {
			t.Errorf("At(%q) = %v, want %v", path, got, want)
		}
	}
	if p, exact := f.InString("spec.jq", strings.Index("{a: .x\n | f}\n", "f")); !exact || p != (yamlfile.Position{12, 8}) {
		t.Errorf("InString in a literal block: %v %v, want 12:8 exact", p, exact)
	}
	if p, exact := f.InString("spec.inline", 4); !exact || p != (yamlfile.Position{13, 16}) {
		t.Errorf("InString in a quoted scalar: %v %v, want 13:16 exact", p, exact)
	}
	if got, want := f.Caret(yamlfile.Position{12, 8}), " 12 |      | f}\n    |        ^"; got != want {
		t.Errorf("Caret:\n%s\nwant:\n%s", got, want)
	}
	keys := []string{"inline", "list", "jq", ""}
	f.Order("spec", keys)
	if want := []string{"list", "", "jq", "inline"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("Order: %v, want %v", keys, want)
	}
}

// BenchmarkReadAliasBomb is how long refusing a billion-value bomb takes.
func BenchmarkReadAliasBomb(b *testing.B) {
	data := []byte(bomb(9))
	for b.Loop() {
		if _, errs := yamlfile.Read("f.yaml", data); len(errs) == 0 {
			b.Fatal("the bomb was read")
		}
	}
}
