package adrclient_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/adrclient"
	"github.com/http-connector/http-connector/internal/testing/adrfake"
)

const thermostatSchema = "{\n  \"$schema\": \"http://json-schema.org/draft-07/schema#\",\n  \"type\": \"object\",\n" +
	"  \"properties\": {\n    \"currentTemperature\": {\"type\": \"number\"},\n    \"desiredTemperature\": {\"type\": \"number\"}\n  }\n}"

func TestSchemaRegistryPut(t *testing.T) {
	e := setup(t)
	sr := adrclient.NewSchemaRegistry(e.inv, e.opts)
	ctx := context.Background()
	ref, err := sr.Put(ctx, thermostatSchema, "1.0")
	if err != nil {
		t.Fatal(err)
	}
	want := adr.MessageSchemaReference{
		SchemaName:              fmt.Sprintf("%X", sha256.Sum256([]byte(thermostatSchema))),
		SchemaRegistryNamespace: "DefaultSRNamespace",
		SchemaVersion:           "1.0",
	}
	if ref != want {
		t.Errorf("got %+v, want %+v", ref, want)
	}
	calls := e.fake.Calls("put")
	if len(calls) != 1 || calls[0].Request.Topic != "adr/dtmi:ms:adr:SchemaRegistry;2/put" ||
		calls[0].Request.ResponseTopic != "clients/rest-ctemplate-0/adr/dtmi:ms:adr:SchemaRegistry;2/put" {
		t.Fatalf("calls %+v", calls)
	}
	schemas := e.fake.Schemas()
	if len(schemas) != 1 || schemas[0].Format != "JsonSchema/draft-07" || schemas[0].SchemaType != "MessageSchema" || schemas[0].SchemaContent != thermostatSchema {
		t.Errorf("registered %+v", schemas)
	}

	e.fake.Inject("put", adrfake.Fault{Times: 1, Response: `{"error":{"code":422,"message":"bad schema","target":"schemaContent"}}`})
	_, err = sr.Put(ctx, "{", "1.0")
	var sre *adrclient.SchemaRegistryError
	if !errors.As(err, &sre) || *sre != (adrclient.SchemaRegistryError{Code: 422, Message: "bad schema", Target: "schemaContent"}) {
		t.Fatalf("error %v, want SchemaRegistryError 422", err)
	}
	if want := "put schema: schema registry error 422: bad schema (target schemaContent)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	e.fake.Inject("put", adrfake.Fault{Times: 1, Response: `{}`})
	if _, err := sr.Put(ctx, "{}", "1.0"); err == nil || err.Error() != `put schema: response has neither "schema" nor "error"` {
		t.Errorf("empty result: %v", err)
	}
}
