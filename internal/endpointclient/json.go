package endpointclient

import (
	"bytes"
	"encoding/json"
)

// cloneJSON is a deep copy of a decoded JSON value.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = cloneJSON(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = cloneJSON(e)
		}
		return a
	}
	return v
}

// setAt sets the string at path (object keys and array indexes) of v.
func setAt(v any, path []any, s string) {
	for i, p := range path {
		last := i == len(path)-1
		switch p := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			if m == nil {
				return
			}
			if last {
				m[p] = s
				return
			}
			v = m[p]
		case int:
			a, _ := v.([]any)
			if p >= len(a) {
				return
			}
			if last {
				a[p] = s
				return
			}
			v = a[p]
		}
	}
}

// marshalJSON writes v without HTML escaping: a password with & or < is
// sent as it is.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
