package schemas

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
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
	datasets := meta["inboundEndpoints"].([]any)[0].(map[string]any)["datasets"].(map[string]any)
	points := datasets["dataPoints"].(map[string]any)
	embedded := map[string]map[string]any{
		DatasetConfiguration:   datasets,
		DataPointConfiguration: points,
	}
	keys := map[string]string{DatasetConfiguration: "datasetConfigurationSchema", DataPointConfiguration: "dataPointConfigurationSchema"}
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
	official := filepath.Join("..", "..", "shared", "reference", "schemastore", "src", "schemas", "json", "aio-connector-metadata-11.0-preview.json")
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
	} {
		if got := Path(pointer); got != want {
			t.Errorf("Path(%q) = %q, want %q", pointer, got, want)
		}
	}
}
