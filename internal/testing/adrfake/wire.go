package adrfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Folders of the wire JSON schemas under the reference folder.
const (
	adrSchemaDir = "dotnet/src/Azure.Iot.Operations.Services/AssetAndDeviceRegistry/schemas"
	srSchemaDir  = "dotnet/src/Azure.Iot.Operations.Services/SchemaRegistry/schemas"
)

// Schema files (relative to the reference folder) of request, response and
// telemetry payloads; "" when there is none.
func requestSchema(name string) string {
	return map[string]string{
		"getAsset":           adrSchemaDir + "/GetAssetRequestPayload.schema.json",
		"getAssetStatus":     adrSchemaDir + "/GetAssetStatusRequestPayload.schema.json",
		"updateDeviceStatus": adrSchemaDir + "/UpdateDeviceStatusRequestPayload.schema.json",
		"updateAssetStatus":  adrSchemaDir + "/UpdateAssetStatusRequestPayload.schema.json",
		"setNotificationPreferenceForDeviceUpdates": adrSchemaDir + "/SetNotificationPreferenceForDeviceUpdatesRequestPayload.schema.json",
		"setNotificationPreferenceForAssetUpdates":  adrSchemaDir + "/SetNotificationPreferenceForAssetUpdatesRequestPayload.schema.json",
		"put": srSchemaDir + "/PutRequestSchema.schema.json",
		"get": srSchemaDir + "/GetRequestSchema.schema.json",
	}[name]
}

func responseSchema(name string) string {
	return map[string]string{
		"getDevice":          adrSchemaDir + "/GetDeviceResponseSchema.schema.json",
		"getDeviceStatus":    adrSchemaDir + "/GetDeviceStatusResponseSchema.schema.json",
		"getAsset":           adrSchemaDir + "/GetAssetResponseSchema.schema.json",
		"getAssetStatus":     adrSchemaDir + "/GetAssetStatusResponseSchema.schema.json",
		"updateDeviceStatus": adrSchemaDir + "/UpdateDeviceStatusResponseSchema.schema.json",
		"updateAssetStatus":  adrSchemaDir + "/UpdateAssetStatusResponseSchema.schema.json",
		"setNotificationPreferenceForDeviceUpdates": adrSchemaDir + "/SetNotificationPreferenceForDeviceUpdatesResponseSchema.schema.json",
		"setNotificationPreferenceForAssetUpdates":  adrSchemaDir + "/SetNotificationPreferenceForAssetUpdatesResponseSchema.schema.json",
		"put": srSchemaDir + "/PutResponseSchema.schema.json",
		"get": srSchemaDir + "/GetResponseSchema.schema.json",
	}[name]
}

func telemetrySchema(name string) string {
	return map[string]string{
		"deviceEndpointRuntimeHealthEvent":   adrSchemaDir + "/DeviceEndpointRuntimeHealthEventTelemetry.schema.json",
		"datasetRuntimeHealthEvent":          adrSchemaDir + "/DatasetRuntimeHealthEventTelemetry.schema.json",
		"eventRuntimeHealthEvent":            adrSchemaDir + "/EventRuntimeHealthEventTelemetry.schema.json",
		"streamRuntimeHealthEvent":           adrSchemaDir + "/StreamRuntimeHealthEventTelemetry.schema.json",
		"managementActionRuntimeHealthEvent": adrSchemaDir + "/ManagementActionRuntimeHealthEventTelemetry.schema.json",
		"deviceUpdateEvent":                  adrSchemaDir + "/DeviceUpdateEventTelemetry.schema.json",
		"assetUpdateEvent":                   adrSchemaDir + "/AssetUpdateEventTelemetry.schema.json",
	}[name]
}

// wireSchemas compiles the reference JSON schemas on first use.
type wireSchemas struct {
	root string

	mu       sync.Mutex
	compiled map[string]*jsonschema.Schema
}

func loadWireSchemas(root string) (*wireSchemas, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	for _, dir := range []string{adrSchemaDir, srSchemaDir} {
		if _, err := os.Stat(filepath.Join(abs, dir)); err != nil {
			return nil, fmt.Errorf("reference schemas: %w", err)
		}
	}
	return &wireSchemas{root: abs, compiled: make(map[string]*jsonschema.Schema)}, nil
}

// validate checks payload against the schema file rel; a nil receiver
// accepts everything.
func (w *wireSchemas) validate(rel string, payload []byte) error {
	if w == nil {
		return nil
	}
	path := filepath.Join(w.root, rel)
	if _, err := os.Stat(path); err != nil {
		return nil // no schema for this payload in the reference copy
	}
	w.mu.Lock()
	s, ok := w.compiled[rel]
	if !ok {
		var err error
		if s, err = jsonschema.NewCompiler().Compile(path); err != nil {
			w.mu.Unlock()
			return fmt.Errorf("compile %s: %w", filepath.Base(rel), err)
		}
		w.compiled[rel] = s
	}
	w.mu.Unlock()
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(rel), err)
	}
	return nil
}
