package format_test

import (
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/format"
)

func TestJSON(t *testing.T) {
	runCases(t, format.JSON, format.Options{}, []parseCase{
		{name: "object", body: `{"temp": 21.5, "unit": "C", "ok": true, "none": null}`, want: `{"temp": 21.5, "unit": "C", "ok": true, "none": null}`},
		{name: "numbers keep their text", body: `[1.50, 1e400, 123456789012345678901234567890, -0]`, want: `[1.50, 1e400, 123456789012345678901234567890, -0]`},
		{name: "scalar", body: `"quoted"`, want: `"quoted"`},
		{name: "white space around", body: "\n\t [1] \r\n", want: `[1]`},
		{name: "content type ignored", body: `{"a": 1}`, contentType: "text/plain", want: `{"a": 1}`},
		{name: "empty", body: ``, want: `null`},
		{name: "blank", body: " \n", want: `null`},
		{name: "invalid character", body: "{\n  \"a\": }", err: `JSON at line 2, column 8: invalid character '}' looking for beginning of value`},
		{name: "position counts leading white space", body: "\n\n  x", err: `JSON at line 3, column 3: invalid character 'x' looking for beginning of value`},
		{name: "unexpected end", body: `{"a": 1`, err: `JSON at line 1, column 8: unexpected end of the JSON value`},
		{name: "data after the value", body: "{\"a\": 1}\n {\"b\": 2}", err: `JSON at line 2, column 2: data after the JSON value`},
		{name: "text after the value", body: `1 C`, err: `JSON at line 1, column 3: data after the JSON value`},
		{name: "text is not JSON", body: `21.5 C`, err: `JSON at line 1, column 6: data after the JSON value`},
		{name: "html", body: `<html></html>`, err: `JSON at line 1, column 1: invalid character '<' looking for beginning of value`},
		{name: "too deep", body: strings.Repeat("[", 10001) + strings.Repeat("]", 10001), err: `JSON at line 1, column 10001: invalid character '[' exceeded max depth`},
	})
}
