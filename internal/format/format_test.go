package format_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/format"
)

// parseCase is a body, and the value (as JSON) or the error it must give.
type parseCase struct {
	name        string
	body        string
	contentType string
	want        string // JSON; ignored when err is set
	err         string
}

// runCases parses each case's body with the parser of f and o.
func runCases(t *testing.T, f format.Format, o format.Options, cases []parseCase) {
	t.Helper()
	p, err := format.New(f, o)
	if err != nil {
		t.Fatalf("New(%q): %v", f, err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Helper()
			v, err := p.Parse([]byte(c.body), c.contentType)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("got error %v (value %s), want %q", err, mustJSON(t, v), c.err)
				}
				if v != nil {
					t.Errorf("got a value %s with the error", mustJSON(t, v))
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %q, want %s", err, c.want)
			}
			if got, want := mustJSON(t, v), canonical(t, c.want); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// mustJSON is v as JSON, after checking it is made only of the types
// encoding/json produces with UseNumber.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	if err := checkTypes(v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %#v: %v", v, err)
	}
	return string(b)
}

// checkTypes refuses values encoding/json would not produce.
func checkTypes(v any) error {
	switch v := v.(type) {
	case nil, bool, string, json.Number:
		return nil
	case []any:
		for _, e := range v {
			if err := checkTypes(e); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		for _, e := range v {
			if err := checkTypes(e); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("value of type %T: %#v", v, v)
}

// canonical is the JSON text s as json.Marshal writes it (keys sorted,
// numbers as written).
func canonical(t *testing.T, s string) string {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("bad want %s: %v", s, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDetect(t *testing.T) {
	cases := []struct {
		name        string
		contentType string
		want        format.Format
	}{
		{"none", "", format.Auto},
		{"json", "application/json", format.JSON},
		{"json with charset", "application/json; charset=utf-8", format.JSON},
		{"json suffix", "application/problem+json", format.JSON},
		{"json in upper case", "Application/JSON", format.JSON},
		{"json anywhere, as always", "text/x-json", format.JSON},
		{"xml", "application/xml", format.XML},
		{"text xml with charset", "text/xml; charset=ISO-8859-1", format.XML},
		{"xml suffix", "application/soap+xml", format.XML},
		{"xml suffix in upper case", "application/ATOM+XML", format.XML},
		{"csv", "text/csv", format.CSV},
		{"csv with header parameter", "text/csv; header=present", format.CSV},
		{"prometheus 0.0.4", "text/plain; version=0.0.4", format.Prometheus},
		{"prometheus with charset", "text/plain; version=0.0.4; charset=utf-8", format.Prometheus},
		{"prometheus quoted version", `text/plain;charset=utf-8;version="0.0.4"`, format.Prometheus},
		{"prometheus 1.0.0", "text/plain; version=1.0.0; escaping=underscores", format.Prometheus},
		{"openmetrics", "application/openmetrics-text; version=1.0.0; charset=utf-8", format.Prometheus},
		{"plain text", "text/plain", format.Auto},
		{"plain text other version", "text/plain; version=2", format.Auto},
		{"html", "text/html", format.Auto},
		{"octets", "application/octet-stream", format.Auto},
		{"not xml", "application/xmlish", format.Auto},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := format.Detect(c.contentType); got != c.want {
				t.Errorf("Detect(%q) = %q, want %q", c.contentType, got, c.want)
			}
		})
	}
}

func TestAuto(t *testing.T) {
	runCases(t, format.Auto, format.Options{}, []parseCase{
		{name: "declared json", body: `{"temp": 21.50}`, contentType: "application/json", want: `{"temp": 21.50}`},
		{name: "declared json that is not", body: `<html>502</html>`, contentType: "application/json",
			err: `JSON at line 1, column 1: invalid character '<' looking for beginning of value`},
		{name: "undeclared json", body: `[1, 2]`, want: `[1, 2]`},
		{name: "undeclared json-like text", body: `21.5 C`, contentType: "text/plain", want: `"21.5 C"`},
		{name: "undeclared text keeps its white space", body: " ok\n", want: `" ok\n"`},
		{name: "undeclared non-UTF-8", body: "ok\n\xff", err: "neither JSON nor UTF-8 text: invalid UTF-8 at line 2, column 1"},
		{name: "empty", body: "", want: `null`},
		{name: "blank", body: " \n\t", contentType: "application/json", want: `null`},
		{name: "blank declared xml", body: "\n", contentType: "application/xml", want: `null`},
		{name: "xml", body: `<a><b>1</b></a>`, contentType: "text/xml", want: `{"a": {"b": 1}}`},
		{name: "csv", body: "a,b\n1,x\n", contentType: "text/csv", want: `[{"a": 1, "b": "x"}]`},
		{name: "prometheus", body: "up 1\n", contentType: "text/plain; version=0.0.4",
			want: `[{"name": "up", "labels": {}, "value": 1, "type": "untyped"}]`},
		{name: "html stays text", body: "<html></html>", contentType: "text/html", want: `"<html></html>"`},
	})
}

func TestAutoUsesOptions(t *testing.T) {
	runCases(t, format.Auto, format.Options{
		XML: format.XMLOptions{Strings: true},
		CSV: format.CSVOptions{Delimiter: ';'},
	}, []parseCase{
		{name: "xml", body: `<a>1</a>`, contentType: "application/xml", want: `{"a": "1"}`},
		{name: "csv", body: "a;b\n1;2\n", contentType: "text/csv", want: `[{"a": 1, "b": 2}]`},
	})
}

func TestText(t *testing.T) {
	runCases(t, format.Text, format.Options{}, []parseCase{
		{name: "as it is", body: " 21.5 C\n", want: `" 21.5 C\n"`},
		{name: "json is text", body: `{"a": 1}`, contentType: "application/json", want: `"{\"a\": 1}"`},
		{name: "empty", body: "", want: `""`},
		{name: "not UTF-8", body: "a\nb\xc3(", err: "text at line 2, column 2: invalid UTF-8"},
	})
}

func TestNew(t *testing.T) {
	yes, no := true, false
	nl := "\n"
	cases := []struct {
		name   string
		format format.Format
		opts   format.Options
		err    string
	}{
		{name: "unknown format", format: "yaml",
			err: `unknown format "yaml" (want one of json, xml, csv, prometheus, keyValue, text, or none for detection by Content-Type)`},
		{name: "format in the wrong case", format: "keyvalue",
			err: `unknown format "keyvalue" (want one of json, xml, csv, prometheus, keyValue, text, or none for detection by Content-Type)`},
		{name: "csv options for xml", format: format.XML, opts: format.Options{CSV: format.CSVOptions{Delimiter: ';'}},
			err: "csv: options of format csv, but the format is xml"},
		{name: "xml options for json", format: format.JSON, opts: format.Options{XML: format.XMLOptions{Strings: true}},
			err: "xml: options of format xml, but the format is json"},
		{name: "keyValue options for auto", format: format.Auto, opts: format.Options{KeyValue: format.KeyValueOptions{Separator: ":"}},
			err: "keyValue: options of format keyValue, which detection by Content-Type never picks (set the format)"},
		{name: "csv header option alone counts", format: format.Text, opts: format.Options{CSV: format.CSVOptions{Header: &yes}},
			err: "csv: options of format csv, but the format is text"},
		{name: "csv delimiter quote", format: format.CSV, opts: format.Options{CSV: format.CSVOptions{Delimiter: '"'}},
			err: `csv.delimiter: '"' cannot separate fields (not a quote, carriage return, line feed or invalid character)`},
		{name: "csv delimiter newline", format: format.CSV, opts: format.Options{CSV: format.CSVOptions{Delimiter: '\n'}},
			err: `csv.delimiter: '\n' cannot separate fields (not a quote, carriage return, line feed or invalid character)`},
		{name: "csv delimiter invalid rune", format: format.CSV, opts: format.Options{CSV: format.CSVOptions{Delimiter: 0xD800}},
			err: `csv.delimiter: '�' cannot separate fields (not a quote, carriage return, line feed or invalid character)`},
		{name: "csv comment carriage return", format: format.CSV, opts: format.Options{CSV: format.CSVOptions{Comment: '\r'}},
			err: `csv.comment: '\r' cannot start comments (not a quote, carriage return, line feed or invalid character)`},
		{name: "csv comment is the delimiter", format: format.CSV, opts: format.Options{CSV: format.CSVOptions{Delimiter: ';', Comment: ';'}},
			err: `csv.comment: ';' is also the delimiter`},
		{name: "csv comment is the default delimiter", format: format.CSV, opts: format.Options{CSV: format.CSVOptions{Comment: ','}},
			err: `csv.comment: ',' is also the delimiter`},
		{name: "csv empty column", format: format.CSV, opts: format.Options{CSV: format.CSVOptions{Header: &no, Columns: []string{"a", ""}}},
			err: `csv.columns[1]: empty name`},
		{name: "csv duplicate column", format: format.CSV, opts: format.Options{CSV: format.CSVOptions{Columns: []string{"a", "b", "a"}}},
			err: `csv.columns[2]: "a" is also csv.columns[0]`},
		{name: "xml empty array name", format: format.XML, opts: format.Options{XML: format.XMLOptions{Arrays: []string{"a", ""}}},
			err: `xml.arrays[1]: empty element name`},
		{name: "xml leading slash", format: format.XML, opts: format.Options{XML: format.XMLOptions{Arrays: []string{"/a/b"}}},
			err: `xml.arrays[0]: "/a/b" has an empty name in its path (a path starts with the root element's name, without a leading "/")`},
		{name: "xml empty path segment", format: format.XML, opts: format.Options{XML: format.XMLOptions{Arrays: []string{"a//b"}}},
			err: `xml.arrays[0]: "a//b" has an empty name in its path (a path starts with the root element's name, without a leading "/")`},
		{name: "xml not a name", format: format.XML, opts: format.Options{XML: format.XMLOptions{Arrays: []string{"a/b c"}}},
			err: `xml.arrays[0]: "a/b c" is not an element name or path`},
		{name: "xml attribute", format: format.XML, opts: format.Options{XML: format.XMLOptions{Arrays: []string{"@id"}}},
			err: `xml.arrays[0]: "@id" is not an element name or path`},
		{name: "xml prefix without prefixes", format: format.XML, opts: format.Options{XML: format.XMLOptions{Arrays: []string{"s:item"}}},
			err: `xml.arrays[0]: "s:item" has a namespace prefix, which names only keep with xml.prefixes set`},
		{name: "keyValue separator newline", format: format.KeyValue, opts: format.Options{KeyValue: format.KeyValueOptions{Separator: "=\n"}},
			err: `keyValue.separator: "=\n" holds a line break`},
		{name: "keyValue pair separator newline", format: format.KeyValue, opts: format.Options{KeyValue: format.KeyValueOptions{PairSeparator: "\r\n"}},
			err: `keyValue.pairSeparator: "\r\n" holds a line break (lines always separate pairs)`},
		{name: "keyValue pair separator is the separator", format: format.KeyValue, opts: format.Options{KeyValue: format.KeyValueOptions{PairSeparator: "="}},
			err: `keyValue.pairSeparator: "=" is also the separator`},
		{name: "keyValue comment newline", format: format.KeyValue, opts: format.Options{KeyValue: format.KeyValueOptions{Comment: &nl}},
			err: `keyValue.comment: "\n" holds a line break`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := format.New(c.format, c.opts)
			if err == nil || err.Error() != c.err {
				t.Fatalf("got error %v, want %q", err, c.err)
			}
			if p != nil {
				t.Errorf("got a parser with the error")
			}
		})
	}
}

func TestNewAcceptsOptions(t *testing.T) {
	yes, no, none := true, false, ""
	cases := []struct {
		name   string
		format format.Format
		opts   format.Options
	}{
		{"auto with xml and csv options", format.Auto, format.Options{XML: format.XMLOptions{Arrays: []string{"item"}}, CSV: format.CSVOptions{Header: &no}}},
		{"xml prefixed path", format.XML, format.Options{XML: format.XMLOptions{Prefixes: true, Arrays: []string{"s:Envelope/s:Body/m:item"}}}},
		{"csv all", format.CSV, format.Options{CSV: format.CSVOptions{Delimiter: '\t', Header: &yes, Columns: []string{"a", "b"}, Comment: '#', TrimSpace: true, Strings: true}}},
		{"keyValue all", format.KeyValue, format.Options{KeyValue: format.KeyValueOptions{Separator: ":", PairSeparator: ";", TrimSpace: &no, Comment: &none, Strings: true}}},
		{"prometheus", format.Prometheus, format.Options{}},
		{"text", format.Text, format.Options{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := format.New(c.format, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if p.Format() != c.format {
				t.Errorf("Format() = %q, want %q", p.Format(), c.format)
			}
		})
	}
}

// TestConcurrent uses one parser of each format from several goroutines, as
// samplers do (run with -race).
func TestConcurrent(t *testing.T) {
	bodies := map[format.Format]string{
		format.Auto:       `{"a": [1, 2]}`,
		format.JSON:       `{"a": [1, 2]}`,
		format.XML:        `<a><v>1</v><v>2</v></a>`,
		format.CSV:        "a,b\n1,2\n",
		format.Prometheus: "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n",
		format.KeyValue:   "a=1\na=2\n",
		format.Text:       "ok",
	}
	for f, body := range bodies {
		var o format.Options
		if f == format.XML {
			o.XML.Arrays = []string{"v"}
		}
		p, err := format.New(f, o)
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		done := make(chan string)
		for range 4 {
			go func() {
				var last string
				for range 50 {
					v, err := p.Parse([]byte(body), "")
					if err != nil {
						last = err.Error()
						break
					}
					b, _ := json.Marshal(v)
					last = string(b)
				}
				done <- last
			}()
		}
		for i := range 4 {
			got := <-done
			if i == 0 {
				want = got
			} else if got != want {
				t.Errorf("%q: goroutines got %s and %s", f, got, want)
			}
		}
	}
}
