package aiorpc

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/http-connector/http-connector/internal/mqttclient"
)

// DefaultTelemetryExpiry is the message expiry of telemetry when none is
// given.
const DefaultTelemetryExpiry = 10 * time.Second

// TelemetrySender publishes JSON telemetry with the AIO user properties
// (__ts, __protVer, __srcId).
type TelemetrySender struct {
	client   *mqttclient.Client
	clientID string
	clock    *Clock
}

// NewTelemetrySender returns a sender for the MQTT client whose client id is
// clientID.
func NewTelemetrySender(client *mqttclient.Client, clientID string, clock *Clock) *TelemetrySender {
	return &TelemetrySender{client: client, clientID: clientID, clock: clock}
}

// Send publishes payload (JSON) to topic with the given QoS and message
// expiry (rounded up to seconds; DefaultTelemetryExpiry when not positive).
// For QoS 1 it waits for the broker's acknowledgement.
func (s *TelemetrySender) Send(ctx context.Context, topic string, payload []byte, qos byte, expiry time.Duration) error {
	if expiry <= 0 {
		expiry = DefaultTelemetryExpiry
	}
	msg := &mqttclient.Message{
		Topic:         topic,
		Payload:       payload,
		QoS:           qos,
		MessageExpiry: uint32(math.Ceil(expiry.Seconds())),
		ContentType:   ContentTypeJSON,
		UTF8Payload:   true,
		UserProperties: []mqttclient.UserProperty{
			{Key: PropTimestamp, Value: s.clock.Now()},
			{Key: PropProtocolVersion, Value: ProtocolVersion},
			{Key: PropSourceID, Value: s.clientID},
		},
	}
	if err := s.client.Publish(ctx, msg); err != nil {
		return fmt.Errorf("send telemetry to %s: %w", topic, err)
	}
	return nil
}
