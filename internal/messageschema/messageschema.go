// Package messageschema derives the JSON Schema (draft-07) of dataset
// messages, as the schema registry stores it: from a sample message, or
// normalised from a schema the dataset configuration declares. The text is
// deterministic (keys sorted, no spaces), so the registry, which names a
// schema by the SHA-256 of its text, gives the same name to the same shape.
package messageschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

const draft07 = "http://json-schema.org/draft-07/schema#"

// Derive returns the schema of the JSON message: objects list their
// members' schemas, arrays the schema of their first item, numbers are
// "number" (an integer-looking value may be fractional next time).
func Derive(message []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(message))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("derive message schema: %w", err)
	}
	s := of(v)
	s["$schema"] = draft07
	return encode(s)
}

// Normalize checks a declared schema and returns its canonical text.
func Normalize(schema any) (string, error) {
	m, ok := schema.(map[string]any)
	if !ok {
		return "", errors.New("a message schema must be a JSON object")
	}
	if _, ok := m["$schema"]; !ok {
		cp := make(map[string]any, len(m)+1)
		for k, v := range m {
			cp[k] = v
		}
		cp["$schema"] = draft07
		m = cp
	}
	return encode(m)
}

func of(v any) map[string]any {
	switch x := v.(type) {
	case nil:
		return map[string]any{"type": "null"}
	case bool:
		return map[string]any{"type": "boolean"}
	case json.Number, float64:
		return map[string]any{"type": "number"}
	case string:
		return map[string]any{"type": "string"}
	case []any:
		s := map[string]any{"type": "array"}
		if len(x) > 0 {
			s["items"] = of(x[0])
		}
		return s
	case map[string]any:
		props := make(map[string]any, len(x))
		for k, val := range x {
			props[k] = of(val)
		}
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{}
}

func encode(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return "", fmt.Errorf("encode message schema: %w", err)
	}
	return string(bytes.TrimSpace(b.Bytes())), nil
}
