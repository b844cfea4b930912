// Package akrimount reads what the Akri operator gives a connector pod: the
// environment variables, the connector configuration files, the folder of
// device endpoints and assets assigned to the pod, the broker's service
// account token and trust bundle, and the device endpoint credentials and
// trust lists. It does no network I/O; the MQTT connection is built from
// MQTTOptions by the caller.
package akrimount

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
)

// Environment variables set by the Akri operator.
const (
	EnvConnectorID                  = "CONNECTOR_ID"
	EnvConnectorNamespace           = "CONNECTOR_NAMESPACE"
	EnvConfigurationMountPath       = "CONNECTOR_CONFIGURATION_MOUNT_PATH"
	EnvSecretsMetadataMountPath     = "CONNECTOR_SECRETS_METADATA_MOUNT_PATH"
	EnvSecretsMountPath             = "CONNECTOR_SECRETS_MOUNT_PATH"
	EnvTrustSettingsMountPath       = "CONNECTOR_TRUST_SETTINGS_MOUNT_PATH"
	EnvBrokerTrustBundleMountPath   = "BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH"
	EnvBrokerSATMountPath           = "BROKER_SAT_MOUNT_PATH"
	EnvResourcesNameMountPath       = "ADR_RESOURCES_NAME_MOUNT_PATH"
	EnvDeviceTrustBundleMountPath   = "DEVICE_ENDPOINT_TLS_TRUST_BUNDLE_CA_CERT_MOUNT_PATH"
	EnvDeviceCredentialsMountPath   = "DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH"
	EnvExtensionResourceID          = "AZURE_EXTENSION_RESOURCEID"
	EnvOTLPGRPCMetricEndpoint       = "OTLP_GRPC_METRIC_ENDPOINT"
	EnvOTLPGRPCLogEndpoint          = "OTLP_GRPC_LOG_ENDPOINT"
	EnvOTLPGRPCTraceEndpoint        = "OTLP_GRPC_TRACE_ENDPOINT"
	EnvOTLPHTTPMetricEndpoint       = "OTLP_HTTP_METRIC_ENDPOINT"
	EnvOTLPHTTPLogEndpoint          = "OTLP_HTTP_LOG_ENDPOINT"
	EnvOTLPHTTPTraceEndpoint        = "OTLP_HTTP_TRACE_ENDPOINT"
	EnvFirstPartyMetricsCollectorCA = "FIRST_PARTY_OTLP_GRPC_METRICS_COLLECTOR_CA_PATH"
	EnvFirstPartyLogCollectorCA     = "FIRST_PARTY_OTLP_GRPC_LOG_COLLECTOR_CA_PATH"

	// The OpenTelemetry SDKs' standard variables, which the AIO
	// diagnostics settings may also set: the metrics endpoint (or the
	// endpoint of every signal) and its protocol (grpc or http/protobuf).
	EnvOTELMetricsEndpoint = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	EnvOTELEndpoint        = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvOTELMetricsProtocol = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
	EnvOTELProtocol        = "OTEL_EXPORTER_OTLP_PROTOCOL"
)

// Files in the connector configuration folder.
const (
	FileMQTTConnection          = "MQTT_CONNECTION_CONFIGURATION"
	FileDiagnostics             = "DIAGNOSTICS"
	FileAIOMetadata             = "AIO_METADATA"
	FileAdditionalConfiguration = "ADDITIONAL_CONNECTOR_CONFIGURATION"
	FilePersistentVolumes       = "PERSISTENT_VOLUME_MOUNT_PATH"
)

// Defaults for MQTT_CONNECTION_CONFIGURATION fields that are absent (the .NET
// SDK's defaults).
const (
	DefaultKeepAliveSeconds     = 60
	DefaultSessionExpirySeconds = 3600
	DefaultMaxInflightMessages  = 65535
)

// Environment is everything the operator configured for this pod. Paths are
// empty when the variable is unset.
type Environment struct {
	ConnectorID string
	Namespace   string

	ConfigurationDir     string // CONNECTOR_CONFIGURATION_MOUNT_PATH
	ResourcesDir         string // ADR_RESOURCES_NAME_MOUNT_PATH
	BrokerTrustBundleDir string // BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH
	BrokerSATFile        string // BROKER_SAT_MOUNT_PATH (a file)
	DeviceCredentialsDir string // DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH
	DeviceTrustBundleDir string // DEVICE_ENDPOINT_TLS_TRUST_BUNDLE_CA_CERT_MOUNT_PATH
	SecretsMetadataDir   string // CONNECTOR_SECRETS_METADATA_MOUNT_PATH
	SecretsDir           string // CONNECTOR_SECRETS_MOUNT_PATH
	TrustSettingsDir     string // CONNECTOR_TRUST_SETTINGS_MOUNT_PATH

	ExtensionResourceID string // AZURE_EXTENSION_RESOURCEID
	Observability       Observability

	MQTT MQTTConnection
	// LogLevel is the level from DIAGNOSTICS, or nil when the file or its
	// level is absent.
	LogLevel *zerolog.Level
	// AIOMetadata is AIO_METADATA, or nil when absent.
	AIOMetadata *AIOMetadata
	// AdditionalConfiguration is ADDITIONAL_CONNECTOR_CONFIGURATION verbatim
	// (connector-defined JSON), empty when absent.
	AdditionalConfiguration string
	// PersistentVolumes are the paths listed in PERSISTENT_VOLUME_MOUNT_PATH.
	PersistentVolumes []string
}

// Observability holds the optional OTLP settings. The connector pushes its
// metrics to MetricsEndpoint; it does not export logs or traces.
type Observability struct {
	GRPCMetricEndpoint, GRPCLogEndpoint, GRPCTraceEndpoint string
	HTTPMetricEndpoint, HTTPLogEndpoint, HTTPTraceEndpoint string
	MetricsCollectorCAFile, LogCollectorCAFile             string
	// OTELMetricsEndpoint is OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, else
	// OTEL_EXPORTER_OTLP_ENDPOINT with the OTLP/HTTP path /v1/metrics
	// appended as the OpenTelemetry specification says; OTELProtocol the
	// protocol their PROTOCOL variables name, "http/protobuf" if neither
	// is set.
	OTELMetricsEndpoint, OTELProtocol string
}

// MetricsEndpoint is where the metrics go, as a URL whose scheme says the
// protocol (grpc, grpcs, http or https), and the CA file that the
// collector's certificate must chain to (empty: the system's roots).
// Akri's own variables win: OTLP_GRPC_METRIC_ENDPOINT, then
// OTLP_HTTP_METRIC_ENDPOINT, then the OpenTelemetry standard ones, whose
// http(s) URL means gRPC when their protocol is grpc. Empty: no export.
func (o Observability) MetricsEndpoint() (endpoint, caFile string) {
	switch {
	case o.GRPCMetricEndpoint != "":
		return o.GRPCMetricEndpoint, o.MetricsCollectorCAFile
	case o.HTTPMetricEndpoint != "":
		return o.HTTPMetricEndpoint, o.MetricsCollectorCAFile
	case o.OTELMetricsEndpoint == "":
		return "", ""
	}
	ep := o.OTELMetricsEndpoint
	if o.OTELProtocol == "grpc" {
		if rest, ok := strings.CutPrefix(ep, "https://"); ok {
			ep = "grpcs://" + rest
		} else if rest, ok := strings.CutPrefix(ep, "http://"); ok {
			ep = "grpc://" + rest
		}
	}
	return ep, o.MetricsCollectorCAFile
}

// MQTTConnection is MQTT_CONNECTION_CONFIGURATION with defaults applied.
type MQTTConnection struct {
	Host                 string // host name, without the port
	Port                 uint16
	TLS                  bool
	KeepAliveSeconds     uint16
	SessionExpirySeconds uint32
	MaxInflightMessages  uint16
	// AuthenticationMethod is informational ("sat" in the SDK fixture); SAT is
	// used iff BROKER_SAT_MOUNT_PATH is set.
	AuthenticationMethod string
}

// AIOMetadata is the AIO version range the operator declares.
type AIOMetadata struct {
	AIOMinVersion string `json:"aioMinVersion"`
	AIOMaxVersion string `json:"aioMaxVersion"`
}

// Present reports whether the process runs under the Akri operator, that is
// whether CONNECTOR_ID or CONNECTOR_CONFIGURATION_MOUNT_PATH is set.
func Present(getenv func(string) string) bool {
	return getenv(EnvConnectorID) != "" || getenv(EnvConfigurationMountPath) != ""
}

type pathKind int

const (
	kindDir pathKind = iota
	kindFile
)

// Load reads the operator's environment and the files of the configuration
// folder. Every problem found is reported, joined into one error.
func Load(getenv func(string) string) (*Environment, error) {
	var errs []error
	required := func(name string) string {
		v := getenv(name)
		if v == "" {
			errs = append(errs, fmt.Errorf("%s: required variable is not set", name))
		}
		return v
	}
	path := func(name string, kind pathKind) string {
		v := getenv(name)
		if v == "" {
			return ""
		}
		if err := checkPath(v, kind); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		return v
	}

	env := &Environment{
		ConnectorID:         required(EnvConnectorID),
		Namespace:           getenv(EnvConnectorNamespace),
		ExtensionResourceID: getenv(EnvExtensionResourceID),
	}
	if required(EnvConfigurationMountPath) != "" {
		env.ConfigurationDir = path(EnvConfigurationMountPath, kindDir)
	}
	if required(EnvResourcesNameMountPath) != "" {
		env.ResourcesDir = path(EnvResourcesNameMountPath, kindDir)
	}
	env.BrokerTrustBundleDir = path(EnvBrokerTrustBundleMountPath, kindDir)
	env.BrokerSATFile = path(EnvBrokerSATMountPath, kindFile)
	env.DeviceCredentialsDir = path(EnvDeviceCredentialsMountPath, kindDir)
	env.DeviceTrustBundleDir = path(EnvDeviceTrustBundleMountPath, kindDir)
	env.SecretsMetadataDir = path(EnvSecretsMetadataMountPath, kindDir)
	env.SecretsDir = path(EnvSecretsMountPath, kindDir)
	env.TrustSettingsDir = path(EnvTrustSettingsMountPath, kindDir)
	env.Observability = Observability{
		GRPCMetricEndpoint:     getenv(EnvOTLPGRPCMetricEndpoint),
		GRPCLogEndpoint:        getenv(EnvOTLPGRPCLogEndpoint),
		GRPCTraceEndpoint:      getenv(EnvOTLPGRPCTraceEndpoint),
		HTTPMetricEndpoint:     getenv(EnvOTLPHTTPMetricEndpoint),
		HTTPLogEndpoint:        getenv(EnvOTLPHTTPLogEndpoint),
		HTTPTraceEndpoint:      getenv(EnvOTLPHTTPTraceEndpoint),
		MetricsCollectorCAFile: path(EnvFirstPartyMetricsCollectorCA, kindFile),
		LogCollectorCAFile:     path(EnvFirstPartyLogCollectorCA, kindFile),
		OTELProtocol:           cmp.Or(getenv(EnvOTELMetricsProtocol), getenv(EnvOTELProtocol), "http/protobuf"),
	}
	env.Observability.OTELMetricsEndpoint = getenv(EnvOTELMetricsEndpoint)
	if all := getenv(EnvOTELEndpoint); env.Observability.OTELMetricsEndpoint == "" && all != "" {
		if env.Observability.OTELProtocol != "grpc" {
			all = strings.TrimSuffix(all, "/") + "/v1/metrics"
		}
		env.Observability.OTELMetricsEndpoint = all
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	if err := env.loadConfigurationDir(); err != nil {
		return nil, err
	}
	return env, nil
}

func checkPath(p string, kind pathKind) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("path %q does not exist", p)
		}
		return err
	}
	switch {
	case kind == kindDir && !fi.IsDir():
		return fmt.Errorf("path %q is not a directory", p)
	case kind == kindFile && fi.IsDir():
		return fmt.Errorf("path %q is a directory, want a file", p)
	}
	return nil
}

func (env *Environment) loadConfigurationDir() error {
	dir := env.ConfigurationDir
	var errs []error

	raw, err := os.ReadFile(filepath.Join(dir, FileMQTTConnection))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", FileMQTTConnection, err))
	} else if env.MQTT, err = ParseMQTTConnection(raw); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", FileMQTTConnection, err))
	}

	if raw, ok, err := readOptional(filepath.Join(dir, FileDiagnostics)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", FileDiagnostics, err))
	} else if ok {
		if env.LogLevel, err = ParseDiagnostics(raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", FileDiagnostics, err))
		}
	}

	if raw, ok, err := readOptional(filepath.Join(dir, FileAIOMetadata)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", FileAIOMetadata, err))
	} else if ok {
		var md AIOMetadata
		if err := decodeJSON(raw, &md); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", FileAIOMetadata, err))
		} else {
			env.AIOMetadata = &md
		}
	}

	if raw, ok, err := readOptional(filepath.Join(dir, FileAdditionalConfiguration)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", FileAdditionalConfiguration, err))
	} else if ok {
		env.AdditionalConfiguration = string(raw)
	}

	if raw, ok, err := readOptional(filepath.Join(dir, FilePersistentVolumes)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", FilePersistentVolumes, err))
	} else if ok {
		for _, line := range strings.Split(string(raw), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				env.PersistentVolumes = append(env.PersistentVolumes, line)
			}
		}
	}

	if len(errs) > 0 {
		return fmt.Errorf("%s %s: %w", EnvConfigurationMountPath, dir, errors.Join(errs...))
	}
	return nil
}

func readOptional(path string) ([]byte, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// mqttConnectionFile is the JSON of MQTT_CONNECTION_CONFIGURATION. Unknown
// keys are allowed: the operator owns this file and may add fields.
type mqttConnectionFile struct {
	Host                 *string `json:"host"`
	Protocol             *string `json:"protocol"`
	KeepAliveSeconds     *uint16 `json:"keepAliveSeconds"`
	SessionExpirySeconds *uint32 `json:"sessionExpirySeconds"`
	MaxInflightMessages  *uint16 `json:"maxInflightMessages"`
	Authentication       *struct {
		Method string `json:"method"`
	} `json:"authentication"`
	TLS *struct {
		Mode *string `json:"mode"`
	} `json:"tls"`
}

// ParseMQTTConnection parses MQTT_CONNECTION_CONFIGURATION and applies the
// defaults for absent fields.
func ParseMQTTConnection(raw []byte) (MQTTConnection, error) {
	var f mqttConnectionFile
	if err := decodeJSON(raw, &f); err != nil {
		return MQTTConnection{}, err
	}
	c := MQTTConnection{
		KeepAliveSeconds:     DefaultKeepAliveSeconds,
		SessionExpirySeconds: DefaultSessionExpirySeconds,
		MaxInflightMessages:  DefaultMaxInflightMessages,
	}
	var errs []error
	if f.Host == nil {
		errs = append(errs, errors.New("host: required field is missing"))
	} else if host, port, err := splitHostPort(*f.Host); err != nil {
		errs = append(errs, fmt.Errorf("host: %w", err))
	} else {
		c.Host, c.Port = host, port
	}
	if f.Protocol != nil && !strings.EqualFold(*f.Protocol, "mqtt") {
		errs = append(errs, fmt.Errorf("protocol: must be \"mqtt\", got %q", *f.Protocol))
	}
	if f.KeepAliveSeconds != nil {
		c.KeepAliveSeconds = *f.KeepAliveSeconds
	}
	if f.SessionExpirySeconds != nil {
		c.SessionExpirySeconds = *f.SessionExpirySeconds
	}
	if f.MaxInflightMessages != nil {
		if *f.MaxInflightMessages == 0 {
			errs = append(errs, errors.New("maxInflightMessages: must be at least 1, got 0"))
		}
		c.MaxInflightMessages = *f.MaxInflightMessages
	}
	if f.TLS != nil && f.TLS.Mode != nil {
		switch {
		case strings.EqualFold(*f.TLS.Mode, "Enabled"):
			c.TLS = true
		case strings.EqualFold(*f.TLS.Mode, "Disabled"):
		default:
			errs = append(errs, fmt.Errorf("tls.mode: must be one of Enabled, Disabled, got %q", *f.TLS.Mode))
		}
	}
	if f.Authentication != nil {
		c.AuthenticationMethod = f.Authentication.Method
	}
	if len(errs) > 0 {
		return MQTTConnection{}, errors.Join(errs...)
	}
	return c, nil
}

func splitHostPort(s string) (string, uint16, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return "", 0, fmt.Errorf("must be \"<hostname>:<port>\", got %q", s)
	}
	host, portStr := s[:i], s[i+1:]
	if strings.ContainsAny(host, ":/ ") {
		return "", 0, fmt.Errorf("must be \"<hostname>:<port>\", got %q", s)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return "", 0, fmt.Errorf("port must be a number from 1 to 65535, got %q", portStr)
	}
	return host, uint16(port), nil
}

type diagnosticsFile struct {
	Logs *struct {
		Level *string `json:"level"`
	} `json:"logs"`
}

// ParseDiagnostics parses DIAGNOSTICS and returns its log level, or nil when
// it sets none. Levels are the .NET and Rust names, case-insensitively.
func ParseDiagnostics(raw []byte) (*zerolog.Level, error) {
	var f diagnosticsFile
	if err := decodeJSON(raw, &f); err != nil {
		return nil, err
	}
	if f.Logs == nil || f.Logs.Level == nil {
		return nil, nil
	}
	lvl, err := ParseLogLevel(*f.Logs.Level)
	if err != nil {
		return nil, fmt.Errorf("logs.level: %w", err)
	}
	return &lvl, nil
}

// ParseLogLevel maps an operator log level name to a zerolog level.
func ParseLogLevel(s string) (zerolog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "trace":
		return zerolog.TraceLevel, nil
	case "debug":
		return zerolog.DebugLevel, nil
	case "info", "information":
		return zerolog.InfoLevel, nil
	case "warn", "warning":
		return zerolog.WarnLevel, nil
	case "error":
		return zerolog.ErrorLevel, nil
	case "critical", "fatal":
		return zerolog.FatalLevel, nil
	case "none", "off":
		return zerolog.Disabled, nil
	}
	return zerolog.NoLevel, fmt.Errorf("must be one of trace, debug, info, warn, error, critical, none, got %q", s)
}

// decodeJSON decodes one JSON value into v, rejecting trailing data and
// turning type errors into "<field>: ..." messages.
func decodeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fmt.Errorf("%s: cannot use JSON %s as %s", te.Field, te.Value, te.Type)
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
		}
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return errors.New("invalid JSON: data after the top-level value")
	}
	return nil
}
