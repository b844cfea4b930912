package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// parseJSON decodes one JSON value, with numbers as json.Number, from body
// trimmed of white space (bytes.TrimSpace); anything after that value is an
// error.
func parseJSON(body []byte) (any, error) {
	lead := len(body) - len(bytes.TrimLeftFunc(body, unicode.IsSpace))
	trimmed := bytes.TrimSpace(body)
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, jsonError(body, lead+int(se.Offset)-1, se.Error())
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return nil, jsonError(body, lead+len(trimmed), "unexpected end of the JSON value")
		}
		return nil, fmt.Errorf("JSON: %s", clip(err.Error(), clipMessage))
	}
	end := int(dec.InputOffset())
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		after := end + len(trimmed[end:]) - len(bytes.TrimLeft(trimmed[end:], " \t\r\n"))
		return nil, jsonError(body, lead+after, "data after the JSON value")
	}
	return v, nil
}

// jsonError is a JSON syntax error at offset off of body.
func jsonError(body []byte, off int, msg string) error {
	line, col := position(body, off)
	return fmt.Errorf("JSON at line %d, column %d: %s", line, col, clip(msg, clipMessage))
}

// parseUndeclared reads a body whose Content-Type names no format, as the
// connector always has: JSON if it looks like JSON and is JSON, else text.
func parseUndeclared(body []byte) (any, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, nil
	}
	if strings.IndexByte(`{["-0123456789tfn`, trimmed[0]) >= 0 {
		if v, err := parseJSON(body); err == nil {
			return v, nil
		}
	}
	if i := invalidUTF8(body); i >= 0 {
		line, col := position(body, i)
		return nil, fmt.Errorf("neither JSON nor UTF-8 text: invalid UTF-8 at line %d, column %d", line, col)
	}
	return string(body), nil
}

// parseText is the body as a string; it must be UTF-8.
func parseText(body []byte) (any, error) {
	if i := invalidUTF8(body); i >= 0 {
		line, col := position(body, i)
		return nil, fmt.Errorf("text at line %d, column %d: invalid UTF-8", line, col)
	}
	return string(body), nil
}
