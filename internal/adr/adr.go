// Package adr holds the Azure Device Registry resource model: devices, their
// inbound endpoints, assets and their datasets, exactly as the ADR service
// sends them as JSON and as the Device and Asset custom resources carry them
// under spec. Field names are the ADR JSON names. Configuration fields that
// ADR keeps as stringified JSON stay strings here; the plan package reads them.
package adr

import (
	"encoding/json"
	"time"
)

// AuthMethod is how the connector authenticates to an inbound endpoint.
type AuthMethod string

// Authentication methods of a device inbound endpoint.
const (
	AuthAnonymous        AuthMethod = "Anonymous"
	AuthUsernamePassword AuthMethod = "UsernamePassword"
	AuthCertificate      AuthMethod = "Certificate"
)

// Target is where a dataset's messages go.
type Target string

// Dataset destination targets.
const (
	TargetMqtt             Target = "Mqtt"
	TargetBrokerStateStore Target = "BrokerStateStore"
	TargetStorage          Target = "Storage"
)

// QoS is the MQTT quality of service of a destination.
type QoS string

// Destination QoS values.
const (
	Qos0 QoS = "Qos0"
	Qos1 QoS = "Qos1"
)

// Retain says whether the broker keeps a destination's last message.
type Retain string

// Destination retain values.
const (
	RetainKeep  Retain = "Keep"
	RetainNever Retain = "Never"
)

// Device is an ADR device. It carries no name: the name comes from the
// resource metadata, the ADR topic or the mounted file name.
type Device struct {
	Attributes             map[string]string `json:"attributes,omitempty"`
	DiscoveredDeviceRef    string            `json:"discoveredDeviceRef,omitempty"`
	Enabled                *bool             `json:"enabled,omitempty"`
	Endpoints              *DeviceEndpoints  `json:"endpoints,omitempty"`
	ExternalDeviceID       string            `json:"externalDeviceId,omitempty"`
	LastTransitionTime     *time.Time        `json:"lastTransitionTime,omitempty"`
	Manufacturer           string            `json:"manufacturer,omitempty"`
	Model                  string            `json:"model,omitempty"`
	OperatingSystem        string            `json:"operatingSystem,omitempty"`
	OperatingSystemVersion string            `json:"operatingSystemVersion,omitempty"`
	UUID                   string            `json:"uuid,omitempty"`
	Version                *uint64           `json:"version,omitempty"`
}

// IsEnabled reports whether the device may be used; absent means enabled.
func (d *Device) IsEnabled() bool { return d.Enabled == nil || *d.Enabled }

// Inbound returns the named inbound endpoint, or nil.
func (d *Device) Inbound(name string) *InboundEndpoint {
	if d.Endpoints == nil {
		return nil
	}
	ep, ok := d.Endpoints.Inbound[name]
	if !ok {
		return nil
	}
	return &ep
}

// DeviceEndpoints holds a device's inbound and outbound endpoints.
type DeviceEndpoints struct {
	Inbound  map[string]InboundEndpoint `json:"inbound,omitempty"`
	Outbound json.RawMessage            `json:"outbound,omitempty"`
}

// InboundEndpoint is one endpoint the connector reads from.
type InboundEndpoint struct {
	Address                 string          `json:"address"`
	EndpointType            string          `json:"endpointType"`
	AdditionalConfiguration string          `json:"additionalConfiguration,omitempty"`
	Authentication          *Authentication `json:"authentication,omitempty"`
	TrustSettings           *TrustSettings  `json:"trustSettings,omitempty"`
	Version                 string          `json:"version,omitempty"`
}

// Authentication says how the connector authenticates to an endpoint. The
// secret names are references, never the secrets themselves.
type Authentication struct {
	Method                      AuthMethod                   `json:"method"`
	UsernamePasswordCredentials *UsernamePasswordCredentials `json:"usernamePasswordCredentials,omitempty"`
	X509Credentials             *X509Credentials             `json:"x509Credentials,omitempty"`
}

// UsernamePasswordCredentials names the secrets holding a user name and password.
type UsernamePasswordCredentials struct {
	UsernameSecretName string `json:"usernameSecretName"`
	PasswordSecretName string `json:"passwordSecretName"`
}

// X509Credentials names the secrets holding a client certificate.
type X509Credentials struct {
	CertificateSecretName              string `json:"certificateSecretName"`
	IntermediateCertificatesSecretName string `json:"intermediateCertificatesSecretName,omitempty"`
	KeySecretName                      string `json:"keySecretName,omitempty"`
}

// TrustSettings names the trust list for an endpoint's server certificate.
type TrustSettings struct {
	TrustList string `json:"trustList,omitempty"`
}

// Asset is an ADR asset.
type Asset struct {
	DeviceRef                            DeviceRef         `json:"deviceRef"`
	AssetTypeRefs                        []string          `json:"assetTypeRefs,omitempty"`
	Attributes                           map[string]string `json:"attributes,omitempty"`
	Description                          string            `json:"description,omitempty"`
	DisplayName                          string            `json:"displayName,omitempty"`
	DocumentationURI                     string            `json:"documentationUri,omitempty"`
	Enabled                              *bool             `json:"enabled,omitempty"`
	ExternalAssetID                      string            `json:"externalAssetId,omitempty"`
	HardwareRevision                     string            `json:"hardwareRevision,omitempty"`
	LastTransitionTime                   *time.Time        `json:"lastTransitionTime,omitempty"`
	Manufacturer                         string            `json:"manufacturer,omitempty"`
	ManufacturerURI                      string            `json:"manufacturerUri,omitempty"`
	Model                                string            `json:"model,omitempty"`
	ProductCode                          string            `json:"productCode,omitempty"`
	SerialNumber                         string            `json:"serialNumber,omitempty"`
	SoftwareRevision                     string            `json:"softwareRevision,omitempty"`
	DiscoveredAssetRefs                  []string          `json:"discoveredAssetRefs,omitempty"`
	UUID                                 string            `json:"uuid,omitempty"`
	Version                              *uint64           `json:"version,omitempty"`
	DefaultDatasetsConfiguration         string            `json:"defaultDatasetsConfiguration,omitempty"`
	DefaultDatasetsDestinations          []Destination     `json:"defaultDatasetsDestinations,omitempty"`
	DefaultEventsConfiguration           string            `json:"defaultEventsConfiguration,omitempty"`
	DefaultEventsDestinations            json.RawMessage   `json:"defaultEventsDestinations,omitempty"`
	DefaultStreamsConfiguration          string            `json:"defaultStreamsConfiguration,omitempty"`
	DefaultStreamsDestinations           json.RawMessage   `json:"defaultStreamsDestinations,omitempty"`
	DefaultManagementGroupsConfiguration string            `json:"defaultManagementGroupsConfiguration,omitempty"`
	Datasets                             []Dataset         `json:"datasets,omitempty"`
	EventGroups                          []EventGroup      `json:"eventGroups,omitempty"`
	Streams                              []Stream          `json:"streams,omitempty"`
	ManagementGroups                     []ManagementGroup `json:"managementGroups,omitempty"`
}

// EventGroup is a group of events an asset emits.
type EventGroup struct {
	Name                    string          `json:"name"`
	DataSource              string          `json:"dataSource,omitempty"`
	TypeRef                 string          `json:"typeRef,omitempty"`
	EventGroupConfiguration string          `json:"eventGroupConfiguration,omitempty"`
	DefaultDestinations     json.RawMessage `json:"defaultDestinations,omitempty"`
	Events                  []Event         `json:"events,omitempty"`
}

// Event is one event of an event group.
type Event struct {
	Name               string          `json:"name"`
	DataSource         string          `json:"dataSource,omitempty"`
	TypeRef            string          `json:"typeRef,omitempty"`
	EventConfiguration string          `json:"eventConfiguration,omitempty"`
	Destinations       json.RawMessage `json:"destinations,omitempty"`
}

// Stream is a stream of an asset.
type Stream struct {
	Name                string          `json:"name"`
	TypeRef             string          `json:"typeRef,omitempty"`
	StreamConfiguration string          `json:"streamConfiguration,omitempty"`
	Destinations        json.RawMessage `json:"destinations,omitempty"`
}

// ManagementGroup is a group of management actions: what a caller can have
// the device do.
type ManagementGroup struct {
	Name                         string             `json:"name"`
	DataSource                   string             `json:"dataSource,omitempty"`
	TypeRef                      string             `json:"typeRef,omitempty"`
	ManagementGroupConfiguration string             `json:"managementGroupConfiguration,omitempty"`
	DefaultTopic                 string             `json:"defaultTopic,omitempty"`
	DefaultTimeoutInSeconds      *int64             `json:"defaultTimeoutInSeconds,omitempty"`
	Actions                      []ManagementAction `json:"actions,omitempty"`
}

// ActionType is the kind of a management action.
type ActionType string

// Action types.
const (
	ActionCall  ActionType = "Call"
	ActionRead  ActionType = "Read"
	ActionWrite ActionType = "Write"
)

// ManagementAction is one management action.
type ManagementAction struct {
	Name                string     `json:"name"`
	ActionType          ActionType `json:"actionType"`
	TargetURI           string     `json:"targetUri"`
	Topic               string     `json:"topic,omitempty"`
	TimeoutInSeconds    *int64     `json:"timeoutInSeconds,omitempty"`
	TypeRef             string     `json:"typeRef,omitempty"`
	ActionConfiguration string     `json:"actionConfiguration,omitempty"`
}

// IsEnabled reports whether the asset may be sampled; absent means enabled.
func (a *Asset) IsEnabled() bool { return a.Enabled == nil || *a.Enabled }

// DeviceRef names the device and inbound endpoint an asset reads from.
type DeviceRef struct {
	DeviceName   string `json:"deviceName"`
	EndpointName string `json:"endpointName"`
}

// Dataset is a set of data points sampled and published together.
type Dataset struct {
	Name                 string        `json:"name"`
	DataSource           string        `json:"dataSource,omitempty"`
	TypeRef              string        `json:"typeRef,omitempty"`
	DatasetConfiguration string        `json:"datasetConfiguration,omitempty"`
	Destinations         []Destination `json:"destinations,omitempty"`
	DataPoints           []DataPoint   `json:"dataPoints,omitempty"`
}

// DataPoint is one value of a dataset.
type DataPoint struct {
	Name                   string `json:"name"`
	DataSource             string `json:"dataSource,omitempty"`
	TypeRef                string `json:"typeRef,omitempty"`
	DataPointConfiguration string `json:"dataPointConfiguration,omitempty"`
}

// Destination says where a dataset's messages go.
type Destination struct {
	Target        Target                   `json:"target"`
	Configuration DestinationConfiguration `json:"configuration"`
}

// DestinationConfiguration holds the settings of one destination.
type DestinationConfiguration struct {
	Topic  string  `json:"topic,omitempty"`
	Qos    QoS     `json:"qos,omitempty"`
	Retain Retain  `json:"retain,omitempty"`
	TTL    *uint64 `json:"ttl,omitempty"`
	Key    string  `json:"key,omitempty"`
	Path   string  `json:"path,omitempty"`
}
