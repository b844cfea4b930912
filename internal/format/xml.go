package format

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxXMLDepth bounds how deep elements may nest.
const maxXMLDepth = 1000

// xmlSpace is white space in XML.
const xmlSpace = " \t\r\n"

// xmlParser reads XML documents (see the package documentation).
type xmlParser struct {
	names    map[string]bool // the entries of XMLOptions.Arrays without "/"
	paths    [][]string      // those with "/", split
	prefixes bool
	strings  bool
}

func newXMLParser(o XMLOptions) (xmlParser, error) {
	p := xmlParser{prefixes: o.Prefixes, strings: o.Strings}
	for i, a := range o.Arrays {
		segs := strings.Split(a, "/")
		for _, s := range segs {
			switch {
			case s == "" && len(segs) > 1:
				return p, fmt.Errorf("xml.arrays[%d]: %q has an empty name in its path (a path starts with the root element's name, without a leading \"/\")", i, a)
			case s == "":
				return p, fmt.Errorf("xml.arrays[%d]: empty element name", i)
			case strings.ContainsAny(s, " \t\r\n<>&'\"=@#"):
				return p, fmt.Errorf("xml.arrays[%d]: %q is not an element name or path", i, a)
			case strings.Contains(s, ":") && !o.Prefixes:
				return p, fmt.Errorf("xml.arrays[%d]: %q has a namespace prefix, which names only keep with xml.prefixes set", i, a)
			}
		}
		if len(segs) == 1 {
			if p.names == nil {
				p.names = make(map[string]bool)
			}
			p.names[a] = true
		} else {
			p.paths = append(p.paths, segs)
		}
	}
	return p, nil
}

// xmlFrame is an open element.
type xmlFrame struct {
	name  xml.Name       // as written (prefix, local name), to match its end tag
	key   string         // its key in its parent
	obj   map[string]any // its attributes and children, once it has any
	text  []byte         // its character data
	array bool           // it is listed in XMLOptions.Arrays
}

// value is the value of a closed element.
func (f *xmlFrame) value(strings bool) any {
	text := string(bytes.Trim(f.text, xmlSpace))
	if f.obj == nil {
		return scalar(text, strings)
	}
	if text != "" {
		f.obj["#text"] = scalar(text, strings)
	}
	return f.obj
}

// add puts the value of a child element under key: a second child of the
// same key makes an array of them, in document order. Element values are
// never arrays themselves.
func (f *xmlFrame) add(key string, v any, array bool) {
	if f.obj == nil {
		f.obj = make(map[string]any)
	}
	if _, ok := f.obj[key]; !ok && array {
		v = []any{v}
	}
	addValue(f.obj, key, v)
}

// parse reads a document in one pass over its tokens.
func (p *xmlParser) parse(body []byte) (any, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true // the default: only the predefined entities, no auto-closing
	d.CharsetReader = charsetReader
	var (
		stack   []xmlFrame // stack[:depth] are open; the rest keep their text buffers for reuse
		depth   int
		root    any
		rootKey string
		done    bool
	)
	for {
		tok, err := d.RawToken() // names as written; end tags are matched here
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, xmlError(d, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if done {
				return nil, xmlErrorf(d, "a second root element <%s>", clip(rawName(t.Name), clipName))
			}
			if depth == maxXMLDepth {
				return nil, xmlErrorf(d, "elements nested deeper than %d", maxXMLDepth)
			}
			if depth == len(stack) {
				stack = append(stack, xmlFrame{})
			}
			key := p.key(t.Name)
			stack[depth] = xmlFrame{name: t.Name, key: key, text: stack[depth].text[:0], array: p.isArray(stack[:depth], key)}
			f := &stack[depth]
			depth++
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					continue // a namespace declaration, not data
				}
				if f.obj == nil {
					f.obj = make(map[string]any, len(t.Attr)+1)
				}
				k := "@" + p.key(a.Name)
				if _, dup := f.obj[k]; dup {
					return nil, xmlErrorf(d, "element <%s> has two attributes %q", clip(rawName(t.Name), clipName), clip(k[1:], clipName))
				}
				f.obj[k] = scalar(a.Value, p.strings)
			}
		case xml.EndElement:
			if depth == 0 {
				return nil, xmlErrorf(d, "unexpected end element </%s>", clip(rawName(t.Name), clipName))
			}
			f := &stack[depth-1]
			if t.Name != f.name {
				return nil, xmlErrorf(d, "element <%s> closed by </%s>", clip(rawName(f.name), clipName), clip(rawName(t.Name), clipName))
			}
			depth--
			v := f.value(p.strings)
			f.obj = nil
			if depth > 0 {
				stack[depth-1].add(f.key, v, f.array)
				continue
			}
			if f.array {
				v = []any{v}
			}
			root, rootKey, done = v, f.key, true
		case xml.CharData:
			if depth > 0 {
				stack[depth-1].text = append(stack[depth-1].text, t...)
			} else if len(bytes.Trim(bytes.TrimPrefix(t, []byte(bom)), xmlSpace)) > 0 {
				return nil, xmlErrorf(d, "text outside the root element")
			}
		}
		// Comments, processing instructions and directives (DOCTYPE) are
		// skipped.
	}
	if depth > 0 {
		return nil, xmlErrorf(d, "element <%s> is not closed", clip(rawName(stack[depth-1].name), clipName))
	}
	if !done {
		return nil, xmlErrorf(d, "no root element")
	}
	return map[string]any{rootKey: root}, nil
}

// key is the key of an element or attribute name.
func (p *xmlParser) key(n xml.Name) string {
	if p.prefixes {
		return rawName(n)
	}
	return n.Local
}

// isArray reports whether an element of the given key under the open
// elements open is listed in XMLOptions.Arrays.
func (p *xmlParser) isArray(open []xmlFrame, key string) bool {
	if p.names[key] {
		return true
	}
next:
	for _, path := range p.paths {
		if len(path) != len(open)+1 || path[len(open)] != key {
			continue
		}
		for i := range open {
			if open[i].key != path[i] {
				continue next
			}
		}
		return true
	}
	return false
}

// rawName is a name as written: "prefix:local" or "local" (RawToken leaves
// the prefix in Space).
func rawName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// xmlError is the error of the decoder, at its position.
func xmlError(d *xml.Decoder, err error) error {
	msg := err.Error()
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		msg = se.Msg
	}
	return xmlErrorf(d, "%s", clip(strings.TrimPrefix(msg, "xml: "), clipMessage))
}

func xmlErrorf(d *xml.Decoder, format string, args ...any) error {
	line, col := d.InputPos()
	return fmt.Errorf("XML at line %d, column %d: %s", line, col, fmt.Sprintf(format, args...))
}

// charsetReader reads the encodings other than UTF-8 that a document may
// declare: US-ASCII and ISO-8859-1 (Latin-1).
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "us-ascii", "ascii":
		return input, nil // a subset of UTF-8
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1":
		br, ok := input.(io.ByteReader)
		if !ok {
			br = bufio.NewReader(input)
		}
		return &latin1Reader{r: br}, nil
	}
	return nil, errors.New("unsupported: a document is read in UTF-8, US-ASCII or ISO-8859-1")
}

// latin1Reader turns ISO-8859-1 into UTF-8.
type latin1Reader struct {
	r       io.ByteReader
	pending byte // the second byte of a character, or 0
}

func (l *latin1Reader) ReadByte() (byte, error) {
	if b := l.pending; b != 0 {
		l.pending = 0
		return b, nil
	}
	b, err := l.r.ReadByte()
	if err != nil || b < 0x80 {
		return b, err
	}
	l.pending = 0x80 | b&0x3F
	return 0xC0 | b>>6, nil
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	for n := range p {
		b, err := l.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		p[n] = b
	}
	return len(p), nil
}
