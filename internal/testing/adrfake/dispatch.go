package adrfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/rpcdouble"
)

// decodeStrict decodes a request payload, rejecting unknown fields.
func decodeStrict(payload []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func badPayload(err error) *mqttclient.Message {
	return rpcdouble.StatusResponse(400, aiorpc.PropStatusMessage, "Invalid request payload: "+err.Error())
}

// dispatch runs one command on the stored resources.
func (f *Fake) dispatch(call *Call) *mqttclient.Message {
	if call.ClientID == "" {
		return f.schemaRegistry(call)
	}
	cmd, dev, ep := call.Command, call.Device, call.Endpoint
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.touch()

	device, ok := f.devices[dev]
	if !ok || device.Inbound(ep) == nil {
		switch cmd {
		case "getDevice", "getDeviceStatus", "getAsset", "getAssetStatus", "updateDeviceStatus",
			"updateAssetStatus", "setNotificationPreferenceForDeviceUpdates", "setNotificationPreferenceForAssetUpdates":
			return f.serviceError(cmd, "KubeError", fmt.Sprintf("device %q with inbound endpoint %q not found", dev, ep))
		}
	}
	switch cmd {
	case "getDevice":
		return result("device", onlyEndpoint(device, ep))
	case "getDeviceStatus":
		return result("deviceStatus", onlyEndpointStatus(f.deviceStatus[dev], ep))
	case "getAsset", "getAssetStatus":
		return f.getAsset(call)
	case "updateDeviceStatus":
		return f.updateDeviceStatus(call)
	case "updateAssetStatus":
		return f.updateAssetStatus(call)
	case "setNotificationPreferenceForDeviceUpdates":
		return f.setDeviceNotifications(call)
	case "setNotificationPreferenceForAssetUpdates":
		return f.setAssetNotifications(call)
	}
	f.violations = append(f.violations, fmt.Sprintf("%s: unknown command %q; no response", call.Request.Topic, cmd))
	return nil
}

// The commands; f.mu is held.

func (f *Fake) getAsset(call *Call) *mqttclient.Message {
	var req struct {
		AssetName string `json:"assetName"`
	}
	if err := decodeStrict(call.Request.Payload, &req); err != nil {
		return badPayload(err)
	}
	if _, err := f.assetOf(call.Device, call.Endpoint, req.AssetName); err != nil {
		return f.serviceError(call.Command, "KubeError", err.Error())
	}
	if call.Command == "getAsset" {
		return result("asset", f.assets[req.AssetName])
	}
	return result("assetStatus", f.assetStatus[req.AssetName])
}

func (f *Fake) updateDeviceStatus(call *Call) *mqttclient.Message {
	var req struct {
		Update *adr.DeviceStatus `json:"deviceStatusUpdate"`
	}
	if err := decodeStrict(call.Request.Payload, &req); err != nil || req.Update == nil {
		return badPayload(fmt.Errorf("deviceStatusUpdate: %v", err))
	}
	// The inbound endpoint entries are merged; the rest is replaced.
	stored := f.deviceStatus[call.Device]
	next := adr.DeviceStatus{Config: req.Update.Config, Endpoints: &adr.DeviceStatusEndpoints{Inbound: map[string]adr.EndpointStatus{}}}
	if stored.Endpoints != nil {
		maps.Copy(next.Endpoints.Inbound, stored.Endpoints.Inbound)
	}
	if req.Update.Endpoints != nil {
		maps.Copy(next.Endpoints.Inbound, req.Update.Endpoints.Inbound)
	}
	f.deviceStatus[call.Device] = next
	return result("updatedDeviceStatus", onlyEndpointStatus(next, call.Endpoint))
}

func (f *Fake) updateAssetStatus(call *Call) *mqttclient.Message {
	var req struct {
		Update *struct {
			AssetName   string           `json:"assetName"`
			AssetStatus *adr.AssetStatus `json:"assetStatus"`
		} `json:"assetStatusUpdate"`
	}
	if err := decodeStrict(call.Request.Payload, &req); err != nil || req.Update == nil || req.Update.AssetStatus == nil {
		return badPayload(fmt.Errorf("assetStatusUpdate: %v", err))
	}
	if _, err := f.assetOf(call.Device, call.Endpoint, req.Update.AssetName); err != nil {
		return f.serviceError(call.Command, "KubeError", err.Error())
	}
	f.assetStatus[req.Update.AssetName] = *req.Update.AssetStatus
	return result("updatedAssetStatus", *req.Update.AssetStatus)
}

func (f *Fake) setDeviceNotifications(call *Call) *mqttclient.Message {
	var req struct {
		Pref string `json:"notificationPreferenceRequest"`
	}
	if err := decodeStrict(call.Request.Payload, &req); err != nil {
		return badPayload(err)
	}
	on, err := parsePreference(req.Pref)
	if err != nil {
		return f.serviceError(call.Command, "BadRequest", err.Error())
	}
	f.notify[notifyKey{client: call.ClientID, device: call.Device, endpoint: call.Endpoint}] = on
	return result("responsePayload", "Accepted")
}

func (f *Fake) setAssetNotifications(call *Call) *mqttclient.Message {
	var req struct {
		Pref *struct {
			AssetName string `json:"assetName"`
			Pref      string `json:"notificationPreference"`
		} `json:"notificationPreferenceRequest"`
	}
	if err := decodeStrict(call.Request.Payload, &req); err != nil || req.Pref == nil {
		return badPayload(fmt.Errorf("notificationPreferenceRequest: %v", err))
	}
	if _, err := f.assetOf(call.Device, call.Endpoint, req.Pref.AssetName); err != nil {
		return f.serviceError(call.Command, "KubeError", err.Error())
	}
	on, err := parsePreference(req.Pref.Pref)
	if err != nil {
		return f.serviceError(call.Command, "BadRequest", err.Error())
	}
	f.notify[notifyKey{client: call.ClientID, device: call.Device, endpoint: call.Endpoint, asset: req.Pref.AssetName}] = on
	return result("responsePayload", "Accepted")
}

// assetOf returns the named asset if it belongs to the device endpoint;
// f.mu must be held.
func (f *Fake) assetOf(dev, ep, name string) (adr.Asset, error) {
	a, ok := f.assets[name]
	if !ok {
		return adr.Asset{}, fmt.Errorf("asset %q not found", name)
	}
	if a.DeviceRef.DeviceName != dev || a.DeviceRef.EndpointName != ep {
		return adr.Asset{}, fmt.Errorf("asset %q belongs to %s/%s, not %s/%s", name, a.DeviceRef.DeviceName, a.DeviceRef.EndpointName, dev, ep)
	}
	return a, nil
}

func parsePreference(s string) (bool, error) {
	switch s {
	case "On":
		return true, nil
	case "Off":
		return false, nil
	}
	return false, fmt.Errorf("notification preference must be On or Off, got %q", s)
}

// onlyEndpointStatus returns s with only the named inbound endpoint.
func onlyEndpointStatus(s adr.DeviceStatus, endpoint string) adr.DeviceStatus {
	if s.Endpoints == nil {
		return s
	}
	out := adr.DeviceStatus{Config: s.Config, Endpoints: &adr.DeviceStatusEndpoints{}}
	if st, ok := s.Endpoints.Inbound[endpoint]; ok {
		out.Endpoints.Inbound = map[string]adr.EndpointStatus{endpoint: st}
	}
	return out
}

// schemaRegistry serves put and get.
func (f *Fake) schemaRegistry(call *Call) *mqttclient.Message {
	srError := func(code int, msg string) *mqttclient.Message {
		return result("error", map[string]any{"code": code, "message": msg})
	}
	switch call.Command {
	case "put":
		var req Schema
		if err := decodeStrict(call.Request.Payload, &req); err != nil {
			return badPayload(err)
		}
		if req.Name != "" || req.Namespace != "" {
			return srError(400, "name and namespace are not request fields")
		}
		if req.SchemaContent == "" || req.Version == "" || req.Format == "" || req.SchemaType == "" {
			return srError(400, "format, schemaType, schemaContent and version are required")
		}
		req.Name = SchemaName(req.SchemaContent)
		req.Namespace = DefaultSchemaNamespace
		f.mu.Lock()
		f.schemas[req.Name+"\x00"+req.Version] = req
		f.touch()
		f.mu.Unlock()
		return result("schema", req)
	case "get":
		var req struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		}
		if err := decodeStrict(call.Request.Payload, &req); err != nil {
			return badPayload(err)
		}
		f.mu.Lock()
		s, ok := f.schemas[req.Name+"\x00"+req.Version]
		f.mu.Unlock()
		if !ok {
			return srError(404, "schema not found")
		}
		return result("schema", s)
	}
	f.violation("%s: unknown schema registry command %q; no response", call.Request.Topic, call.Command)
	return nil
}

// SchemaName is the name the schema registry gives schemaContent: the
// uppercase hex SHA-256 of its bytes.
func SchemaName(schemaContent string) string {
	sum := sha256.Sum256([]byte(schemaContent))
	return fmt.Sprintf("%X", sum[:])
}
