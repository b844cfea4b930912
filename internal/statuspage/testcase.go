package statuspage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// maxTestCaseBytes bounds a test case: larger inputs and outputs make a
// test case nobody reads.
const maxTestCaseBytes = 64 << 10

// testCase writes a run of the playground as one test case of a mapping
// file (schemas/mapping-file.schema.json, mappings.<name>.tests[]): the
// input, the variables the run had and exactly one of output (one
// output), outputs (none or several) and error. Values are written as
// JSON, which YAML reads as flow collections: numbers keep their text.
// A run whose program did not compile, or too large a one, gives a YAML
// comment saying why instead.
func testCase(req MapRequest, res *MapResult) string {
	if res.CompileError {
		return "# No test case: the program does not compile.\n"
	}
	var b strings.Builder
	if req.Mapping != "" {
		fmt.Fprintf(&b, "# A test case of %s from the status page: put it under the mapping's tests:.\n", oneLine(req.Mapping))
	} else {
		b.WriteString("# A test case from the status page, for a mapping with this jq: put it under the mapping's tests:.\n")
	}
	v := res.Variables
	fmt.Fprintf(&b, "- name: %s\n", yamlJSON(fmt.Sprintf("%s %s at %s", v.Asset, v.Dataset, v.Timestamp)))
	input, err := reencode(req.Input)
	if err != nil {
		return fmt.Sprintf("# No test case: the input: %s.\n", oneLine(err.Error()))
	}
	fmt.Fprintf(&b, "  input: %s\n", input)
	fmt.Fprintf(&b, "  variables: %s\n", yamlJSON(variablesJSON(v)))
	switch {
	case res.Err != "":
		fmt.Fprintf(&b, "  error: %s\n", yamlJSON(res.Err))
	case len(res.Outputs) == 0:
		b.WriteString("  outputs: []\n")
	case len(res.Outputs) == 1:
		out, err := reencode(res.Outputs[0])
		if err != nil {
			return fmt.Sprintf("# No test case: the output: %s.\n", oneLine(err.Error()))
		}
		fmt.Fprintf(&b, "  output: %s\n", out)
	default:
		b.WriteString("  outputs:\n")
		for i, o := range res.Outputs {
			out, err := reencode(o)
			if err != nil {
				return fmt.Sprintf("# No test case: output %d: %s.\n", i+1, oneLine(err.Error()))
			}
			fmt.Fprintf(&b, "    - %s\n", out)
		}
	}
	if b.Len() > maxTestCaseBytes {
		return fmt.Sprintf("# No test case: it would be %d bytes, more than %d: try a smaller input.\n", b.Len(), maxTestCaseBytes)
	}
	return b.String()
}

// reencode is a JSON value in the JSON that YAML reads alike: decoded
// and encoded again, so that escapes YAML does not know are gone and
// numbers keep their text.
func reencode(raw json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if err := checkKeys(v); err != nil {
		return nil, err
	}
	return yamlJSON(v), nil
}

// maxKeyBytes is the longest member name a test case holds: YAML reads a
// key of a flow mapping only up to 1024 characters, quotes included.
const maxKeyBytes = 1000

// checkKeys refuses member names YAML could not read back.
func checkKeys(v any) error {
	switch v := v.(type) {
	case map[string]any:
		for k, member := range v {
			if n := len(yamlJSON(k)); n > maxKeyBytes {
				return fmt.Errorf("a member name is %d bytes long, more than YAML reads (%d)", n, maxKeyBytes)
			}
			if err := checkKeys(member); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range v {
			if err := checkKeys(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// yamlJSON is v as one line of JSON, a YAML flow value.
func yamlJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null")
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
