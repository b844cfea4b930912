package adrclient

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/mqttclient"
)

// OnDeviceUpdate subscribes to deviceUpdateEvent notifications for every
// device endpoint of this connector and calls fn with the device and endpoint
// names from the topic. fn runs on the MQTT receive path: it must hand work
// off rather than block. Call it before SetDeviceNotifications(on). Malformed
// notifications are logged and dropped.
func (c *Client) OnDeviceUpdate(ctx context.Context, fn func(device, endpoint string, d adr.Device)) error {
	return c.subscribeNotifications(ctx, TelemetryDeviceUpdate, func(device, endpoint string, m mqttclient.Message) error {
		var ev struct {
			Event *struct {
				DeviceName string      `json:"deviceName"`
				Device     *adr.Device `json:"device"`
			} `json:"deviceUpdateEvent"`
		}
		if err := json.Unmarshal(m.Payload, &ev); err != nil {
			return err
		}
		if ev.Event == nil || ev.Event.Device == nil {
			return fmt.Errorf("no deviceUpdateEvent.device")
		}
		fn(device, endpoint, *ev.Event.Device)
		return nil
	})
}

// OnAssetUpdate subscribes to assetUpdateEvent notifications and calls fn
// with the device and endpoint names from the topic and the asset name from
// the payload. fn runs on the MQTT receive path: it must hand work off
// rather than block. Call it before SetAssetNotifications(on).
func (c *Client) OnAssetUpdate(ctx context.Context, fn func(device, endpoint, asset string, a adr.Asset)) error {
	return c.subscribeNotifications(ctx, TelemetryAssetUpdate, func(device, endpoint string, m mqttclient.Message) error {
		var ev struct {
			Event *struct {
				AssetName string     `json:"assetName"`
				Asset     *adr.Asset `json:"asset"`
			} `json:"assetUpdateEvent"`
		}
		if err := json.Unmarshal(m.Payload, &ev); err != nil {
			return err
		}
		if ev.Event == nil || ev.Event.Asset == nil || ev.Event.AssetName == "" {
			return fmt.Errorf("no assetUpdateEvent.assetName or assetUpdateEvent.asset")
		}
		fn(device, endpoint, ev.Event.AssetName, *ev.Event.Asset)
		return nil
	})
}

func (c *Client) subscribeNotifications(ctx context.Context, name string, handle func(device, endpoint string, m mqttclient.Message) error) error {
	filter := TelemetryTopic(c.clientID, "+", "+", name)
	err := c.mqtt.Subscribe(ctx, filter, 1, func(m mqttclient.Message) {
		device, endpoint, ok := c.topicEndpoint(m.Topic)
		if !ok {
			c.log.Warn().Str("topic", m.Topic).Msg("adr notification on an unexpected topic")
			return
		}
		if err := handle(device, endpoint, m); err != nil {
			c.log.Warn().Err(err).Str("topic", m.Topic).Int("payload_bytes", len(m.Payload)).Msg("malformed adr notification dropped")
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", name, err)
	}
	return nil
}

// topicEndpoint extracts device and endpoint from
// akri/connector/resources/telemetry/<id>/<device>/<endpoint>/<name>.
func (c *Client) topicEndpoint(topic string) (device, endpoint string, ok bool) {
	rest, found := strings.CutPrefix(topic, telemetryTopicPrefix+c.clientID+"/")
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}
