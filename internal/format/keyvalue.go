package format

import (
	"fmt"
	"strings"
)

// kvParser reads key=value lines (see the package documentation).
type kvParser struct {
	sep, pairSep, comment string
	trim, strings         bool
}

func newKVParser(o KeyValueOptions) (kvParser, error) {
	p := kvParser{sep: "=", pairSep: o.PairSeparator, comment: "#", trim: true, strings: o.Strings}
	if o.Separator != "" {
		p.sep = o.Separator
	}
	if o.TrimSpace != nil {
		p.trim = *o.TrimSpace
	}
	if o.Comment != nil {
		p.comment = *o.Comment
	}
	const breaks = "\r\n"
	switch {
	case strings.ContainsAny(p.sep, breaks):
		return p, fmt.Errorf("keyValue.separator: %q holds a line break", p.sep)
	case strings.ContainsAny(p.pairSep, breaks):
		return p, fmt.Errorf("keyValue.pairSeparator: %q holds a line break (lines always separate pairs)", p.pairSep)
	case p.pairSep == p.sep:
		return p, fmt.Errorf("keyValue.pairSeparator: %q is also the separator", p.pairSep)
	case strings.ContainsAny(p.comment, breaks):
		return p, fmt.Errorf("keyValue.comment: %q holds a line break", p.comment)
	}
	return p, nil
}

func (p *kvParser) parse(body []byte) (any, error) {
	if i := invalidUTF8(body); i >= 0 {
		line, _ := position(body, i)
		return nil, fmt.Errorf("key=value line %d: invalid UTF-8", line)
	}
	s := strings.TrimPrefix(string(body), bom) // one copy: keys and values are parts of it
	out := make(map[string]any)
	for n := 1; s != ""; n++ {
		var line string
		line, s, _ = strings.Cut(s, "\n")
		line = strings.TrimSuffix(line, "\r")
		if t := strings.TrimSpace(line); t == "" || p.comment != "" && strings.HasPrefix(t, p.comment) {
			continue
		}
		for line != "" {
			pair := line
			if p.pairSep != "" {
				pair, line, _ = strings.Cut(line, p.pairSep)
			} else {
				line = ""
			}
			if p.trim {
				pair = strings.TrimSpace(pair)
			}
			if strings.TrimSpace(pair) == "" {
				continue // as between "&&"
			}
			k, v, ok := strings.Cut(pair, p.sep)
			if !ok {
				return nil, fmt.Errorf("key=value line %d: no %q", n, p.sep)
			}
			if p.trim {
				k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			}
			if k == "" {
				return nil, fmt.Errorf("key=value line %d: empty key", n)
			}
			addValue(out, k, scalar(v, p.strings))
		}
	}
	return out, nil
}

// addValue puts v under key in m; a second value of the same key makes an
// array of the values, in order. The values put in m must not be arrays.
func addValue(m map[string]any, key string, v any) {
	switch old := m[key].(type) {
	case nil:
		if _, ok := m[key]; ok {
			m[key] = []any{nil, v}
			return
		}
		m[key] = v
	case []any:
		m[key] = append(old, v)
	default:
		m[key] = []any{old, v}
	}
}
