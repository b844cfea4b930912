package format_test

import (
	"testing"

	"github.com/http-connector/http-connector/internal/format"
)

func TestKeyValue(t *testing.T) {
	runCases(t, format.KeyValue, format.Options{}, []parseCase{
		{name: "lines", body: "# status\ntemp=21.5\nname=cam 1\n", want: `{"temp": 21.5, "name": "cam 1"}`},
		{name: "trimmed", body: "  temp =  21.5 \r\n\tmode= auto\n", want: `{"temp": 21.5, "mode": "auto"}`},
		{name: "value holds the separator", body: "url=http://x/?a=b\n", want: `{"url": "http://x/?a=b"}`},
		{name: "empty value", body: "a=\n", want: `{"a": ""}`},
		{name: "numbers by the JSON grammar", body: "a=007\nb=-1e3\nc=+1\nd=0\ne=true\n", want: `{"a": "007", "b": -1e3, "c": "+1", "d": 0, "e": "true"}`},
		{name: "duplicate keys make an array in order", body: "ch=1\nx=a\nch=2\nch=three\n", want: `{"ch": [1, 2, "three"], "x": "a"}`},
		{name: "blank lines and indented comments", body: "\n  \n   # c\na=1\n\n", want: `{"a": 1}`},
		{name: "hash in a value", body: "color=#ff0000\n", want: `{"color": "#ff0000"}`},
		{name: "no last line break", body: "a=1\nb=2", want: `{"a": 1, "b": 2}`},
		{name: "byte order mark", body: "\uFEFFa=1\n", want: `{"a": 1}`},
		{name: "only comments", body: "# nothing\n", want: `{}`},
		{name: "ampersand is not a separator by default", body: "a=1&b=2\n", want: `{"a": "1&b=2"}`},
		{name: "blank", body: "\n\n", want: `null`},
		{name: "no separator", body: "a=1\nb=2\n\nc=3\nbroken\n", err: `key=value line 5: no "="`},
		{name: "empty key", body: "a=1\n = 2\n", err: `key=value line 2: empty key`},
		{name: "invalid UTF-8", body: "a=1\nb=\xff\n", err: `key=value line 2: invalid UTF-8`},
	})
}

func TestKeyValueOptions(t *testing.T) {
	no, semi, none := false, ";", ""
	cases := []struct {
		name  string
		opts  format.KeyValueOptions
		cases []parseCase
	}{
		{"ampersand pairs", format.KeyValueOptions{PairSeparator: "&"}, []parseCase{
			{name: "one line", body: "a=1&b=2&c=x y\n", want: `{"a": 1, "b": 2, "c": "x y"}`},
			{name: "and lines", body: "a=1&b=2\nc=3\n", want: `{"a": 1, "b": 2, "c": 3}`},
			{name: "empty pairs skipped", body: "a=1&&b=2&\n", want: `{"a": 1, "b": 2}`},
			{name: "duplicates", body: "v=1&v=2\n", want: `{"v": [1, 2]}`},
			{name: "pair without separator", body: "a=1\nb=2&c\n", err: `key=value line 2: no "="`},
		}},
		{"colon and semicolon", format.KeyValueOptions{Separator: ":", PairSeparator: ";"}, []parseCase{
			{name: "pairs", body: "temp: 21.5; unit: C\n", want: `{"temp": 21.5, "unit": "C"}`},
			{name: "no colon", body: "temp=21.5\n", err: `key=value line 1: no ":"`},
		}},
		{"space separator", format.KeyValueOptions{Separator: " "}, []parseCase{
			{name: "first space splits", body: "  name John Smith\nage 42\n", want: `{"name": "John Smith", "age": 42}`},
		}},
		{"no trimming", format.KeyValueOptions{TrimSpace: &no}, []parseCase{
			{name: "spaces kept", body: " a = 1 \r\n", want: `{" a ": " 1 "}`},
		}},
		{"other comment", format.KeyValueOptions{Comment: &semi}, []parseCase{
			{name: "semicolon comments", body: "; c\n#a=1\n", want: `{"#a": 1}`},
		}},
		{"no comments", format.KeyValueOptions{Comment: &none}, []parseCase{
			{name: "hash is a key", body: "#a=1\n", want: `{"#a": 1}`},
			{name: "hash line without separator", body: "# c\n", err: `key=value line 1: no "="`},
		}},
		{"strings", format.KeyValueOptions{Strings: true}, []parseCase{
			{name: "no numbers", body: "a=1\n", want: `{"a": "1"}`},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runCases(t, format.KeyValue, format.Options{KeyValue: c.opts}, c.cases)
		})
	}
}
