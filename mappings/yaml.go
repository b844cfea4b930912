package mappings

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/http-connector/http-connector/schemas"
)

// document is a parsed mapping file: its JSON value and where each field is.
type document struct {
	file  string
	lines []string              // the file's lines, for snippets
	keys  map[string]*yaml.Node // dotted path → the key node of a member
	nodes map[string]*yaml.Node // dotted path → the value node
}

// position is a place in a file.
type position struct{ line, column int }

// at returns the position of path, or of its deepest ancestor in the file:
// the member's key when it has one, else the value.
func (d *document) at(path string) position {
	for p := path; ; {
		if k, ok := d.keys[p]; ok {
			return position{k.Line, k.Column}
		}
		if n, ok := d.nodes[p]; ok {
			return position{n.Line, n.Column}
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			return position{1, 1}
		}
		p = p[:i]
	}
}

// value converts a YAML node to the values encoding/json produces (numbers
// as json.Number) and records the nodes of every field by path.
func (d *document) value(n *yaml.Node, pointer string) (any, error) {
	path := schemas.Path(pointer)
	d.nodes[path] = n
	switch n.Kind {
	case yaml.AliasNode:
		return d.value(n.Alias, pointer)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, &Error{File: d.file, Line: k.Line, Column: k.Column, Path: path, Message: "mapping keys must be strings"}
			}
			child := pointer + "/" + strings.ReplaceAll(strings.ReplaceAll(k.Value, "~", "~0"), "/", "~1")
			cpath := schemas.Path(child)
			if k.Tag == "!!merge" {
				return nil, &Error{File: d.file, Line: k.Line, Column: k.Column, Path: path, Message: "YAML merge keys (<<) are not supported"}
			}
			if _, dup := m[k.Value]; dup {
				prev := d.keys[cpath]
				return nil, &Error{File: d.file, Line: k.Line, Column: k.Column, Path: cpath, Message: fmt.Sprintf("duplicate key %q (also line %d)", k.Value, prev.Line)}
			}
			d.keys[cpath] = k
			v, err := d.value(val, child)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := d.value(c, pointer+"/"+strconv.Itoa(i))
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, &Error{File: d.file, Line: n.Line, Column: n.Column, Path: path, Message: err.Error()}
			}
			return b, nil
		case "!!int", "!!float":
			var f any
			if err := n.Decode(&f); err != nil {
				return nil, &Error{File: d.file, Line: n.Line, Column: n.Column, Path: path, Message: err.Error()}
			}
			if _, err := json.Marshal(f); err != nil {
				return nil, &Error{File: d.file, Line: n.Line, Column: n.Column, Path: path, Message: fmt.Sprintf("number %s is not valid JSON", n.Value)}
			}
			// Keep the number's text when it is JSON already (71.30 stays
			// 71.30, as in a response); YAML-only forms (0x1F, 1_000) are
			// written out as JSON.
			if json.Valid([]byte(n.Value)) {
				return json.Number(n.Value), nil
			}
			b, _ := json.Marshal(f)
			return json.Number(b), nil
		case "!!str", "!!binary", "!!timestamp":
			return n.Value, nil
		default:
			return nil, &Error{File: d.file, Line: n.Line, Column: n.Column, Path: path, Message: fmt.Sprintf("YAML tag %s is not supported", n.Tag)}
		}
	}
	return nil, &Error{File: d.file, Line: n.Line, Column: n.Column, Path: path, Message: "unsupported YAML node"}
}

// offsetPosition returns the file position of byte offset off in the
// string value of node n, exactly for literal block scalars (jq: |) and
// single-line scalars. ok is false when the position is approximate (the
// start of the value): folded and multi-line flow scalars move text around.
func (d *document) offsetPosition(n *yaml.Node, off int) (p position, ok bool) {
	v := n.Value
	off = max(0, min(off, len(v)))
	lineIdx := strings.Count(v[:off], "\n")
	start := strings.LastIndexByte(v[:off], '\n') + 1
	col := utf8.RuneCountInString(v[start:off]) // 0-based, in characters
	lines := strings.Split(v, "\n")
	switch {
	case n.Style&yaml.LiteralStyle != 0:
		// Content line k is on the file line after the indicator + k.
		indent := -1
		for k, c := range lines {
			if strings.TrimSpace(c) == "" {
				continue
			}
			raw, ok := d.line(n.Line + 1 + k)
			if !ok || !strings.HasSuffix(raw, c) {
				return position{n.Line, n.Column}, false
			}
			indent = utf8.RuneCountInString(raw) - utf8.RuneCountInString(c)
			break
		}
		if indent < 0 {
			return position{n.Line, n.Column}, false
		}
		return position{n.Line + 1 + lineIdx, indent + col + 1}, true
	case n.Style&(yaml.FoldedStyle) != 0 || len(lines) > 1:
		return position{n.Line, n.Column}, false
	}
	// A single-line plain or quoted scalar: check that the file holds the
	// text where the node says (escapes in a quoted string move it).
	raw, okLine := d.line(n.Line)
	quote := 0
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		quote = 1
	}
	runes := []rune(raw)
	from := n.Column - 1 + quote
	if !okLine || from > len(runes) || !strings.HasPrefix(string(runes[from:]), v[:off]) {
		return position{n.Line, n.Column}, false
	}
	return position{n.Line, from + col + 1}, true
}

func (d *document) line(l int) (string, bool) {
	if l < 1 || l > len(d.lines) {
		return "", false
	}
	return strings.TrimSuffix(d.lines[l-1], "\r"), true
}

// caret draws line l of the file with a caret under column c:
//
//	7 |       {temperature: .t | f2c)}
//	  |                             ^
func (d *document) caret(p position) string {
	raw, ok := d.line(p.line)
	if !ok {
		return ""
	}
	var pad strings.Builder
	for i, r := range []rune(raw) {
		if i >= p.column-1 {
			break
		}
		if r == '\t' {
			pad.WriteByte('\t')
		} else {
			pad.WriteByte(' ')
		}
	}
	num := strconv.Itoa(p.line)
	gutter := strings.Repeat(" ", len(num))
	return fmt.Sprintf(" %s | %s\n %s | %s^", num, raw, gutter, pad.String())
}
