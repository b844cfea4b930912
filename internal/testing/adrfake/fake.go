// Package adrfake is an in-process test double of the Azure Device Registry
// service and the schema registry. It answers the connector's AIO RPC
// commands over MQTT from Device and Asset values held in memory, validates
// requests as the real executors do, records status updates, notification
// preferences, registered schemas and runtime-health telemetry, and can push
// device and asset update notifications. With Options.ReferenceDir it also
// checks every request, response and telemetry payload against the wire JSON
// schemas of the reference SDK.
package adrfake

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/rpcdouble"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// Topic filters the fake serves.
const (
	CommandFilter        = "akri/connector/resources/+/+/+/+"
	TelemetryFilter      = "akri/connector/resources/telemetry/+/+/+/+"
	SchemaRegistryFilter = "adr/dtmi:ms:adr:SchemaRegistry;2/+"
)

// DefaultSchemaNamespace is the namespace the fake registers schemas in.
const DefaultSchemaNamespace = "DefaultSRNamespace"

// Options configure the fake.
type Options struct {
	// ClientID is the fake's own MQTT client id, sent as __srcId of the
	// notifications it publishes; default "adr-service".
	ClientID string
	Logger   zerolog.Logger
	// ReferenceDir, if set, is the shared/reference folder: payloads are then
	// checked against the JSON schemas under its dotnet/src/... folders; an
	// invalid request is answered 400 and every mismatch is recorded as a
	// violation.
	ReferenceDir string
}

// Fault makes the fake answer the next Times requests of a command
// differently.
type Fault struct {
	Times int
	// Drop sends no response at all (the invoker times out).
	Drop bool
	// Status, if not 0, is sent as __stat with an empty payload; with
	// ApplicationError __apErr is "true".
	Status           int
	ApplicationError bool
	// Code, if set (e.g. "KubeError"), answers with the in-band
	// "<command>Error" object with this code and Message, __stat 200.
	Code    string
	Message string
	// Response, if set, is sent verbatim as a JSON payload with __stat 200.
	Response string
}

// Call is one request the fake received.
type Call struct {
	Command  string // e.g. "getDevice", or "put" for the schema registry
	ClientID string // from the topic; empty for the schema registry
	Device   string
	Endpoint string
	Request  mqttclient.Message
	// Status is the __stat answered, 0 when no response was sent.
	Status int
}

// HealthReport is one runtime-health telemetry message the fake received.
type HealthReport struct {
	ClientID, Device, Endpoint string
	Name                       string // e.g. "deviceEndpointRuntimeHealthEvent"
	Payload                    json.RawMessage
	Message                    mqttclient.Message
}

// Schema is a schema registered with put.
type Schema struct {
	Name          string            `json:"name"`
	Namespace     string            `json:"namespace"`
	Version       string            `json:"version"`
	Format        string            `json:"format"`
	SchemaType    string            `json:"schemaType"`
	SchemaContent string            `json:"schemaContent"`
	DisplayName   string            `json:"displayName,omitempty"`
	Description   string            `json:"description,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
}

type notifyKey struct{ client, device, endpoint, asset string }

// Fake is a running ADR service and schema registry double.
type Fake struct {
	client *mqttclient.Client
	tel    *aiorpc.TelemetrySender
	clock  *aiorpc.Clock
	log    zerolog.Logger
	wire   *wireSchemas // nil without ReferenceDir
	id     string

	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool

	devices      map[string]adr.Device
	assets       map[string]adr.Asset
	deviceStatus map[string]adr.DeviceStatus
	assetStatus  map[string]adr.AssetStatus
	notify       map[notifyKey]bool
	faults       map[string][]Fault
	schemas      map[string]Schema // by name + "\x00" + version
	replies      rpcdouble.Replies
	calls        []Call
	health       []HealthReport
	violations   []string
	changes      wait.Changes
}

// Start serves the commands of the connector(s) on client's broker from the
// given devices and assets (by name). client must be connected and is owned by
// the caller; call Close before closing it.
func Start(ctx context.Context, client *mqttclient.Client, devices map[string]adr.Device, assets map[string]adr.Asset, opts Options) (*Fake, error) {
	if opts.ClientID == "" {
		opts.ClientID = "adr-service"
	}
	clock := aiorpc.NewClock()
	f := &Fake{
		client:       client,
		tel:          aiorpc.NewTelemetrySender(client, opts.ClientID, clock),
		clock:        clock,
		log:          opts.Logger,
		id:           opts.ClientID,
		devices:      maps.Clone(devices),
		assets:       maps.Clone(assets),
		deviceStatus: make(map[string]adr.DeviceStatus),
		assetStatus:  make(map[string]adr.AssetStatus),
		notify:       make(map[notifyKey]bool),
		faults:       make(map[string][]Fault),
		schemas:      make(map[string]Schema),
	}
	if f.devices == nil {
		f.devices = map[string]adr.Device{}
	}
	if f.assets == nil {
		f.assets = map[string]adr.Asset{}
	}
	if opts.ReferenceDir != "" {
		w, err := loadWireSchemas(opts.ReferenceDir)
		if err != nil {
			return nil, fmt.Errorf("adr fake: %w", err)
		}
		f.wire = w
	}
	for _, s := range []struct {
		filter string
		h      mqttclient.Handler
	}{
		{CommandFilter, f.onRequest},
		{SchemaRegistryFilter, f.onRequest},
		{TelemetryFilter, f.onTelemetry},
	} {
		if err := client.Subscribe(ctx, s.filter, 1, s.h); err != nil {
			return nil, fmt.Errorf("adr fake: %w", err)
		}
	}
	return f, nil
}

// Close stops answering and waits for requests being answered.
func (f *Fake) Close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.wg.Wait()
}

// touch wakes Wait.
func (f *Fake) touch() { f.changes.Touch() }

// Wait blocks until cond returns true, re-checking whenever the fake records
// something, or until ctx ends.
func (f *Fake) Wait(ctx context.Context, cond func() bool) error {
	if err := f.changes.Wait(ctx, cond); err != nil {
		return fmt.Errorf("adr fake: %w", err)
	}
	return nil
}

// Inject queues a fault for the next requests of command.
func (f *Fake) Inject(command string, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[command] = append(f.faults[command], fault)
}

// Calls returns the requests received for command, or all when command is
// empty, in arrival order.
func (f *Fake) Calls(command string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Call
	for _, c := range f.calls {
		if command == "" || c.Command == command {
			out = append(out, c)
		}
	}
	return out
}

// Health returns the runtime-health telemetry received, in arrival order.
func (f *Fake) Health() []HealthReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.health)
}

// Violations returns every protocol or schema violation seen.
func (f *Fake) Violations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.violations)
}

// DeviceStatus returns the stored status of a device (all endpoints).
func (f *Fake) DeviceStatus(device string) (adr.DeviceStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.deviceStatus[device]
	return s, ok
}

// AssetStatus returns the stored status of an asset.
func (f *Fake) AssetStatus(asset string) (adr.AssetStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.assetStatus[asset]
	return s, ok
}

// SetDeviceStatus stores a device status, as if written earlier.
func (f *Fake) SetDeviceStatus(device string, s adr.DeviceStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deviceStatus[device] = s
}

// SetAssetStatus stores an asset status, as if written earlier.
func (f *Fake) SetAssetStatus(asset string, s adr.AssetStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.assetStatus[asset] = s
}

// Schemas returns the registered schemas.
func (f *Fake) Schemas() []Schema {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Collect(maps.Values(f.schemas))
	slices.SortFunc(out, func(a, b Schema) int { return strings.Compare(a.Name+a.Version, b.Name+b.Version) })
	return out
}

// DeviceNotifications reports whether some client has notifications for the
// device endpoint turned on.
func (f *Fake) DeviceNotifications(device, endpoint string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, on := range f.notify {
		if on && k.asset == "" && k.device == device && k.endpoint == endpoint {
			return true
		}
	}
	return false
}

// AssetNotifications reports whether some client has notifications for the
// asset turned on.
func (f *Fake) AssetNotifications(asset string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, on := range f.notify {
		if on && k.asset == asset {
			return true
		}
	}
	return false
}

// SetDevice stores a device and sends deviceUpdateEvent to every client with
// notifications on for one of its endpoints.
func (f *Fake) SetDevice(ctx context.Context, name string, d adr.Device) error {
	f.mu.Lock()
	f.devices[name] = d
	var targets []notifyKey
	for k, on := range f.notify {
		if on && k.asset == "" && k.device == name && d.Inbound(k.endpoint) != nil {
			targets = append(targets, k)
		}
	}
	f.touch()
	f.mu.Unlock()
	for _, k := range targets {
		payload, err := json.Marshal(map[string]any{"deviceUpdateEvent": map[string]any{
			"deviceName": name, "device": onlyEndpoint(d, k.endpoint),
		}})
		if err != nil {
			return err
		}
		if err := f.publishEvent(ctx, k, "deviceUpdateEvent", payload); err != nil {
			return err
		}
	}
	return nil
}

// SetAsset stores an asset and sends assetUpdateEvent to every client with
// notifications on for it.
func (f *Fake) SetAsset(ctx context.Context, name string, a adr.Asset) error {
	f.mu.Lock()
	f.assets[name] = a
	var targets []notifyKey
	for k, on := range f.notify {
		if on && k.asset == name {
			targets = append(targets, k)
		}
	}
	f.touch()
	f.mu.Unlock()
	for _, k := range targets {
		payload, err := json.Marshal(map[string]any{"assetUpdateEvent": map[string]any{"assetName": name, "asset": a}})
		if err != nil {
			return err
		}
		k.device, k.endpoint = a.DeviceRef.DeviceName, a.DeviceRef.EndpointName
		if err := f.publishEvent(ctx, k, "assetUpdateEvent", payload); err != nil {
			return err
		}
	}
	return nil
}

// RemoveDevice deletes a device; its notifications stop.
func (f *Fake) RemoveDevice(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.devices, name)
	for k := range f.notify {
		if k.asset == "" && k.device == name {
			delete(f.notify, k)
		}
	}
	f.touch()
}

// RemoveAsset deletes an asset; its notifications stop.
func (f *Fake) RemoveAsset(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.assets, name)
	for k := range f.notify {
		if k.asset == name {
			delete(f.notify, k)
		}
	}
	f.touch()
}

func (f *Fake) publishEvent(ctx context.Context, k notifyKey, name string, payload []byte) error {
	f.checkWire("telemetry "+name, name, payload)
	topic := "akri/connector/resources/telemetry/" + k.client + "/" + k.device + "/" + k.endpoint + "/" + name
	if err := f.tel.Send(ctx, topic, payload, 1, 10*time.Second); err != nil {
		return fmt.Errorf("adr fake: %w", err)
	}
	return nil
}

// onlyEndpoint returns d with only the named inbound endpoint.
func onlyEndpoint(d adr.Device, endpoint string) adr.Device {
	if ep := d.Inbound(endpoint); ep != nil {
		eps := *d.Endpoints
		eps.Inbound = map[string]adr.InboundEndpoint{endpoint: *ep}
		d.Endpoints = &eps
	}
	return d
}

func (f *Fake) violation(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.violations = append(f.violations, fmt.Sprintf(format, args...))
	f.touch()
}

func (f *Fake) onTelemetry(m mqttclient.Message) {
	parts := strings.Split(m.Topic, "/")
	if len(parts) != 8 {
		return
	}
	name := parts[7]
	if name == "deviceUpdateEvent" || name == "assetUpdateEvent" {
		return // our own notifications
	}
	for _, p := range []string{aiorpc.PropTimestamp, aiorpc.PropProtocolVersion, aiorpc.PropSourceID} {
		if _, ok := m.Property(p); !ok {
			f.violation("telemetry %s: no %s user property", m.Topic, p)
		}
	}
	if m.ContentType != aiorpc.ContentTypeJSON || !m.UTF8Payload || m.MessageExpiry == 0 {
		f.violation("telemetry %s: content type %q, payload format indicator %v, expiry %d; want application/json, 1, > 0",
			m.Topic, m.ContentType, m.UTF8Payload, m.MessageExpiry)
	}
	f.checkWire("telemetry "+name, name, m.Payload)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.health = append(f.health, HealthReport{
		ClientID: parts[4], Device: parts[5], Endpoint: parts[6], Name: name,
		Payload: json.RawMessage(slices.Clone(m.Payload)), Message: m,
	})
	f.touch()
}

func (f *Fake) onRequest(m mqttclient.Message) {
	arrived := time.Now()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.wg.Add(1)
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		f.serve(m, arrived)
	}()
}

// serve validates and answers one request. The call is recorded before the
// response is sent, so a client that got its answer finds its call recorded.
func (f *Fake) serve(m mqttclient.Message, arrived time.Time) {
	call := parseTopic(m)
	call.Request = m
	out := f.answer(&call, arrived)
	if out != nil {
		call.Status = rpcdouble.Status(out)
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.touch()
	f.mu.Unlock()
	if out == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.client.Publish(ctx, out); err != nil {
		f.log.Warn().Err(err).Str("topic", out.Topic).Msg("adr fake could not respond")
	}
}

func parseTopic(m mqttclient.Message) Call {
	parts := strings.Split(m.Topic, "/")
	if strings.HasPrefix(m.Topic, "adr/") {
		return Call{Command: parts[len(parts)-1]}
	}
	return Call{ClientID: parts[3], Device: parts[4], Endpoint: parts[5], Command: parts[6]}
}

// answer returns the response to send, or nil for none.
func (f *Fake) answer(call *Call, arrived time.Time) *mqttclient.Message {
	m := call.Request
	if m.ResponseTopic == "" || strings.ContainsAny(m.ResponseTopic, "+#") {
		f.violation("%s: response topic %q missing or invalid; request dropped", m.Topic, m.ResponseTopic)
		return nil
	}
	if call.ClientID != "" && m.ResponseTopic != aiorpc.ResponseTopic(call.ClientID, m.Topic) {
		f.violation("%s: response topic %q, want %q", m.Topic, m.ResponseTopic, aiorpc.ResponseTopic(call.ClientID, m.Topic))
	}
	if m.QoS != 1 {
		f.violation("%s: request QoS %d, want 1", m.Topic, m.QoS)
	}
	f.checkRequestProperties(call)

	dup, isDup := f.replies.Replayed(m)
	if isDup {
		return rpcdouble.Address(m, dup, arrived)
	}

	resp := f.handle(call)
	if resp == nil {
		return nil
	}
	rpcdouble.Stamp(resp, f.clock.Now())
	f.replies.Keep(m, resp, arrived)
	return rpcdouble.Address(m, resp, arrived)
}

// checkRequestProperties records deviations from the invoker conventions
// that the real executors tolerate.
func (f *Fake) checkRequestProperties(call *Call) {
	m := call.Request
	for _, p := range []string{aiorpc.PropSourceID, aiorpc.PropTimestamp, aiorpc.PropProtocolVersion} {
		if _, ok := m.Property(p); !ok {
			f.violation("%s: no %s user property", m.Topic, p)
		}
	}
	if ts, ok := m.Property(aiorpc.PropTimestamp); ok {
		if _, err := aiorpc.ParseTimestamp(ts); err != nil {
			f.violation("%s: %v", m.Topic, err)
		}
	}
	if src, ok := m.Property(aiorpc.PropSourceID); ok && call.ClientID != "" && src != call.ClientID {
		f.violation("%s: __srcId %q, want the client id %q", m.Topic, src, call.ClientID)
	}
	if v, ok := m.Property(aiorpc.PropHighPriority); !ok || v != "" {
		f.violation("%s: $high_priority user property missing or not empty", m.Topic)
	}
	noBody := call.Command == "getDevice" || call.Command == "getDeviceStatus"
	switch {
	case noBody && (len(m.Payload) != 0 || m.ContentType != "" || m.UTF8Payload):
		f.violation("%s: %s must have an empty payload without content type", m.Topic, call.Command)
	case !noBody && (m.ContentType != aiorpc.ContentTypeJSON || !m.UTF8Payload):
		f.violation("%s: content type %q, payload format indicator %v; want application/json, 1", m.Topic, m.ContentType, m.UTF8Payload)
	}
}

// jsonResponse is a 200 response with a JSON payload.
func jsonResponse(payload []byte) *mqttclient.Message {
	m := rpcdouble.StatusResponse(200)
	m.Payload = payload
	m.ContentType = aiorpc.ContentTypeJSON
	m.UTF8Payload = true
	return m
}

// handle checks the request like the real executor and computes the
// response; nil means no response.
func (f *Fake) handle(call *Call) *mqttclient.Message {
	m := call.Request
	if refused := rpcdouble.CheckHeaders(m, func(ct string) bool { return ct == aiorpc.ContentTypeJSON }); refused != nil {
		return refused
	}

	f.mu.Lock()
	var fault *Fault
	if q := f.faults[call.Command]; len(q) > 0 {
		fl := q[0]
		fault = &fl
		if q[0].Times--; q[0].Times <= 0 {
			f.faults[call.Command] = q[1:]
		}
	}
	f.mu.Unlock()
	if fault != nil {
		switch {
		case fault.Drop:
			return nil
		case fault.Response != "":
			return jsonResponse([]byte(fault.Response))
		case fault.Code != "":
			return f.serviceError(call.Command, fault.Code, fault.Message)
		default:
			kv := []string{aiorpc.PropStatusMessage, fault.Message}
			if fault.ApplicationError {
				kv = append(kv, aiorpc.PropIsApplicationError, "true")
			}
			return rpcdouble.StatusResponse(fault.Status, kv...)
		}
	}

	if req := requestSchema(call.Command); req != "" {
		if err := f.wire.validate(req, m.Payload); err != nil {
			f.violation("%s: request payload: %v", m.Topic, err)
			return rpcdouble.StatusResponse(400, aiorpc.PropStatusMessage, "Invalid request payload: "+err.Error())
		}
	}
	resp := f.dispatch(call)
	if resp != nil && resp.Payload != nil {
		if name := responseSchema(call.Command); name != "" {
			if err := f.wire.validate(name, resp.Payload); err != nil {
				f.violation("%s: fake's own response payload: %v", m.Topic, err)
			}
		}
	}
	return resp
}

// checkWire validates a telemetry payload when wire schemas are loaded.
func (f *Fake) checkWire(what, name string, payload []byte) {
	if schema := telemetrySchema(name); schema != "" {
		if err := f.wire.validate(schema, payload); err != nil {
			f.violation("%s: %v", what, err)
		}
	}
}

func (f *Fake) serviceError(command, code, message string) *mqttclient.Message {
	payload, _ := json.Marshal(map[string]any{command + "Error": map[string]string{
		"code": code, "message": message, "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
	}})
	return jsonResponse(payload)
}

func result(key string, v any) *mqttclient.Message {
	payload, err := json.Marshal(map[string]any{key: v})
	if err != nil {
		panic(err) // our own types always marshal
	}
	return jsonResponse(payload)
}
