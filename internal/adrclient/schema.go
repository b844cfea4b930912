package adrclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/aiorpc"
)

// Schema registry topics and values.
const (
	SchemaRegistryPutTopic = "adr/dtmi:ms:adr:SchemaRegistry;2/put"
	SchemaFormatJSONDraft7 = "JsonSchema/draft-07"
	SchemaTypeMessage      = "MessageSchema"
)

// SchemaRegistryError is an error the schema registry returns in its
// response.
type SchemaRegistryError struct {
	Code    int // e.g. 400, 404, 500
	Message string
	Target  string
}

func (e *SchemaRegistryError) Error() string {
	if e.Target != "" {
		return fmt.Sprintf("schema registry error %d: %s (target %s)", e.Code, e.Message, e.Target)
	}
	return fmt.Sprintf("schema registry error %d: %s", e.Code, e.Message)
}

// SchemaRegistry registers message schemas.
type SchemaRegistry struct {
	inv     *aiorpc.Invoker
	timeout time.Duration
	retry   aiorpc.RetryPolicy
}

// SchemaRegistryTimeout is how long one put may wait for the registry by
// default: it throttles at scale, and the Rust SDK waits 90 s.
const SchemaRegistryTimeout = 90 * time.Second

// NewSchemaRegistry returns a schema registry client using inv; a put waits
// SchemaRegistryTimeout unless opts.Timeout says less.
func NewSchemaRegistry(inv *aiorpc.Invoker, opts Options) *SchemaRegistry {
	timeout := SchemaRegistryTimeout
	if opts.Timeout > 0 {
		timeout = opts.Timeout
	}
	return &SchemaRegistry{inv: inv, timeout: timeout, retry: opts.retry()}
}

// Put registers a JSON Schema (draft-07) message schema with the given
// version and returns the reference to report in the asset status. Put is
// idempotent: the schema name is the hash of schemaContent.
func (s *SchemaRegistry) Put(ctx context.Context, schemaContent, version string) (adr.MessageSchemaReference, error) {
	req, err := json.Marshal(struct {
		Format        string `json:"format"`
		SchemaType    string `json:"schemaType"`
		SchemaContent string `json:"schemaContent"`
		Version       string `json:"version"`
	}{SchemaFormatJSONDraft7, SchemaTypeMessage, schemaContent, version})
	if err != nil {
		return adr.MessageSchemaReference{}, fmt.Errorf("put schema: %w", err)
	}
	respTopic := aiorpc.ResponseTopic(s.inv.ClientID(), SchemaRegistryPutTopic)
	if err := s.inv.Prepare(ctx, respTopic); err != nil {
		return adr.MessageSchemaReference{}, fmt.Errorf("put schema: %w", err)
	}
	resp, err := s.inv.InvokeWithRetry(ctx, SchemaRegistryPutTopic, req, true, s.timeout, s.retry)
	if err != nil {
		return adr.MessageSchemaReference{}, fmt.Errorf("put schema: %w", err)
	}
	ref, err := decodePut(resp)
	if err != nil {
		return adr.MessageSchemaReference{}, fmt.Errorf("put schema: %w", err)
	}
	return ref, nil
}

func decodePut(resp aiorpc.Response) (adr.MessageSchemaReference, error) {
	if resp.ContentType != "" && resp.ContentType != aiorpc.ContentTypeJSON {
		return adr.MessageSchemaReference{}, fmt.Errorf("response content type %q, want %s", resp.ContentType, aiorpc.ContentTypeJSON)
	}
	if len(bytes.TrimSpace(resp.Payload)) == 0 {
		return adr.MessageSchemaReference{}, errors.New("empty response")
	}
	var r struct {
		Schema *struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
			Version   string `json:"version"`
		} `json:"schema"`
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Target  string `json:"target"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp.Payload, &r); err != nil {
		return adr.MessageSchemaReference{}, fmt.Errorf("decode response: %w", err)
	}
	switch {
	case r.Error != nil:
		return adr.MessageSchemaReference{}, &SchemaRegistryError{Code: r.Error.Code, Message: r.Error.Message, Target: r.Error.Target}
	case r.Schema == nil:
		return adr.MessageSchemaReference{}, errors.New(`response has neither "schema" nor "error"`)
	case r.Schema.Name == "" || r.Schema.Namespace == "" || r.Schema.Version == "":
		return adr.MessageSchemaReference{}, errors.New("response schema lacks name, namespace or version")
	}
	return adr.MessageSchemaReference{
		SchemaName:              r.Schema.Name,
		SchemaRegistryNamespace: r.Schema.Namespace,
		SchemaVersion:           r.Schema.Version,
	}, nil
}
