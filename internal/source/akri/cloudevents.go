package akri

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/plan"
)

// cloudEvents completes a dataset's messages with the properties the AIO
// SDKs send (contract §7): the telemetry properties, and the CloudEvents
// set, with dataschema once the dataset's schema is registered.
type cloudEvents struct {
	clock    *aiorpc.Clock
	clientID string
	fixed    []mqttclient.UserProperty // specversion, type, source, subject, refs
	schema   atomic.Pointer[string]    // dataschema, once registered
}

func newCloudEvents(clock *aiorpc.Clock, clientID string, ep *plan.Endpoint, a *plan.Asset, d *plan.Dataset) *cloudEvents {
	ce := &cloudEvents{clock: clock, clientID: clientID}
	typ := "DataSet"
	if d.TypeRef != "" {
		typ += "/" + d.TypeRef
	}
	source := "ms-aio:" + identity(ep.External, ep.UUID, ep.Device)
	if ds := strings.TrimPrefix(d.Source, "/"); ds != "" {
		if _, err := url.Parse(source + "/" + ds); err == nil {
			source += "/" + ds
		}
	}
	ce.fixed = []mqttclient.UserProperty{
		{Key: "specversion", Value: "1.0"},
		{Key: "type", Value: typ},
		{Key: "source", Value: source},
		{Key: "subject", Value: identity(a.External, a.UUID, a.Name) + "/" + d.Name},
	}
	if ep.UUID != "" {
		ce.fixed = append(ce.fixed, mqttclient.UserProperty{Key: "aiodeviceref", Value: "ms-aio:" + ep.UUID + "/" + ep.Name})
	}
	if a.UUID != "" {
		ce.fixed = append(ce.fixed, mqttclient.UserProperty{Key: "aioassetref", Value: "ms-aio:" + a.UUID})
	}
	return ce
}

// identity is the external id when it is set and differs from the uuid,
// else the resource name.
func identity(external, uuid, name string) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("-", "", "{", "", "}", "").Replace(s))
	}
	if external != "" && norm(external) != norm(uuid) {
		return external
	}
	return name
}

func (ce *cloudEvents) setSchema(ref adr.MessageSchemaReference) {
	s := "aio-sr://" + ref.SchemaRegistryNamespace + "/" + ref.SchemaName + ":" + ref.SchemaVersion
	ce.schema.Store(&s)
}

func (ce *cloudEvents) decorate(m *mqttclient.Message) {
	props := make([]mqttclient.UserProperty, 0, len(m.UserProperties)+len(ce.fixed)+6)
	props = append(props, m.UserProperties...)
	props = append(props,
		mqttclient.UserProperty{Key: "__ts", Value: ce.clock.Now()},
		mqttclient.UserProperty{Key: "__protVer", Value: "1.0"},
		mqttclient.UserProperty{Key: "__srcId", Value: ce.clientID},
	)
	props = append(props, ce.fixed...)
	at := m.Time
	if at.IsZero() {
		at = time.Now()
	}
	props = append(props,
		mqttclient.UserProperty{Key: "id", Value: newID()},
		mqttclient.UserProperty{Key: "time", Value: at.UTC().Format(time.RFC3339Nano)},
	)
	if s := ce.schema.Load(); s != nil {
		props = append(props, mqttclient.UserProperty{Key: "dataschema", Value: *s})
	}
	m.UserProperties = props
}

// newID is a random (version 4) UUID.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
