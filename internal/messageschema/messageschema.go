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
	"strings"
)

const draft07 = "http://json-schema.org/draft-07/schema#"

// Derive returns the schema of the JSON message: objects list their
// members' schemas, arrays the schema of their first item; a number written
// without a fraction or an exponent is an "integer", any other a "number".
func Derive(message []byte) (string, error) {
	s, err := derive(message)
	if err != nil {
		return "", err
	}
	return encode(s)
}

func derive(message []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(message))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("derive message schema: %w", err)
	}
	s := of(v)
	s["$schema"] = draft07
	return s, nil
}

// Widen returns the schema derived so far (its text) widened to fit a later
// message: a member once an integer that the message has with a fraction
// becomes a number. changed is false when the message fits as it is (or
// differs in another way: a schema derived from one message describes
// that message's shape, nothing more).
func Widen(schema string, message []byte) (widened string, changed bool, err error) {
	var have map[string]any
	if err := json.Unmarshal([]byte(schema), &have); err != nil {
		return "", false, fmt.Errorf("widen message schema: %w", err)
	}
	got, err := derive(message)
	if err != nil {
		return "", false, err
	}
	if !widen(have, got) {
		return schema, false, nil
	}
	out, err := encode(have)
	return out, true, err
}

// widen makes integers of have that are numbers in got numbers, and
// reports whether it changed any.
func widen(have, got map[string]any) bool {
	if have["type"] == "integer" && got["type"] == "number" {
		have["type"] = "number"
		return true
	}
	changed := false
	if hp, ok := have["properties"].(map[string]any); ok {
		gp, _ := got["properties"].(map[string]any)
		for k, hv := range hp {
			h, _ := hv.(map[string]any)
			g, _ := gp[k].(map[string]any)
			if h != nil && g != nil && widen(h, g) {
				changed = true
			}
		}
	}
	hi, _ := have["items"].(map[string]any)
	gi, _ := got["items"].(map[string]any)
	if hi != nil && gi != nil && widen(hi, gi) {
		changed = true
	}
	return changed
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
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return map[string]any{"type": "number"}
		}
		return map[string]any{"type": "integer"}
	case float64:
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
