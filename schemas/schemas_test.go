package schemas

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"go.yaml.in/yaml/v3"

	"github.com/http-connector/http-connector/internal/testing/reference"
)

var update = flag.Bool("update", false, "rewrite the configuration schemas embedded in connector-metadata.json from their files")

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The configuration schemas the operations experience shows are the very
// files the engine validates with.
func TestMetadataEmbedsTheConfigurationSchemas(t *testing.T) {
	raw, err := File(ConnectorMetadata)
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	endpoint := meta["inboundEndpoints"].([]any)[0].(map[string]any)
	datasets := endpoint["datasets"].(map[string]any)
	points := datasets["dataPoints"].(map[string]any)
	actions := endpoint["managementGroups"].(map[string]any)["managementGroupActions"].(map[string]any)
	embedded := map[string]map[string]any{
		ActionConfiguration:    actions,
		EndpointConfiguration:  endpoint,
		DatasetConfiguration:   datasets,
		DataPointConfiguration: points,
	}
	keys := map[string]string{
		ActionConfiguration:    "actionConfigurationSchema",
		EndpointConfiguration:  "additionalConfigurationSchema",
		DatasetConfiguration:   "datasetConfigurationSchema",
		DataPointConfiguration: "dataPointConfigurationSchema",
	}
	for name, parent := range embedded {
		b, err := File(name)
		if err != nil {
			t.Fatal(err)
		}
		var want any
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if *update {
			parent[keys[name]] = want
			continue
		}
		if !reflect.DeepEqual(parent[keys[name]], want) {
			t.Errorf("connector-metadata.json %s differs from %s: run go test ./schemas -update", keys[name], name)
		}
	}
	if *update {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(meta); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(ConnectorMetadata, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// connector-metadata.json is valid against the official connector metadata
// schema (SchemaStore aio-connector-metadata-11.0-preview).
func TestMetadataMatchesTheOfficialSchema(t *testing.T) {
	official := reference.Dir("schemastore", "src", "schemas", "json", "aio-connector-metadata-11.0-preview.json")
	b, err := os.ReadFile(official)
	if err != nil {
		t.Fatalf("official schema beside the repository: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft7
	if err := c.AddResource("https://json.schemastore.org/aio-connector-metadata-11.0-preview.json", bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("https://json.schemastore.org/aio-connector-metadata-11.0-preview.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := File(ConnectorMetadata)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(decode(t, raw)); err != nil {
		t.Fatalf("%#v", err)
	}
	// The official examples pass too: the check can fail.
	bad := decode(t, []byte(`{"name": "x", "version": "1.0.0", "supportedArchitectures": [], "inboundEndpoints": [], "imageConfigurationSettings": {"imageName": "x", "tag": "1"}}`))
	if s.Validate(bad) == nil {
		t.Error("an invalid metadata document passed")
	}
}

// Every property of the configuration schemas is documented.
func TestEveryPropertyHasADescription(t *testing.T) {
	for _, name := range []string{DatasetConfiguration, DataPointConfiguration, MappingFile} {
		b, err := File(name)
		if err != nil {
			t.Fatal(err)
		}
		var walk func(path string, v any)
		walk = func(path string, v any) {
			m, ok := v.(map[string]any)
			if !ok {
				return
			}
			if props, ok := m["properties"].(map[string]any); ok {
				for k, p := range props {
					pm, _ := p.(map[string]any)
					if _, ok := pm["description"]; !ok {
						if _, ref := pm["$ref"]; !ref {
							t.Errorf("%s: %s.%s has no description", name, path, k)
						}
					}
					walk(path+"."+k, p)
				}
			}
			for _, k := range []string{"definitions", "items", "additionalProperties"} {
				if sub, ok := m[k].(map[string]any); ok {
					if k == "definitions" {
						for dk, dv := range sub {
							walk(path+"."+dk, dv)
						}
					} else {
						walk(path, sub)
					}
				}
			}
		}
		walk("", decode(t, b))
	}
}

func TestPath(t *testing.T) {
	for pointer, want := range map[string]string{
		"":                                      "",
		"/spec/datasets/0/name":                 "spec.datasets[0].name",
		"/spec/endpoints/inbound/my.ep/address": `spec.endpoints.inbound["my.ep"].address`,
		"/a~1b":                                 `["a/b"]`,
		"/a~0b~01":                              `["a~b~1"]`,
		"/x/-1/+2/007/_a-1/b_":                  "x[-1][+2][007]._a-1.b_",
		"/x/+-1/--1/-/+":                        `x["+-1"]["--1"]["-"]["+"]`,
		"/x/1a/-a/a.b/ä":                        `x["1a"]["-a"]["a.b"]["ä"]`,
		"/x//y":                                 `x[""].y`,
		"/9223372036854775807/9223372036854775808": `[9223372036854775807]["9223372036854775808"]`,
		"/":   "",
		"//":  `[""][""]`,
		"a/b": "a.b",
		// The library escapes tokens as in a URL fragment.
		"/mappings/7%20CB": `mappings["7 CB"]`,
		"/a%25b":           `["a%b"]`,
		"/a%2":             `["a%2"]`, // not an escape: kept
	} {
		if got := Path(pointer); got != want {
			t.Errorf("Path(%q) = %q, want %q", pointer, got, want)
		}
	}
	for _, key := range []string{"7 CB", "a/b~c", "50%", "j'077", `"q"`, "ä"} {
		if got, want := Path("/"+PointerToken(key)), Path("/x/" + PointerToken(key))[1:]; got != want || !strings.Contains(got, strings.ReplaceAll(key, `"`, `\"`)) {
			t.Errorf("Path of PointerToken(%q) = %q", key, got)
		}
	}
}

// Unknown fields are each named, whatever their names hold (quotes, commas,
// spaces), in the same order at every run.
func TestUnknownFieldNames(t *testing.T) {
	v, err := Compile("mapping-file.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{"namespace": "a", "mappings": map[string]any{"m 1": map[string]any{
		"kind": "dataset", "jq": ".", "j'077": nil, "7": nil, ", ": nil, `say "hi"`: nil,
	}}}
	want := `[mappings["m 1"]: does not match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]*$' mappings["m 1"][", "]: unknown field mappings["m 1"]["j'077"]: unknown field mappings["m 1"]["say \"hi\""]: unknown field mappings["m 1"][7]: unknown field]`
	for range 20 {
		if got := fmt.Sprint(v.Validate(doc)); got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
}

// validSchemas are the schemas Validate is used with, and the definitions
// of the resource schema, for checking valid against the library.
func validSchemas(t testing.TB) map[string]*Validator {
	t.Helper()
	names := []string{DatasetConfiguration, DataPointConfiguration, MappingFile}
	for _, d := range []string{"deviceResource", "assetResource", "metadata", "stringMap", "device", "inboundEndpoint", "asset", "dataset", "dataPoint", "destination"} {
		names = append(names, ADRResources+"#/definitions/"+d)
	}
	out := map[string]*Validator{}
	for _, n := range names {
		v, err := Compile(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = v
	}
	return out
}

// documents decodes the YAML or JSON documents of data as encoding/json
// decodes JSON (numbers as json.Number).
func documents(data []byte) []any {
	var out []any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for range 8 {
		var v any
		if dec.Decode(&v) != nil {
			break
		}
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		jd := json.NewDecoder(bytes.NewReader(b))
		jd.UseNumber()
		var doc any
		if jd.Decode(&doc) == nil {
			out = append(out, doc)
		}
	}
	return out
}

// FuzzValid checks the shortcut of Validate against the library: what valid
// accepts, the library accepts.
func FuzzValid(f *testing.F) {
	var files []string
	for _, g := range []string{"../examples/*/config/*.yaml", "../examples/*/config/mappings/*.yaml", "../examples/aio/*.yaml", "../internal/config/testdata/*/*/*.yaml", "../internal/config/testdata/*/*/*.json", "../mappings/*.yaml"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 16<<10 {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{"samplingInterval": 1000, "requestTimeout": 10}`, `{"samplingInterval": 1.0}`, `{"samplingInterval": 1e400}`,
		`{"samplingInterval": -1}`, `{"HttpRequestMethod": "GET", "headers": {"a": "b"}, "query": {"x": "1"}, "body": {"q": [1, null]}}`,
		`{"HttpRequestMethod": "FETCH"}`, `{"jq": ".", "mapping": "a/b", "messageSchema": {"type": "object"}}`,
		`{"version": 18446744073709551616}`, `{"name": ""}`, `{"name": "é"}`, `{"target": "Mqtt", "configuration": {"qos": "Qos1", "ttl": 0}}`,
	} {
		f.Add([]byte(s))
	}
	vs := validSchemas(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, doc := range documents(data) {
			for name, v := range vs {
				if valid(v.schema, doc, 0) {
					if err := v.schema.Validate(doc); err != nil {
						t.Fatalf("%s: valid accepts what the library rejects: %v", name, err)
					}
				}
			}
		}
	})
}

// The shortcut is taken for valid resources: the examples pass valid.
func TestValidShortcut(t *testing.T) {
	vs := validSchemas(t)
	for file, schema := range map[string]string{
		"../examples/thermostat/config/device.yaml": ADRResources + "#/definitions/deviceResource",
		"../examples/thermostat/config/asset.yaml":  ADRResources + "#/definitions/assetResource",
		"../examples/aio/thermostat-device.yaml":    ADRResources + "#/definitions/deviceResource",
		"../examples/aio/thermostat-asset.yaml":     ADRResources + "#/definitions/assetResource",
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		docs := documents(b)
		if len(docs) != 1 {
			t.Fatalf("%s: %d documents, want 1", file, len(docs))
		}
		if err := vs[schema].schema.Validate(docs[0]); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if !valid(vs[schema].schema, docs[0], 0) {
			t.Errorf("%s: valid is false for a valid resource: Validate takes the slow way", file)
		}
	}
}

// valid knows every keyword of the library's compiled schema: it checks it,
// or checked turns the schema down. A new field (a library upgrade) must be
// looked at and added here.
func TestCheckedKnowsEveryKeyword(t *testing.T) {
	known := map[string]bool{
		// checked by valid
		"Always": true, "Ref": true, "Types": true, "Constant": true, "Enum": true, "AllOf": true, "AnyOf": true,
		"MinProperties": true, "MaxProperties": true, "Required": true, "Properties": true, "PropertyNames": true,
		"AdditionalProperties": true, "MinItems": true, "MaxItems": true, "Items": true,
		"MinLength": true, "MaxLength": true, "Pattern": true,
		"Minimum": true, "ExclusiveMinimum": true, "Maximum": true, "ExclusiveMaximum": true,
		// turned down by checked
		"Format": true, "RecursiveRef": true, "DynamicRef": true, "Not": true, "OneOf": true, "If": true, "Then": true, "Else": true,
		"RegexProperties": true, "PatternProperties": true, "Dependencies": true, "DependentRequired": true, "DependentSchemas": true,
		"UnevaluatedProperties": true, "UnevaluatedItems": true, "UniqueItems": true, "AdditionalItems": true, "PrefixItems": true,
		"Items2020": true, "Contains": true, "ContainsEval": true, "MinContains": true, "MaxContains": true,
		"ContentEncoding": true, "ContentMediaType": true, "ContentSchema": true, "MultipleOf": true, "Extensions": true,
		// no bearing on validation here
		"Location": true, "Draft": true, "RecursiveAnchor": true, "DynamicAnchor": true,
		"Title": true, "Description": true, "Default": true, "Comment": true, "ReadOnly": true, "WriteOnly": true, "Examples": true, "Deprecated": true,
	}
	typ := reflect.TypeFor[jsonschema.Schema]()
	for i := range typ.NumField() {
		if f := typ.Field(i); f.IsExported() && !known[f.Name] {
			t.Errorf("jsonschema.Schema.%s: unknown to valid", f.Name)
		}
	}
}
