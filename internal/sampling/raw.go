package sampling

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// The raw path takes a data point's value as the JSON text of the response,
// without decoding it into Go values and encoding it again, when that text
// is exactly what decoding and encoding would write: a number (its text is
// kept either way), true, false, null, or a string without escapes. Objects,
// arrays, escaped strings, non-JSON bodies and bodies that are not UTF-8 go
// the decoding way (Decode, then encode), which is the reference: it sorts
// object keys, rewrites escapes and turns text into JSON strings.
// FuzzRawValue checks that both ways agree.

// member is one member of a JSON object: its key and value as they are
// written in the body.
type member struct {
	key, value []byte
}

// rawBody is what the raw path knows of one response body, worked out once
// per response, however many data points read it.
type rawBody struct {
	checked bool
	ok      bool     // valid JSON, UTF-8, not empty: the raw path may take it
	body    []byte   // trimmed
	scanned bool     // members holds the members of an object body
	members []member // body's members
}

// check looks at body once.
func (rb *rawBody) check(body []byte, contentType string) {
	rb.checked = true
	rb.body = bytes.TrimSpace(body)
	if len(rb.body) == 0 || !(looksLikeJSON(rb.body[0]) || isJSONType(contentType)) {
		return
	}
	if !utf8.Valid(rb.body) || !json.Valid(rb.body) {
		return
	}
	rb.ok = true
}

// value returns the raw JSON value of the data point name: the member named
// so when the body is an object that has it, else the whole body. ok is
// false when the value must be decoded instead.
func (rb *rawBody) value(name string) ([]byte, bool) {
	if !rb.ok {
		return nil, false
	}
	if rb.body[0] == '{' {
		if !rb.scanned {
			rb.members, rb.scanned = scanObject(rb.body, rb.members[:0]), true
		}
		// The last member of the name wins, as when decoding.
		for i := len(rb.members) - 1; i >= 0; i-- {
			if keyIs(rb.members[i].key, name) {
				v := rb.members[i].value
				return v, plain(v)
			}
		}
		return nil, false // the whole object: decoding sorts its keys
	}
	return rb.body, plain(rb.body)
}

// plain reports whether the JSON value v is written exactly as encoding
// its decoded value would write it.
func plain(v []byte) bool {
	switch v[0] {
	case '{', '[':
		return false
	case '"':
		// encoding/json rewrites escapes and escapes U+2028 and U+2029
		// (which start with 0xE2); anything else it writes as it is.
		return bytes.IndexByte(v, '\\') < 0 && bytes.IndexByte(v, 0xE2) < 0
	}
	return true // a number, true, false or null
}

// keyIs reports whether the raw key (with its quotes) names name. Keys with
// escapes are rare: they are decoded.
func keyIs(key []byte, name string) bool {
	inner := key[1 : len(key)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == name
	}
	var s string
	return json.Unmarshal(key, &s) == nil && s == name
}

// scanObject appends the members of the JSON object b, which must be valid
// JSON, to dst.
func scanObject(b []byte, dst []member) []member {
	i := 1 // after '{'
	for {
		i = skipSpace(b, i)
		if b[i] == '}' {
			return dst
		}
		kEnd := skipString(b, i)
		key := b[i:kEnd]
		i = skipSpace(b, kEnd) + 1 // past ':'
		i = skipSpace(b, i)
		vEnd := skipValue(b, i)
		dst = append(dst, member{key: key, value: b[i:vEnd]})
		i = skipSpace(b, vEnd)
		if b[i] == ',' {
			i++
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) && strings.IndexByte(",}] \t\n\r", b[i]) < 0 {
		i++
	}
	return i
}

func isJSONType(contentType string) bool {
	// "json" in any case, without allocating a lowered copy.
	for i := 0; i+4 <= len(contentType); i++ {
		if strings.EqualFold(contentType[i:i+4], "json") {
			return true
		}
	}
	return false
}
