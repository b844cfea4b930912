package plan

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/http-connector/http-connector/internal/format"
)

// formatConfig is how a response body is read: the format and its options,
// in a dataset's or a data point's configuration.
type formatConfig struct {
	Format *string `json:"format"`
	XML    *struct {
		Arrays   []string `json:"arrays"`
		Prefixes bool     `json:"prefixes"`
		Strings  bool     `json:"strings"`
	} `json:"xml"`
	CSV *struct {
		Delimiter string   `json:"delimiter"`
		Header    *bool    `json:"header"`
		Columns   []string `json:"columns"`
		Comment   string   `json:"comment"`
		TrimSpace bool     `json:"trimSpace"`
		Strings   bool     `json:"strings"`
	} `json:"csv"`
	KeyValue *struct {
		Separator     string  `json:"separator"`
		PairSeparator string  `json:"pairSeparator"`
		TrimSpace     *bool   `json:"trimSpace"`
		Comment       *string `json:"comment"`
		Strings       bool    `json:"strings"`
	} `json:"keyValue"`
}

// set reports whether the configuration says anything of the format.
func (fc formatConfig) set() bool {
	return fc.Format != nil || fc.XML != nil || fc.CSV != nil || fc.KeyValue != nil
}

// Parse is the parser of a request's responses, and the key that tells
// parsers apart when requests are merged. A nil Parser reads bodies as
// JSON or text, by their Content-Type (format.Auto without options).
type Parse struct {
	Parser *format.Parser
	Key    string
}

// parser builds the parser the configuration describes; path is the
// configuration's field path.
func (fc formatConfig) parser(path string, probs *Problems) Parse {
	if !fc.set() {
		return Parse{}
	}
	var o format.Options
	f := format.Auto
	if fc.Format != nil {
		f = format.Format(*fc.Format)
	}
	if x := fc.XML; x != nil {
		o.XML = format.XMLOptions{Arrays: x.Arrays, Prefixes: x.Prefixes, Strings: x.Strings}
	}
	if c := fc.CSV; c != nil {
		o.CSV = format.CSVOptions{Columns: c.Columns, Header: c.Header, TrimSpace: c.TrimSpace, Strings: c.Strings}
		o.CSV.Delimiter = oneRune(c.Delimiter, path+".csv.delimiter", probs)
		o.CSV.Comment = oneRune(c.Comment, path+".csv.comment", probs)
	}
	if k := fc.KeyValue; k != nil {
		o.KeyValue = format.KeyValueOptions{Separator: k.Separator, PairSeparator: k.PairSeparator, TrimSpace: k.TrimSpace, Comment: k.Comment, Strings: k.Strings}
	}
	p, err := format.New(f, o)
	if err != nil {
		probs.add(path, "%v", err)
		return Parse{}
	}
	key, _ := json.Marshal(fc)
	return Parse{Parser: p, Key: string(key)}
}

// oneRune is the one character of s; "" is none.
func oneRune(s, path string, probs *Problems) rune {
	if s == "" {
		return 0
	}
	r, n := utf8.DecodeRuneInString(s)
	if n != len(s) {
		probs.add(path, "%s", fmt.Sprintf("%q: want one character", s))
	}
	return r
}

// FormatParser is the parser that the format, xml, csv and keyValue members
// of cfg describe (as in a dataset's or data point's configuration), or the
// one of detection by Content-Type when cfg has none. Other members are
// left alone.
func FormatParser(cfg map[string]any) (*format.Parser, error) {
	sub := map[string]any{}
	for _, k := range []string{"format", "xml", "csv", "keyValue"} {
		if v, ok := cfg[k]; ok {
			sub[k] = v
		}
	}
	var fc formatConfig
	if err := remarshal(sub, &fc); err != nil {
		return nil, err
	}
	var probs Problems
	p := fc.parser("", &probs)
	if len(probs) > 0 {
		return nil, probs[0]
	}
	if p.Parser == nil {
		return format.New(format.Auto, format.Options{})
	}
	return p.Parser, nil
}
