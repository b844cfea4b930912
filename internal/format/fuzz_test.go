package format_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/format"
)

// maxErrorLen bounds the length of an error message: errors quote at most
// about 80 bytes of a body, and some words around them.
const maxErrorLen = 250

// fuzzParse parses body twice with p and checks what every parser
// promises: no panic, the same outcome both times, an error without a
// value, short errors, and a value that encoding/json produces with
// UseNumber and can marshal. It returns the value and error.
func fuzzParse(t *testing.T, p *format.Parser, body []byte, contentType string) (any, error) {
	t.Helper()
	v, err := p.Parse(body, contentType)
	v2, err2 := p.Parse(body, contentType)
	if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
		t.Fatalf("not deterministic: errors %v and %v", err, err2)
	}
	if err != nil {
		if v != nil {
			t.Errorf("a value %#v with the error %v", v, err)
		}
		if len(err.Error()) > maxErrorLen {
			t.Errorf("error of %d bytes: %s", len(err.Error()), err)
		}
		return nil, err
	}
	if err := checkTypes(v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("value %#v does not marshal: %v", v, err)
	}
	b2, _ := json.Marshal(v2)
	if !bytes.Equal(b, b2) {
		t.Fatalf("not deterministic:\n%s\n%s", b, b2)
	}
	return v, nil
}

func newParser(f *testing.F, fm format.Format, o format.Options) *format.Parser {
	p, err := format.New(fm, o)
	if err != nil {
		f.Fatal(err)
	}
	return p
}

func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`{"temperature": 21.5, "unit": "C"}`, `[1, 2, 3]`, `123456789012345678901234567890.5e-3`, `"quoted"`,
		`true`, `null`, `21.5 C`, `{"a": 1} {"b": 2}`, `{"a": 1`, "<html></html>", "{\"s\": \"\xff\"}",
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001), "", "  \n\t", "\u00a0[1]\u2028", `{"n": 1e400}`, `[1,]`, `-`, `01`,
	} {
		f.Add([]byte(s))
	}
	p := newParser(f, format.JSON, format.Options{})
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := fuzzParse(t, p, body, "")
		trimmed := bytes.TrimSpace(body)
		if len(trimmed) == 0 {
			if err != nil || v != nil {
				t.Fatalf("blank body: %v, %v; want null", v, err)
			}
			return
		}
		if valid := json.Valid(trimmed); valid != (err == nil) {
			t.Fatalf("json.Valid %v, but Parse's error is %v", valid, err)
		}
		if err != nil {
			return
		}
		d := json.NewDecoder(bytes.NewReader(trimmed))
		d.UseNumber()
		var want any
		if err := d.Decode(&want); err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(v)
		wantJSON, _ := json.Marshal(want)
		if !bytes.Equal(got, wantJSON) {
			t.Fatalf("got %s, encoding/json %s", got, wantJSON)
		}
	})
}

func FuzzXML(f *testing.F) {
	for _, s := range []string{
		`<status><temp unit="C">21.5</temp><mode>auto</mode></status>`,
		`<s><v>1</v><v>2</v><alarm/></s>`,
		`<s:Env xmlns:s="urn:s"><s:Body s:a="1">x<b/>y</s:Body></s:Env>`,
		`<a x="1" x="2"/>`, `<a><b></a>`, `<a/><b/>`, `</a>`, `<a>&lt;&e;</a>`,
		"<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>", `<?xml version="1.0" encoding="ISO-8859-1"?><a>` + "\xe9</a>",
		`<a><![CDATA[1]]>2</a>`, strings.Repeat("<a>", 1001), "\uFEFF<a/>", "", `<a b="007">1e5</a>`,
	} {
		f.Add([]byte(s), false)
	}
	plain := newParser(f, format.XML, format.Options{XML: format.XMLOptions{Arrays: []string{"v", "s/alarm"}}})
	prefixed := newParser(f, format.XML, format.Options{XML: format.XMLOptions{Prefixes: true, Arrays: []string{"s:Body"}}})
	f.Fuzz(func(t *testing.T, body []byte, prefixes bool) {
		p := plain
		if prefixes {
			p = prefixed
		}
		v, err := fuzzParse(t, p, body, "")
		if err != nil || v == nil {
			return
		}
		if m, ok := v.(map[string]any); !ok || len(m) != 1 {
			t.Fatalf("a document is not an object of one key: %#v", v)
		}
	})
}

func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"time,temp,state\n12:00,21.5,ok\n12:01,,ok\n", "a,b\n\"1,5\",\"x\"\"y\"\n", "a,a\n1,2\n", "a,,b\n",
		"a,b\n1\n", "a,b\n1,x\"y\n", "a;b\r\n1;2", "\uFEFFa\n1\n", "# c\na\n1\n", "", "\n\n", "a\n\xff\n",
	} {
		f.Add([]byte(s), true, false)
	}
	no := false
	parsers := [2][2]*format.Parser{
		{newParser(f, format.CSV, format.Options{CSV: format.CSVOptions{Header: &no}}), newParser(f, format.CSV, format.Options{CSV: format.CSVOptions{Header: &no, Delimiter: ';', Comment: '#', TrimSpace: true}})},
		{newParser(f, format.CSV, format.Options{}), newParser(f, format.CSV, format.Options{CSV: format.CSVOptions{Delimiter: ';', Comment: '#', TrimSpace: true}})},
	}
	f.Fuzz(func(t *testing.T, body []byte, header, other bool) {
		h, o := 0, 0
		if header {
			h = 1
		}
		if other {
			o = 1
		}
		v, err := fuzzParse(t, parsers[h][o], body, "")
		if err != nil || v == nil {
			return
		}
		if _, ok := v.([]any); !ok {
			t.Fatalf("CSV is not an array: %#v", v)
		}
	})
}

func FuzzPrometheus(f *testing.F) {
	for _, s := range []string{
		"# HELP a Help.\n# TYPE a counter\na{b=\"c\"} 1 1395066363000\n",
		"# TYPE rt histogram\nrt_bucket{le=\"0.05\"} 1\nrt_bucket{le=\"+Inf\"} 2\nrt_sum 3\nrt_count 2\n",
		"# TYPE lat summary\nlat{quantile=\"0.5\"} NaN\nlat_sum 1\nlat_count -1\n",
		"{\"a.b\", \"c.d\"=\"e\"} +Inf\n", "a 1\nb", "a{b=\"1} 2\n", "# TYPE u unknown\n", "a 1 # {x=\"y\"} 1\n# EOF\n",
		"a{" + strings.Repeat(`b="=",`, 70) + "} 1\n", "# HELP a \\x\n", "", "\xff 1\n",
	} {
		f.Add([]byte(s))
	}
	p := newParser(f, format.Prometheus, format.Options{})
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := fuzzParse(t, p, body, "")
		if err != nil || v == nil {
			return
		}
		samples, ok := v.([]any)
		if !ok {
			t.Fatalf("not an array: %#v", v)
		}
		for _, s := range samples {
			m, ok := s.(map[string]any)
			if !ok || m["name"] == nil || m["type"] == nil || m["value"] == nil {
				t.Fatalf("not a sample: %#v", s)
			}
			if _, ok := m["labels"].(map[string]any); !ok {
				t.Fatalf("sample without labels: %#v", s)
			}
		}
	})
}

func FuzzKeyValue(f *testing.F) {
	for _, s := range []string{
		"# status\ntemp=21.5\nname=cam 1\n", "a=1&b=2&a=3", "a=1\r\nb\n", " = 1\n", "url=http://x/?a=b\n",
		"\uFEFFa=\n", "", "\n\n", "a=\xff\n", "a;b=1;;c=2",
	} {
		f.Add([]byte(s), false)
	}
	lines := newParser(f, format.KeyValue, format.Options{})
	pairs := newParser(f, format.KeyValue, format.Options{KeyValue: format.KeyValueOptions{PairSeparator: "&"}})
	f.Fuzz(func(t *testing.T, body []byte, amp bool) {
		p := lines
		if amp {
			p = pairs
		}
		v, err := fuzzParse(t, p, body, "")
		if err != nil || v == nil {
			return
		}
		if _, ok := v.(map[string]any); !ok {
			t.Fatalf("not an object: %#v", v)
		}
	})
}

// FuzzAuto checks detection by Content-Type: a body declared JSON is only
// accepted if it is JSON.
func FuzzAuto(f *testing.F) {
	for _, s := range []struct{ body, contentType string }{
		{`{"a": 1}`, "application/json"}, {`21.5 C`, "text/plain"}, {`<a>1</a>`, "application/xml"},
		{"a,b\n1,2\n", "text/csv"}, {"up 1\n", "text/plain; version=0.0.4"}, {"<html/>", "application/json"},
		{"\xff", "application/octet-stream"}, {"", ""},
	} {
		f.Add([]byte(s.body), s.contentType)
	}
	p := newParser(f, format.Auto, format.Options{})
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		_, err := fuzzParse(t, p, body, contentType)
		trimmed := bytes.TrimSpace(body)
		if err == nil && format.Detect(contentType) == format.JSON && len(trimmed) > 0 && !json.Valid(trimmed) {
			t.Fatalf("body declared %q accepted although it is not JSON: %q", contentType, body)
		}
	})
}
