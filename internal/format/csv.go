package format

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// csvParser reads CSV (see the package documentation).
type csvParser struct {
	delim, comment rune
	header         bool
	columns        []string
	trim, strings  bool
}

func newCSVParser(o CSVOptions) (csvParser, error) {
	p := csvParser{delim: ',', comment: o.Comment, header: true, trim: o.TrimSpace, strings: o.Strings}
	if o.Delimiter != 0 {
		if !validCSVRune(o.Delimiter) {
			return p, fmt.Errorf("csv.delimiter: %q cannot separate fields (not a quote, carriage return, line feed or invalid character)", o.Delimiter)
		}
		p.delim = o.Delimiter
	}
	if o.Comment != 0 {
		if !validCSVRune(o.Comment) {
			return p, fmt.Errorf("csv.comment: %q cannot start comments (not a quote, carriage return, line feed or invalid character)", o.Comment)
		}
		if o.Comment == p.delim {
			return p, fmt.Errorf("csv.comment: %q is also the delimiter", o.Comment)
		}
	}
	if o.Header != nil {
		p.header = *o.Header
	}
	for i, c := range o.Columns {
		if c == "" {
			return p, fmt.Errorf("csv.columns[%d]: empty name", i)
		}
		if j := slices.Index(o.Columns[:i], c); j >= 0 {
			return p, fmt.Errorf("csv.columns[%d]: %q is also csv.columns[%d]", i, c, j)
		}
	}
	if len(o.Columns) > 0 {
		p.columns = slices.Clone(o.Columns)
	}
	return p, nil
}

// validCSVRune reports whether encoding/csv takes r as a delimiter or
// comment character.
func validCSVRune(r rune) bool {
	return r != '"' && r != '\r' && r != '\n' && utf8.ValidRune(r) && r != utf8.RuneError
}

func (p *csvParser) parse(body []byte) (any, error) {
	if i := invalidUTF8(body); i >= 0 {
		line, _ := position(body, i)
		return nil, fmt.Errorf("CSV line %d: invalid UTF-8", line)
	}
	shift := 0 // bytes cut from line 1
	if bytes.HasPrefix(body, []byte(bom)) {
		body, shift = body[len(bom):], len(bom)
	}
	r := csv.NewReader(bytes.NewReader(body))
	r.Comma = p.delim
	r.Comment = p.comment
	r.FieldsPerRecord = -1 // counted here, to say what was wanted
	r.TrimLeadingSpace = p.trim
	r.ReuseRecord = true // the fields are still new strings
	names := p.columns
	want := len(names)
	out := []any{}
	for first := true; ; first = false {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, csvError(err, shift)
		}
		line, _ := r.FieldPos(0)
		if p.trim {
			for i := range rec {
				rec[i] = strings.TrimSpace(rec[i])
			}
		}
		if first && p.header && names == nil {
			if err := checkHeader(rec, line); err != nil {
				return nil, err
			}
			names = slices.Clone(rec)
			want = len(names)
			continue
		}
		if want == 0 {
			want = len(rec)
		}
		if len(rec) != want {
			return nil, fmt.Errorf("CSV line %d: wrong number of fields (%d, want %d)", line, len(rec), want)
		}
		if first && p.header {
			continue // the header row, whose names Columns replace
		}
		if names == nil {
			row := make([]any, len(rec))
			for i, c := range rec {
				row[i] = p.cell(c)
			}
			out = append(out, row)
			continue
		}
		obj := make(map[string]any, len(names))
		for i, n := range names {
			obj[n] = p.cell(rec[i])
		}
		out = append(out, obj)
	}
}

// checkHeader refuses a header row with an empty or a repeated name.
func checkHeader(names []string, line int) error {
	seen := make(map[string]int, len(names))
	for i, n := range names {
		if n == "" {
			return fmt.Errorf("CSV line %d: column %d has no name", line, i+1)
		}
		if j, ok := seen[n]; ok {
			return fmt.Errorf("CSV line %d: duplicate column name %q (columns %d and %d)", line, clip(n, clipName), j+1, i+1)
		}
		seen[n] = i
	}
	return nil
}

// cell is the value of a field.
func (p *csvParser) cell(s string) any {
	switch {
	case p.strings:
		return s
	case s == "":
		return nil
	case isNumber(s):
		return json.Number(s)
	}
	return s
}

// csvError is the error of encoding/csv with its position (shift is the
// number of bytes cut from the start of line 1).
func csvError(err error, shift int) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("CSV: %s", clip(err.Error(), clipMessage))
	}
	col := pe.Column
	if pe.Line == 1 {
		col += shift
	}
	return fmt.Errorf("CSV line %d, column %d: %s", pe.Line, col, clip(pe.Err.Error(), clipMessage))
}
