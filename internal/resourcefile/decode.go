package resourcefile

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// specDecoder decodes the spec of a resource, a validated JSON value as
// converter makes them, into its adr type without writing and parsing JSON
// text, for the structs it knows: those reachable from adr.Device and
// adr.Asset.
type specDecoder struct {
	fields map[reflect.Type]map[string]int // struct → JSON name → field index
}

func newSpecDecoder(roots ...reflect.Type) specDecoder {
	d := specDecoder{fields: map[reflect.Type]map[string]int{}}
	for _, t := range roots {
		d.learn(t)
	}
	return d
}

// learn records the struct types t holds.
func (d specDecoder) learn(t reflect.Type) {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		d.learn(t.Elem())
	case reflect.Struct:
		if _, ok := d.fields[t]; ok {
			return
		}
		fs := fieldsOf(t)
		d.fields[t] = fs
		for _, i := range fs {
			d.learn(t.Field(i).Type)
		}
	}
}

// decode decodes spec into v (a pointer to a struct) as encoding/json
// decodes the JSON text of spec, strictly (unknown fields are errors).
func (d specDecoder) decode(spec any, v any) error {
	rv := reflect.ValueOf(v).Elem()
	if d.assign(rv, spec) {
		return nil
	}
	// What assign does not take on (unknown or differently cased fields,
	// nulls, numbers that do not fit, time, raw JSON), encoding/json
	// decodes, with its own messages. assign may have set fields: start
	// again.
	rv.SetZero()
	b, _ := json.Marshal(spec)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// assign sets dst to the JSON value src and reports true when it did so
// exactly as encoding/json would decode src's JSON text into dst, strictly.
// It reports false whenever it is not sure, leaving dst partly set.
func (d specDecoder) assign(dst reflect.Value, src any) bool {
	switch s := src.(type) {
	case map[string]any:
		switch dst.Kind() {
		case reflect.Struct:
			fs := d.fields[dst.Type()]
			if fs == nil {
				return false
			}
			for k, v := range s {
				i, ok := fs[k]
				if !ok || !d.assign(dst.Field(i), v) {
					return false
				}
			}
			return true
		case reflect.Map:
			t := dst.Type()
			if t.Key() != reflect.TypeFor[string]() || !plain(t.Elem()) {
				return false
			}
			m := reflect.MakeMapWithSize(t, len(s))
			for k, v := range s {
				e := reflect.New(t.Elem()).Elem()
				if !utf8.ValidString(k) || !d.assign(e, v) {
					return false
				}
				m.SetMapIndex(reflect.ValueOf(k), e)
			}
			dst.Set(m)
			return true
		}
	case []any:
		if dst.Kind() == reflect.Slice {
			if !plain(dst.Type().Elem()) {
				return false
			}
			sl := reflect.MakeSlice(dst.Type(), len(s), len(s))
			for i, v := range s {
				if !d.assign(sl.Index(i), v) {
					return false
				}
			}
			dst.Set(sl)
			return true
		}
	case string:
		if dst.Kind() == reflect.String {
			if !utf8.ValidString(s) {
				return false // encoding/json would write U+FFFD
			}
			dst.SetString(s)
			return true
		}
	case bool:
		if dst.Kind() == reflect.Bool {
			dst.SetBool(s)
			return true
		}
	case json.Number:
		switch dst.Kind() {
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			n, err := strconv.ParseUint(string(s), 10, 64)
			if err != nil || dst.OverflowUint(n) {
				return false
			}
			dst.SetUint(n)
			return true
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			n, err := strconv.ParseInt(string(s), 10, 64)
			if err != nil || dst.OverflowInt(n) {
				return false
			}
			dst.SetInt(n)
			return true
		}
	default:
		return false // null
	}
	if dst.Kind() != reflect.Pointer || !plain(dst.Type().Elem()) {
		return false // floats, interfaces, mismatched types
	}
	p := reflect.New(dst.Type().Elem())
	if !d.assign(p.Elem(), src) {
		return false
	}
	dst.Set(p)
	return true
}

// plain reports whether t and a pointer to t decode their JSON without a
// method of their own (json.RawMessage and time.Time have one).
func plain(t reflect.Type) bool {
	for _, m := range []reflect.Type{reflect.TypeFor[json.Unmarshaler](), reflect.TypeFor[encoding.TextUnmarshaler]()} {
		if t.Implements(m) || reflect.PointerTo(t).Implements(m) {
			return false
		}
	}
	return true
}

// fieldsOf maps the JSON names of a struct's fields to their indexes, or is
// nil when the struct is not one assign takes on: embedded fields, field
// options other than omitempty, names other than letters, digits and _,
// names given twice, types with their own decoding.
func fieldsOf(t reflect.Type) map[string]int {
	if !plain(t) {
		return nil
	}
	fs := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil
		}
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if opts != "" && opts != "omitempty" {
			return nil
		}
		if name == "" {
			name = f.Name
		}
		if strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
			return nil
		}
		if _, dup := fs[name]; dup {
			return nil
		}
		fs[name] = i
	}
	return fs
}
