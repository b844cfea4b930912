package format

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// isNumber reports whether s is a number by the JSON grammar (RFC 8259):
// an optional minus, an integer part without leading zeros, an optional
// fraction and an optional exponent. "007", "+1", "1.", ".5", "0x1F", "NaN"
// and "Inf" are not numbers.
func isNumber[T string | []byte](s T) bool {
	i, n := 0, len(s)
	if i < n && s[i] == '-' {
		i++
	}
	switch {
	case i < n && s[i] == '0':
		i++
	case i < n && s[i] >= '1' && s[i] <= '9':
		for i < n && isDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < n && s[i] == '.' {
		i++
		if i == n || !isDigit(s[i]) {
			return false
		}
		for i < n && isDigit(s[i]) {
			i++
		}
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == n || !isDigit(s[i]) {
			return false
		}
		for i < n && isDigit(s[i]) {
			i++
		}
	}
	return i == n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scalar is the value of a text: a json.Number if it is a JSON number
// (unless strings), else the text itself.
func scalar(s string, strings bool) any {
	if !strings && isNumber(s) {
		return json.Number(s)
	}
	return s
}

// clip shortens s, a piece of a body quoted in an error, to at most n bytes
// (cut at a character boundary, with "…" after it), so that an error never
// carries much of a body.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// Lengths of the body's text in errors: a name, and a whole message of a
// library's that may quote the body.
const (
	clipName    = 40
	clipMessage = 110
)

// position is the line and column (both from 1; the column counts bytes) of
// the byte at offset off of body.
func position(body []byte, off int) (line, column int) {
	off = min(max(off, 0), len(body))
	line = 1 + bytes.Count(body[:off], []byte{'\n'})
	return line, off - (bytes.LastIndexByte(body[:off], '\n') + 1) + 1
}

// invalidUTF8 is the offset of the first byte of body that is not part of
// valid UTF-8, or -1 if all of it is.
func invalidUTF8(body []byte) int {
	if utf8.Valid(body) {
		return -1
	}
	for i := 0; i < len(body); {
		r, n := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// bom is the UTF-8 byte order mark, which some devices (and spreadsheet
// exports) put before their text.
const bom = "\uFEFF"
