package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// decodeConfig parses a stringified-JSON configuration field as ADR carries
// it. Trailing commas before '}' or ']' are accepted, as the official samples
// contain them. Numbers stay json.Number. An empty string is an empty object.
func decodeConfig(text string) (map[string]any, error) {
	if strings.TrimSpace(text) == "" {
		return map[string]any{}, nil
	}
	clean := stripTrailingCommas([]byte(text))
	dec := json.NewDecoder(bytes.NewReader(clean))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(text, clean, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: unexpected data after the object")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be a JSON object, got %s", jsonType(v))
	}
	return m, nil
}

func jsonError(text string, clean []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Stripping commas keeps offsets: commas become spaces.
		off := min(int(se.Offset), len(text))
		line := strings.Count(text[:off], "\n") + 1
		col := off - strings.LastIndexByte(text[:off], '\n')
		return fmt.Errorf("invalid JSON at line %d, column %d: %s", line, col, se.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("invalid JSON: unexpected end of text")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// stripTrailingCommas replaces each comma that is followed only by white
// space and then '}' or ']' with a space, outside strings.
func stripTrailingCommas(b []byte) []byte {
	out := bytes.Clone(b)
	inString, escaped := false, false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ',':
			j := i + 1
			for j < len(out) && (out[j] == ' ' || out[j] == '\t' || out[j] == '\n' || out[j] == '\r') {
				j++
			}
			if j < len(out) && (out[j] == '}' || out[j] == ']') {
				out[i] = ' '
			}
		}
	}
	return out
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	default:
		return "an object"
	}
}
