package format

import (
	"bytes"
	"fmt"
	"strings"
)

// Format names a response format.
type Format string

// The formats.
const (
	// Auto picks the format by the response's Content-Type (see Detect).
	Auto       Format = ""
	JSON       Format = "json"
	XML        Format = "xml"
	CSV        Format = "csv"
	Prometheus Format = "prometheus"
	KeyValue   Format = "keyValue"
	Text       Format = "text"
)

// Options are the options of the parsers, all optional. Only the options of
// the parser's format may be set; Auto takes the XML and CSV options, for
// the bodies it detects as XML or CSV.
type Options struct {
	XML      XMLOptions
	CSV      CSVOptions
	KeyValue KeyValueOptions
}

// XMLOptions are the options of the XML parser.
type XMLOptions struct {
	// Arrays lists the elements that are always arrays, even when they
	// appear once (or not at all: then the key is absent). An entry without
	// "/" is an element name and matches at any depth; an entry with "/" is
	// a path of names from the root element, such as "status/alarms/alarm".
	// Names are local names, or "prefix:name" with Prefixes.
	Arrays []string
	// Prefixes keeps namespace prefixes in keys ("prefix:name") instead of
	// local names.
	Prefixes bool
	// Strings keeps text and attribute values as strings (no numbers).
	Strings bool
}

// CSVOptions are the options of the CSV parser.
type CSVOptions struct {
	// Delimiter separates the fields; default ','.
	Delimiter rune
	// Header says whether the first row names the columns; default true.
	Header *bool
	// Columns names the columns. Without a header row it gives the names
	// of the objects' keys; with one, it replaces the header's names (the
	// header row is then skipped). Without Columns or a header row, rows
	// are arrays.
	Columns []string
	// Comment, if set, starts comment lines.
	Comment rune
	// TrimSpace trims white space around every field.
	TrimSpace bool
	// Strings keeps every cell a string: no numbers, and empty cells are "".
	Strings bool
}

// KeyValueOptions are the options of the key=value parser.
type KeyValueOptions struct {
	// Separator separates a key from its value; default "=".
	Separator string
	// PairSeparator, if set, separates pairs within a line (as "&" in
	// "a=1&b=2"); lines always separate pairs.
	PairSeparator string
	// TrimSpace trims white space around keys and values; default true.
	TrimSpace *bool
	// Comment starts comment lines; default "#", "" for none.
	Comment *string
	// Strings keeps every value a string (no numbers).
	Strings bool
}

// Parser parses response bodies of one format. It is built once, at
// configuration load, and may be used by many goroutines at once.
type Parser struct {
	format Format
	xml    xmlParser
	csv    csvParser
	kv     kvParser
}

// New returns the parser of format f with options o. It checks the options
// here: an error names the bad option, as in "csv.delimiter: …".
func New(f Format, o Options) (*Parser, error) {
	switch f {
	case Auto, JSON, XML, CSV, Prometheus, KeyValue, Text:
	default:
		return nil, fmt.Errorf("unknown format %q (want one of json, xml, csv, prometheus, keyValue, text, or none for detection by Content-Type)", string(f))
	}
	if err := unused(f, o); err != nil {
		return nil, err
	}
	p := &Parser{format: f}
	var err error
	if p.xml, err = newXMLParser(o.XML); err != nil {
		return nil, err
	}
	if p.csv, err = newCSVParser(o.CSV); err != nil {
		return nil, err
	}
	if p.kv, err = newKVParser(o.KeyValue); err != nil {
		return nil, err
	}
	return p, nil
}

// unused refuses options that format f would not use.
func unused(f Format, o Options) error {
	set := func(name string, isSet bool, uses ...Format) error {
		if !isSet {
			return nil
		}
		for _, u := range uses {
			if f == u {
				return nil
			}
		}
		if f == Auto {
			return fmt.Errorf("%s: options of format %s, which detection by Content-Type never picks (set the format)", name, uses[0])
		}
		return fmt.Errorf("%s: options of format %s, but the format is %s", name, uses[0], f)
	}
	if err := set("xml", !o.XML.isZero(), XML, Auto); err != nil {
		return err
	}
	if err := set("csv", !o.CSV.isZero(), CSV, Auto); err != nil {
		return err
	}
	return set("keyValue", !o.KeyValue.isZero(), KeyValue)
}

func (o XMLOptions) isZero() bool { return len(o.Arrays) == 0 && !o.Prefixes && !o.Strings }

func (o CSVOptions) isZero() bool {
	return o.Delimiter == 0 && o.Header == nil && len(o.Columns) == 0 && o.Comment == 0 && !o.TrimSpace && !o.Strings
}

func (o KeyValueOptions) isZero() bool {
	return o.Separator == "" && o.PairSeparator == "" && o.TrimSpace == nil && o.Comment == nil && !o.Strings
}

// Format is the parser's format.
func (p *Parser) Format() Format { return p.format }

// Parse parses a response body. contentType, the response's Content-Type,
// is only read by Auto. An empty body, or one of only white space, is nil in
// every format but Text. The value is made of what encoding/json produces
// with UseNumber: map[string]any, []any, string, json.Number, bool and nil.
func (p *Parser) Parse(body []byte, contentType string) (any, error) {
	f := p.format
	if f == Auto {
		f = Detect(contentType)
		if f == Auto {
			return parseUndeclared(body)
		}
	}
	if f == Text {
		return parseText(body)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	switch f {
	case JSON:
		return parseJSON(body)
	case XML:
		return p.xml.parse(body)
	case CSV:
		return p.csv.parse(body)
	case Prometheus:
		return parsePrometheus(body)
	case KeyValue:
		return p.kv.parse(body)
	}
	return nil, fmt.Errorf("unknown format %q", string(f))
}

// Detect is the format that Auto reads a body of the given Content-Type
// as, or Auto itself for a Content-Type that names none of the formats.
func Detect(contentType string) Format {
	if isJSONType(contentType) {
		return JSON
	}
	media, params, _ := strings.Cut(contentType, ";")
	media = strings.TrimSpace(media)
	switch {
	case strings.EqualFold(media, "application/xml"), strings.EqualFold(media, "text/xml"), hasSuffixFold(media, "+xml"):
		return XML
	case strings.EqualFold(media, "text/csv"):
		return CSV
	case strings.EqualFold(media, "application/openmetrics-text"):
		return Prometheus
	case strings.EqualFold(media, "text/plain"):
		if v := param(params, "version"); v == "0.0.4" || v == "1.0.0" {
			return Prometheus
		}
	}
	return Auto
}

// isJSONType reports whether a Content-Type declares JSON: "json" anywhere
// in it, in any case (application/json, application/problem+json, …), as
// the connector has always read it.
func isJSONType(contentType string) bool {
	for i := 0; i+4 <= len(contentType); i++ {
		if strings.EqualFold(contentType[i:i+4], "json") {
			return true
		}
	}
	return false
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// param is the value of the named parameter in the parameters of a media
// type ("; a=b; c=\"d\""), or "".
func param(params, name string) string {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}
