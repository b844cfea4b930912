package akrimount_test

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/akrimount"
	"github.com/http-connector/http-connector/internal/testing/reference"
)

var mountFixtures = reference.Dir("eng/test/test-connector-mount-files")

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestPresent(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"nothing set", nil, false},
		{"connector id", map[string]string{"CONNECTOR_ID": "c-0"}, true},
		{"configuration path", map[string]string{"CONNECTOR_CONFIGURATION_MOUNT_PATH": "/x"}, true},
		{"unrelated", map[string]string{"ADR_RESOURCES_NAME_MOUNT_PATH": "/x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := akrimount.Present(envFrom(tt.env)); got != tt.want {
				t.Errorf("Present = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLoadFixture(t *testing.T) {
	sat := filepath.Join(t.TempDir(), "token")
	writeFile(t, sat, []byte("tok"))
	env, err := akrimount.Load(envFrom(map[string]string{
		"CONNECTOR_ID":                              "rest-ctemplate-0",
		"CONNECTOR_NAMESPACE":                       "azure-iot-operations",
		"CONNECTOR_CONFIGURATION_MOUNT_PATH":        mountFixtures + "/connector-config",
		"ADR_RESOURCES_NAME_MOUNT_PATH":             mountFixtures + "/adr-resources",
		"BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH": mountFixtures + "/trust-bundle",
		"BROKER_SAT_MOUNT_PATH":                     sat,
		"OTLP_GRPC_METRIC_ENDPOINT":                 "grpc://otel:4317",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := akrimount.MQTTConnection{
		Host: "someHostName", Port: 1234, TLS: true, KeepAliveSeconds: 10,
		SessionExpirySeconds: 20, MaxInflightMessages: 10, AuthenticationMethod: "sat",
	}
	if env.MQTT != want {
		t.Errorf("MQTT = %+v, want %+v", env.MQTT, want)
	}
	if env.ConnectorID != "rest-ctemplate-0" || env.Namespace != "azure-iot-operations" {
		t.Errorf("ConnectorID, Namespace = %q, %q", env.ConnectorID, env.Namespace)
	}
	if env.LogLevel == nil || *env.LogLevel != zerolog.TraceLevel {
		t.Errorf("LogLevel = %v, want trace", env.LogLevel)
	}
	if env.AIOMetadata == nil || *env.AIOMetadata != (akrimount.AIOMetadata{AIOMinVersion: "1.0", AIOMaxVersion: "2.0"}) {
		t.Errorf("AIOMetadata = %+v", env.AIOMetadata)
	}
	if env.BrokerSATFile != sat || env.ResourcesDir != mountFixtures+"/adr-resources" {
		t.Errorf("BrokerSATFile, ResourcesDir = %q, %q", env.BrokerSATFile, env.ResourcesDir)
	}
	if env.Observability.GRPCMetricEndpoint != "grpc://otel:4317" {
		t.Errorf("GRPCMetricEndpoint = %q", env.Observability.GRPCMetricEndpoint)
	}
	if env.AdditionalConfiguration != "" || env.PersistentVolumes != nil {
		t.Errorf("AdditionalConfiguration, PersistentVolumes = %q, %q; want empty", env.AdditionalConfiguration, env.PersistentVolumes)
	}
}

func TestLoadNoAuthNoTLSFixture(t *testing.T) {
	env, err := akrimount.Load(envFrom(map[string]string{
		"CONNECTOR_ID":                       "c-0",
		"CONNECTOR_CONFIGURATION_MOUNT_PATH": mountFixtures + "/connector-config-no-auth-no-tls",
		"ADR_RESOURCES_NAME_MOUNT_PATH":      mountFixtures + "/adr-resources",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := akrimount.MQTTConnection{Host: "someHostName", Port: 1234, KeepAliveSeconds: 10, SessionExpirySeconds: 20, MaxInflightMessages: 10}
	if env.MQTT != want {
		t.Errorf("MQTT = %+v, want %+v", env.MQTT, want)
	}
}

func TestLoadOptionalFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "MQTT_CONNECTION_CONFIGURATION"), []byte(`{"host":"aio-broker:18883"}`))
	writeFile(t, filepath.Join(dir, "ADDITIONAL_CONNECTOR_CONFIGURATION"), []byte(`{"a": 1,}`))
	writeFile(t, filepath.Join(dir, "PERSISTENT_VOLUME_MOUNT_PATH"), []byte("/mnt/a\n\n  /mnt/b \n"))
	env, err := akrimount.Load(envFrom(map[string]string{
		"CONNECTOR_ID":                       "c-0",
		"CONNECTOR_CONFIGURATION_MOUNT_PATH": dir,
		"ADR_RESOURCES_NAME_MOUNT_PATH":      dir,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if env.AdditionalConfiguration != `{"a": 1,}` {
		t.Errorf("AdditionalConfiguration = %q", env.AdditionalConfiguration)
	}
	if strings.Join(env.PersistentVolumes, ",") != "/mnt/a,/mnt/b" {
		t.Errorf("PersistentVolumes = %q", env.PersistentVolumes)
	}
	if env.LogLevel != nil || env.AIOMetadata != nil {
		t.Errorf("LogLevel, AIOMetadata = %v, %v; want nil", env.LogLevel, env.AIOMetadata)
	}
	want := akrimount.MQTTConnection{Host: "aio-broker", Port: 18883, KeepAliveSeconds: 60, SessionExpirySeconds: 3600, MaxInflightMessages: 65535}
	if env.MQTT != want {
		t.Errorf("MQTT defaults = %+v, want %+v", env.MQTT, want)
	}
}

func TestLoadErrors(t *testing.T) {
	good := mountFixtures + "/connector-config"
	res := mountFixtures + "/adr-resources"
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, []byte("x"))
	badMQTT := t.TempDir()
	writeFile(t, filepath.Join(badMQTT, "MQTT_CONNECTION_CONFIGURATION"), []byte(`{"host":"aio-broker","keepAliveSeconds":"ten","tls":{"mode":"on"}}`))
	badDiag := t.TempDir()
	writeFile(t, filepath.Join(badDiag, "MQTT_CONNECTION_CONFIGURATION"), []byte(`{"host":"aio-broker:1883"}`))
	writeFile(t, filepath.Join(badDiag, "DIAGNOSTICS"), []byte(`{"logs":{"level":"verbose"}}`))
	noMQTT := t.TempDir()

	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{
			name: "required variables missing",
			env:  map[string]string{"CONNECTOR_NAMESPACE": "ns"},
			want: "CONNECTOR_ID: required variable is not set\n" +
				"CONNECTOR_CONFIGURATION_MOUNT_PATH: required variable is not set\n" +
				"ADR_RESOURCES_NAME_MOUNT_PATH: required variable is not set",
		},
		{
			name: "path does not exist",
			env: map[string]string{"CONNECTOR_ID": "c", "CONNECTOR_CONFIGURATION_MOUNT_PATH": good,
				"ADR_RESOURCES_NAME_MOUNT_PATH": res, "DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH": "/does/not/exist"},
			want: `DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH: path "/does/not/exist" does not exist`,
		},
		{
			name: "folder variable names a file",
			env: map[string]string{"CONNECTOR_ID": "c", "CONNECTOR_CONFIGURATION_MOUNT_PATH": good,
				"ADR_RESOURCES_NAME_MOUNT_PATH": file},
			want: `ADR_RESOURCES_NAME_MOUNT_PATH: path "` + file + `" is not a directory`,
		},
		{
			name: "token variable names a folder",
			env: map[string]string{"CONNECTOR_ID": "c", "CONNECTOR_CONFIGURATION_MOUNT_PATH": good,
				"ADR_RESOURCES_NAME_MOUNT_PATH": res, "BROKER_SAT_MOUNT_PATH": res},
			want: `BROKER_SAT_MOUNT_PATH: path "` + res + `" is a directory, want a file`,
		},
		{
			name: "malformed MQTT configuration",
			env: map[string]string{"CONNECTOR_ID": "c", "CONNECTOR_CONFIGURATION_MOUNT_PATH": badMQTT,
				"ADR_RESOURCES_NAME_MOUNT_PATH": res},
			want: "CONNECTOR_CONFIGURATION_MOUNT_PATH " + badMQTT + ": MQTT_CONNECTION_CONFIGURATION: keepAliveSeconds: cannot use JSON string as uint16",
		},
		{
			name: "malformed diagnostics",
			env: map[string]string{"CONNECTOR_ID": "c", "CONNECTOR_CONFIGURATION_MOUNT_PATH": badDiag,
				"ADR_RESOURCES_NAME_MOUNT_PATH": res},
			want: "CONNECTOR_CONFIGURATION_MOUNT_PATH " + badDiag + `: DIAGNOSTICS: logs.level: must be one of trace, debug, info, warn, error, critical, none, got "verbose"`,
		},
		{
			name: "MQTT configuration missing",
			env: map[string]string{"CONNECTOR_ID": "c", "CONNECTOR_CONFIGURATION_MOUNT_PATH": noMQTT,
				"ADR_RESOURCES_NAME_MOUNT_PATH": res},
			want: "CONNECTOR_CONFIGURATION_MOUNT_PATH " + noMQTT + ": MQTT_CONNECTION_CONFIGURATION: open " +
				filepath.Join(noMQTT, "MQTT_CONNECTION_CONFIGURATION") + ": no such file or directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := akrimount.Load(envFrom(tt.env))
			if err == nil {
				t.Fatalf("Load succeeded with %+v, want error %q", env, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
}

func TestParseMQTTConnection(t *testing.T) {
	defaults := akrimount.MQTTConnection{KeepAliveSeconds: 60, SessionExpirySeconds: 3600, MaxInflightMessages: 65535}
	with := func(f func(*akrimount.MQTTConnection)) akrimount.MQTTConnection {
		c := defaults
		c.Host, c.Port = "aio-broker", 18883
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		in      string
		want    akrimount.MQTTConnection
		wantErr string
	}{
		{name: "defaults", in: `{"host":"aio-broker:18883"}`, want: with(func(*akrimount.MQTTConnection) {})},
		{name: "tls mode lower case", in: `{"host":"aio-broker:18883","tls":{"mode":"enabled"}}`,
			want: with(func(c *akrimount.MQTTConnection) { c.TLS = true })},
		{name: "tls disabled", in: `{"host":"aio-broker:18883","tls":{"mode":"DISABLED"}}`, want: with(func(*akrimount.MQTTConnection) {})},
		{name: "all fields", in: `{"host":"b:1","keepAliveSeconds":0,"sessionExpirySeconds":4294967295,"maxInflightMessages":1,"protocol":"mqtt","extra":true}`,
			want: akrimount.MQTTConnection{Host: "b", Port: 1, SessionExpirySeconds: 4294967295, MaxInflightMessages: 1}},
		{name: "host without port", in: `{"host":"aio-broker"}`, wantErr: `host: must be "<hostname>:<port>", got "aio-broker"`},
		{name: "host with scheme", in: `{"host":"mqtt://aio-broker:1883"}`, wantErr: `host: must be "<hostname>:<port>", got "mqtt://aio-broker:1883"`},
		{name: "bad port", in: `{"host":"aio-broker:http"}`, wantErr: `host: port must be a number from 1 to 65535, got "http"`},
		{name: "port zero", in: `{"host":"aio-broker:0"}`, wantErr: `host: port must be a number from 1 to 65535, got "0"`},
		{name: "missing host", in: `{}`, wantErr: "host: required field is missing"},
		{name: "bad tls mode", in: `{"host":"a:1","tls":{"mode":"Auto"}}`, wantErr: `tls.mode: must be one of Enabled, Disabled, got "Auto"`},
		{name: "bad protocol", in: `{"host":"a:1","protocol":"ws"}`, wantErr: `protocol: must be "mqtt", got "ws"`},
		{name: "negative keep alive", in: `{"host":"a:1","keepAliveSeconds":-1}`, wantErr: "keepAliveSeconds: cannot use JSON number -1 as uint16"},
		{name: "keep alive too large", in: `{"host":"a:1","keepAliveSeconds":70000}`, wantErr: "keepAliveSeconds: cannot use JSON number 70000 as uint16"},
		{name: "fractional session expiry", in: `{"host":"a:1","sessionExpirySeconds":1.5}`, wantErr: "sessionExpirySeconds: cannot use JSON number 1.5 as uint32"},
		{name: "zero inflight", in: `{"host":"a:1","maxInflightMessages":0}`, wantErr: "maxInflightMessages: must be at least 1, got 0"},
		{name: "tls mode not a string", in: `{"host":"a:1","tls":{"mode":true}}`, wantErr: "tls.mode: cannot use JSON bool as string"},
		{name: "two errors", in: `{"host":"a","tls":{"mode":"x"}}`,
			wantErr: "host: must be \"<hostname>:<port>\", got \"a\"\ntls.mode: must be one of Enabled, Disabled, got \"x\""},
		{name: "syntax error", in: `{"host":}`, wantErr: "invalid JSON at byte 9: invalid character '}' looking for beginning of value"},
		{name: "trailing data", in: `{"host":"a:1"} {}`, wantErr: "invalid JSON: data after the top-level value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := akrimount.ParseMQTTConnection([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseDiagnostics(t *testing.T) {
	tests := []struct {
		in      string
		want    zerolog.Level
		none    bool
		wantErr string
	}{
		{in: `{"logs":{"level":"trace"}}`, want: zerolog.TraceLevel},
		{in: `{"logs":{"level":"Debug"}}`, want: zerolog.DebugLevel},
		{in: `{"logs":{"level":"info"}}`, want: zerolog.InfoLevel},
		{in: `{"logs":{"level":"Information"}}`, want: zerolog.InfoLevel},
		{in: `{"logs":{"level":"warning"}}`, want: zerolog.WarnLevel},
		{in: `{"logs":{"level":"warn"}}`, want: zerolog.WarnLevel},
		{in: `{"logs":{"level":"error"}}`, want: zerolog.ErrorLevel},
		{in: `{"logs":{"level":"Critical"}}`, want: zerolog.FatalLevel},
		{in: `{"logs":{"level":"none"}}`, want: zerolog.Disabled},
		{in: `{"logs":{}}`, none: true},
		{in: `{}`, none: true},
		{in: `{"logs":{"level":3}}`, wantErr: "logs.level: cannot use JSON number as string"},
		{in: `{"logs":{"level":""}}`, wantErr: `logs.level: must be one of trace, debug, info, warn, error, critical, none, got ""`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := akrimount.ParseDiagnostics([]byte(tt.in))
			switch {
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case tt.none:
				if got != nil {
					t.Errorf("level = %v, want none", *got)
				}
			case got == nil || *got != tt.want:
				t.Errorf("level = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFixturesExist(t *testing.T) {
	// Guard against a moved shared/ folder making every fixture test vacuous.
	if _, err := os.Stat(mountFixtures + "/connector-config/MQTT_CONNECTION_CONFIGURATION"); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsEndpoint checks where the metrics go for each way the operator
// or the diagnostics settings name the collector.
func TestMetricsEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"none", nil, ""},
		{"akri grpc wins", map[string]string{"OTLP_GRPC_METRIC_ENDPOINT": "grpcs://otel:4317", "OTLP_HTTP_METRIC_ENDPOINT": "http://otel:4318", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:4318"}, "grpcs://otel:4317"},
		{"akri http", map[string]string{"OTLP_HTTP_METRIC_ENDPOINT": "https://otel:4318/v1/metrics"}, "https://otel:4318/v1/metrics"},
		{"standard, every signal", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, "http://collector:4318/v1/metrics"},
		{"standard, metrics", map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://collector:4318/custom", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:4318"}, "http://collector:4318/custom"},
		{"standard grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "grpcs://collector:4317"},
		{"standard grpc for metrics only", map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, "grpc://collector:4317"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{
				"CONNECTOR_ID":                       "c-0",
				"CONNECTOR_CONFIGURATION_MOUNT_PATH": mountFixtures + "/connector-config-no-auth-no-tls",
				"ADR_RESOURCES_NAME_MOUNT_PATH":      mountFixtures + "/adr-resources",
			}
			maps.Copy(vars, tc.vars)
			env, err := akrimount.Load(envFrom(vars))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := env.Observability.MetricsEndpoint(); got != tc.want {
				t.Errorf("MetricsEndpoint = %q, want %q", got, tc.want)
			}
		})
	}
}
