// Package adrclient is the connector's client of the Azure Device Registry
// service and of the schema registry: the ADR commands over AIO RPC, the
// device and asset update notifications, runtime-health telemetry, status
// reporting by read-modify-write, and message-schema registration.
package adrclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/mqttclient"
)

// ADR command names.
const (
	CmdGetDevice                  = "getDevice"
	CmdGetDeviceStatus            = "getDeviceStatus"
	CmdGetAsset                   = "getAsset"
	CmdGetAssetStatus             = "getAssetStatus"
	CmdUpdateDeviceStatus         = "updateDeviceStatus"
	CmdUpdateAssetStatus          = "updateAssetStatus"
	CmdSetDeviceNotificationPrefs = "setNotificationPreferenceForDeviceUpdates"
	CmdSetAssetNotificationPrefs  = "setNotificationPreferenceForAssetUpdates"
	TelemetryDeviceUpdate         = "deviceUpdateEvent"
	TelemetryAssetUpdate          = "assetUpdateEvent"
	TelemetryDeviceEndpointHealth = "deviceEndpointRuntimeHealthEvent"
	TelemetryDatasetHealth        = "datasetRuntimeHealthEvent"
	TelemetryActionHealth         = "managementActionRuntimeHealthEvent"
	notificationAccepted          = "Accepted"
	commandTopicPrefix            = "akri/connector/resources/"
	telemetryTopicPrefix          = "akri/connector/resources/telemetry/"
	notificationPreferenceOn      = "On"
	notificationPreferenceOff     = "Off"
)

// CommandTopic is the ADR command topic
// "akri/connector/resources/<clientID>/<device>/<endpoint>/<command>". Asset
// commands use the device and endpoint of the asset's deviceRef.
func CommandTopic(clientID, device, endpoint, command string) string {
	return commandTopicPrefix + clientID + "/" + device + "/" + endpoint + "/" + command
}

// TelemetryTopic is the ADR telemetry topic
// "akri/connector/resources/telemetry/<clientID>/<device>/<endpoint>/<name>".
func TelemetryTopic(clientID, device, endpoint, name string) string {
	return telemetryTopicPrefix + clientID + "/" + device + "/" + endpoint + "/" + name
}

// ServiceError is an error the ADR service reports in band (with __stat 200)
// as "<command>Error".
type ServiceError struct {
	Command   string
	Code      string // BadRequest, KubeError, InternalError, SerializationError or Unauthorized
	Message   string
	Timestamp string // RFC 3339, as sent
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("adr service error %s: %s", e.Code, e.Message)
}

// ErrNotAccepted is wrapped when the service answers a notification
// preference request with something other than "Accepted".
var ErrNotAccepted = errors.New("notification preference not accepted")

// Options configure a Client or a SchemaRegistry.
type Options struct {
	// Timeout of one attempt of a command; default aiorpc.DefaultTimeout.
	Timeout time.Duration
	// Retry is the policy for transient failures; nil means
	// aiorpc.DefaultRetryPolicy(). In-band service errors are not retried.
	Retry  *aiorpc.RetryPolicy
	Logger zerolog.Logger
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return aiorpc.DefaultTimeout
	}
	return o.Timeout
}

func (o Options) retry() aiorpc.RetryPolicy {
	if o.Retry == nil {
		return aiorpc.DefaultRetryPolicy()
	}
	return *o.Retry
}

// Client calls the ADR service for the connector whose MQTT client id is the
// invoker's (CONNECTOR_ID).
type Client struct {
	mqtt     *mqttclient.Client
	inv      *aiorpc.Invoker
	tel      *aiorpc.TelemetrySender
	clientID string
	timeout  time.Duration
	retry    aiorpc.RetryPolicy
	log      zerolog.Logger
}

// New returns an ADR client. mqtt is the connection inv and tel use; it
// receives the notifications.
func New(mqtt *mqttclient.Client, inv *aiorpc.Invoker, tel *aiorpc.TelemetrySender, opts Options) *Client {
	return &Client{
		mqtt:     mqtt,
		inv:      inv,
		tel:      tel,
		clientID: inv.ClientID(),
		timeout:  opts.timeout(),
		retry:    opts.retry(),
		log:      opts.Logger,
	}
}

// GetDevice returns the device with only the given inbound endpoint.
func (c *Client) GetDevice(ctx context.Context, device, endpoint string) (adr.Device, error) {
	var d adr.Device
	err := c.call(ctx, device, endpoint, CmdGetDevice, nil, "device", &d)
	return d, err
}

// GetDeviceStatus returns the device's status with only the given inbound
// endpoint.
func (c *Client) GetDeviceStatus(ctx context.Context, device, endpoint string) (adr.DeviceStatus, error) {
	var s adr.DeviceStatus
	err := c.call(ctx, device, endpoint, CmdGetDeviceStatus, nil, "deviceStatus", &s)
	return s, err
}

// GetAsset returns an asset of the device endpoint.
func (c *Client) GetAsset(ctx context.Context, device, endpoint, asset string) (adr.Asset, error) {
	var a adr.Asset
	err := c.call(ctx, device, endpoint, CmdGetAsset, assetNameRequest{asset}, "asset", &a)
	return a, err
}

// GetAssetStatus returns an asset's status.
func (c *Client) GetAssetStatus(ctx context.Context, device, endpoint, asset string) (adr.AssetStatus, error) {
	var s adr.AssetStatus
	err := c.call(ctx, device, endpoint, CmdGetAssetStatus, assetNameRequest{asset}, "assetStatus", &s)
	return s, err
}

// UpdateDeviceStatus replaces the device's status (merging the inbound
// endpoint entry) and returns the status the service stored.
func (c *Client) UpdateDeviceStatus(ctx context.Context, device, endpoint string, s adr.DeviceStatus) (adr.DeviceStatus, error) {
	var out adr.DeviceStatus
	req := struct {
		DeviceStatusUpdate adr.DeviceStatus `json:"deviceStatusUpdate"`
	}{s}
	err := c.call(ctx, device, endpoint, CmdUpdateDeviceStatus, req, "updatedDeviceStatus", &out)
	return out, err
}

// UpdateAssetStatus replaces the asset's status and returns the status the
// service stored.
func (c *Client) UpdateAssetStatus(ctx context.Context, device, endpoint, asset string, s adr.AssetStatus) (adr.AssetStatus, error) {
	var out adr.AssetStatus
	type update struct {
		AssetName   string          `json:"assetName"`
		AssetStatus adr.AssetStatus `json:"assetStatus"`
	}
	req := struct {
		AssetStatusUpdate update `json:"assetStatusUpdate"`
	}{update{asset, s}}
	err := c.call(ctx, device, endpoint, CmdUpdateAssetStatus, req, "updatedAssetStatus", &out)
	return out, err
}

// SetDeviceNotifications turns deviceUpdateEvent notifications for the
// device endpoint on or off. Subscribe with OnDeviceUpdate before turning
// them on. An answer other than "Accepted" is an error wrapping
// ErrNotAccepted.
func (c *Client) SetDeviceNotifications(ctx context.Context, device, endpoint string, on bool) error {
	req := struct {
		Pref string `json:"notificationPreferenceRequest"`
	}{preference(on)}
	var answer string
	if err := c.call(ctx, device, endpoint, CmdSetDeviceNotificationPrefs, req, "responsePayload", &answer); err != nil {
		return err
	}
	return accepted(CmdSetDeviceNotificationPrefs, device, endpoint, answer)
}

// SetAssetNotifications turns assetUpdateEvent notifications for an asset of
// the device endpoint on or off. Subscribe with OnAssetUpdate before turning
// them on.
func (c *Client) SetAssetNotifications(ctx context.Context, device, endpoint, asset string, on bool) error {
	type pref struct {
		AssetName              string `json:"assetName"`
		NotificationPreference string `json:"notificationPreference"`
	}
	req := struct {
		Pref pref `json:"notificationPreferenceRequest"`
	}{pref{asset, preference(on)}}
	var answer string
	if err := c.call(ctx, device, endpoint, CmdSetAssetNotificationPrefs, req, "responsePayload", &answer); err != nil {
		return err
	}
	return accepted(CmdSetAssetNotificationPrefs, device, endpoint, answer)
}

func preference(on bool) string {
	if on {
		return notificationPreferenceOn
	}
	return notificationPreferenceOff
}

func accepted(cmd, device, endpoint, answer string) error {
	if !strings.EqualFold(answer, notificationAccepted) {
		return fmt.Errorf("%s %s/%s: service answered %q: %w", cmd, device, endpoint, answer, ErrNotAccepted)
	}
	return nil
}

type assetNameRequest struct {
	AssetName string `json:"assetName"`
}

// call invokes an ADR command. A nil req sends an empty payload without
// content type. The response must hold okKey (decoded into out) or
// "<command>Error" (returned as *ServiceError).
func (c *Client) call(ctx context.Context, device, endpoint, cmd string, req any, okKey string, out any) error {
	if err := c.prepare(ctx, cmd); err != nil {
		return fmt.Errorf("%s %s/%s: %w", cmd, device, endpoint, err)
	}
	var payload []byte
	if req != nil {
		var err error
		if payload, err = json.Marshal(req); err != nil {
			return fmt.Errorf("%s %s/%s: encode request: %w", cmd, device, endpoint, err)
		}
	}
	topic := CommandTopic(c.clientID, device, endpoint, cmd)
	resp, err := c.inv.InvokeWithRetry(ctx, topic, payload, req != nil, c.timeout, c.retry)
	if err != nil {
		return fmt.Errorf("%s %s/%s: %w", cmd, device, endpoint, err)
	}
	if err := decodeResult(resp, okKey, cmd+"Error", out); err != nil {
		return fmt.Errorf("%s %s/%s: %w", cmd, device, endpoint, err)
	}
	return nil
}

// prepare subscribes to the command's responses, for every device endpoint,
// before its first use.
func (c *Client) prepare(ctx context.Context, cmd string) error {
	return c.inv.Prepare(ctx, aiorpc.ResponseTopic(c.clientID, CommandTopic(c.clientID, "+", "+", cmd)))
}

// decodeResult decodes a DTDL result object holding exactly one of okKey and
// errKey.
func decodeResult(resp aiorpc.Response, okKey, errKey string, out any) error {
	if resp.ContentType != "" && resp.ContentType != aiorpc.ContentTypeJSON {
		return fmt.Errorf("response content type %q, want %s", resp.ContentType, aiorpc.ContentTypeJSON)
	}
	if len(bytes.TrimSpace(resp.Payload)) == 0 {
		return fmt.Errorf("empty response (status %d), want %q", resp.Status, okKey)
	}
	var result map[string]json.RawMessage
	if err := json.Unmarshal(resp.Payload, &result); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	if raw, ok := result[errKey]; ok && string(raw) != "null" {
		var se struct {
			Code      string `json:"code"`
			Message   string `json:"message"`
			Timestamp string `json:"timestamp"`
		}
		if err := json.Unmarshal(raw, &se); err != nil {
			return fmt.Errorf("decode %s: %w", errKey, err)
		}
		return &ServiceError{Command: strings.TrimSuffix(errKey, "Error"), Code: se.Code, Message: se.Message, Timestamp: se.Timestamp}
	}
	raw, ok := result[okKey]
	if !ok {
		return fmt.Errorf("response has neither %q nor %q", okKey, errKey)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode %s: %w", okKey, err)
	}
	return nil
}
