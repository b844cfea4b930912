package adr

import "time"

// Runtime health status values.
const (
	HealthAvailable   = "Available"
	HealthUnavailable = "Unavailable"
)

// ConfigStatus says which resource version the connector applied and the
// last configuration error, if any. Healthy means Error is nil.
type ConfigStatus struct {
	Version            *uint64      `json:"version,omitempty"`
	LastTransitionTime *time.Time   `json:"lastTransitionTime,omitempty"`
	Error              *ConfigError `json:"error,omitempty"`
}

// ConfigError is an error reported in a status.
type ConfigError struct {
	Code    string              `json:"code,omitempty"` // e.g. "400"
	Message string              `json:"message,omitempty"`
	Details []ConfigErrorDetail `json:"details,omitempty"`
}

// ConfigErrorDetail is one detail of a ConfigError.
type ConfigErrorDetail struct {
	Code          string `json:"code,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
	Info          string `json:"info,omitempty"`
	Message       string `json:"message,omitempty"`
}

// DeviceStatus is a device's status as getDeviceStatus returns it: the
// device configuration and the status of the requested inbound endpoint.
type DeviceStatus struct {
	Config    *ConfigStatus          `json:"config,omitempty"`
	Endpoints *DeviceStatusEndpoints `json:"endpoints,omitempty"`
}

// DeviceStatusEndpoints holds the inbound endpoint statuses by name.
type DeviceStatusEndpoints struct {
	Inbound map[string]EndpointStatus `json:"inbound,omitempty"`
}

// EndpointStatus is one inbound endpoint's status; healthy means Error is nil.
type EndpointStatus struct {
	Error *ConfigError `json:"error,omitempty"`
}

// AssetStatus is an asset's status.
type AssetStatus struct {
	Config           *ConfigStatus           `json:"config,omitempty"`
	Datasets         []DatasetStatus         `json:"datasets,omitempty"`
	EventGroups      []EventGroupStatus      `json:"eventGroups,omitempty"`
	ManagementGroups []ManagementGroupStatus `json:"managementGroups,omitempty"`
	Streams          []DatasetStatus         `json:"streams,omitempty"`
}

// DatasetStatus is the status of one dataset, event or stream (the service
// calls it AssetDatasetEventStreamStatus).
type DatasetStatus struct {
	Name                   string                  `json:"name"`
	Error                  *ConfigError            `json:"error,omitempty"`
	MessageSchemaReference *MessageSchemaReference `json:"messageSchemaReference,omitempty"`
}

// EventGroupStatus is the status of an event group's events.
type EventGroupStatus struct {
	Name   string          `json:"name"`
	Events []DatasetStatus `json:"events,omitempty"`
}

// ManagementGroupStatus is the status of a management group's actions.
type ManagementGroupStatus struct {
	Name    string                   `json:"name"`
	Actions []ManagementActionStatus `json:"actions,omitempty"`
}

// ManagementActionStatus is the status of one management action.
type ManagementActionStatus struct {
	Name                           string                  `json:"name"`
	Error                          *ConfigError            `json:"error,omitempty"`
	RequestMessageSchemaReference  *MessageSchemaReference `json:"requestMessageSchemaReference,omitempty"`
	ResponseMessageSchemaReference *MessageSchemaReference `json:"responseMessageSchemaReference,omitempty"`
}

// MessageSchemaReference names a schema in the schema registry.
type MessageSchemaReference struct {
	SchemaName              string `json:"schemaName"`
	SchemaRegistryNamespace string `json:"schemaRegistryNamespace"`
	SchemaVersion           string `json:"schemaVersion"`
}

// RuntimeHealth is the runtime health the connector reports for a device
// endpoint or a dataset. Version is the device's or asset's version.
type RuntimeHealth struct {
	Version        uint64    `json:"version"`
	Status         string    `json:"status"` // HealthAvailable or HealthUnavailable
	LastUpdateTime time.Time `json:"lastUpdateTime"`
	Message        string    `json:"message,omitempty"`
	ReasonCode     string    `json:"reasonCode,omitempty"`
}

// SetEndpointHealthy marks the device configuration at version and the
// inbound endpoint as healthy, with the transition time now. Other endpoints
// are kept.
func (s *DeviceStatus) SetEndpointHealthy(endpoint string, version *uint64, now time.Time) {
	s.setEndpoint(endpoint, version, now, nil)
}

// SetEndpointError records message as the error of the device configuration
// and of the inbound endpoint.
func (s *DeviceStatus) SetEndpointError(endpoint string, version *uint64, now time.Time, message string) {
	s.setEndpoint(endpoint, version, now, &ConfigError{Message: message})
}

func (s *DeviceStatus) setEndpoint(endpoint string, version *uint64, now time.Time, e *ConfigError) {
	s.Config = &ConfigStatus{Version: version, LastTransitionTime: &now, Error: e}
	if s.Endpoints == nil {
		s.Endpoints = &DeviceStatusEndpoints{}
	}
	if s.Endpoints.Inbound == nil {
		s.Endpoints.Inbound = map[string]EndpointStatus{}
	}
	var epErr *ConfigError
	if e != nil {
		c := *e
		epErr = &c
	}
	s.Endpoints.Inbound[endpoint] = EndpointStatus{Error: epErr}
}

// SetConfig sets the asset configuration status: applied version, transition
// time now, and the error (nil when healthy).
func (s *AssetStatus) SetConfig(version *uint64, now time.Time, e *ConfigError) {
	s.Config = &ConfigStatus{Version: version, LastTransitionTime: &now, Error: e}
}

// SetDataset replaces the dataset entry with d's name, or appends d. Other
// entries are kept in order.
func (s *AssetStatus) SetDataset(d DatasetStatus) {
	for i := range s.Datasets {
		if s.Datasets[i].Name == d.Name {
			s.Datasets[i] = d
			return
		}
	}
	s.Datasets = append(s.Datasets, d)
}

// Dataset returns the status entry of the named dataset, or nil.
func (s *AssetStatus) Dataset(name string) *DatasetStatus {
	for i := range s.Datasets {
		if s.Datasets[i].Name == name {
			return &s.Datasets[i]
		}
	}
	return nil
}
