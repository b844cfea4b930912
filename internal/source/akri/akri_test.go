package akri_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/examples/thermostat"
	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/akrimount"
	"github.com/http-connector/http-connector/internal/broker"
	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/source/akri"
	"github.com/http-connector/http-connector/internal/testing/adrfake"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/reference"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

const connectorID = "rest-connector-0"

func u64(v uint64) *uint64 { return &v }

func thermostatAsset(version uint64, topic, method string) adr.Asset {
	return adr.Asset{
		DeviceRef: adr.DeviceRef{DeviceName: "thermostat", EndpointName: "rest"},
		UUID:      "223e4567-e89b-12d3-a456-426614174111",
		Version:   u64(version),
		Datasets: []adr.Dataset{{
			Name:                 "thermostat_status",
			DatasetConfiguration: `{"samplingInterval": 200,}`,
			DataPoints: []adr.DataPoint{
				{Name: "currentTemperature", DataSource: "/api/thermostat/current", DataPointConfiguration: fmt.Sprintf(`{"HttpRequestMethod": %q,}`, method)},
				{Name: "desiredTemperature", DataSource: "/api/thermostat/desired"},
			},
			Destinations: []adr.Destination{{Target: adr.TargetMqtt, Configuration: adr.DestinationConfiguration{Topic: topic, Qos: adr.Qos1}}},
		}},
	}
}

// writeAssignments replaces the resource-names folder's content the way
// Kubernetes does: a new timestamped folder and an atomic ..data swap.
func writeAssignments(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	stamp := fmt.Sprintf("..%d", time.Now().UnixNano())
	if err := os.Mkdir(filepath.Join(dir, stamp), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, stamp, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(stamp, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// harness is a running Akri-mode connector against the ADR test double,
// an embedded broker and the example thermostat.
type harness struct {
	broker *broker.Broker
	device *httptest.Server
	fake   *adrfake.Fake
	in     *mqtttest.Inbox
	names  string // the resource-names folder
	ctx    context.Context
	opts   akri.Options
	stop   func() error
}

// setup adjusts a harness before the connector starts.
type setup struct {
	configure func(*akri.Options)
	handler   http.Handler             // the device's; default the thermostat
	deviceTLS *tls.Certificate         // if set, the device serves https with it
	auth      *adr.Authentication      // the device endpoint's
	vars      map[string]string        // more operator variables
	faults    map[string]adrfake.Fault // by command, injected before the connector starts
}

func startHarness(t *testing.T, assets map[string]adr.Asset, assigned string, configure func(*akri.Options)) *harness {
	return startHarnessWith(t, assets, assigned, setup{configure: configure})
}

func startHarnessWith(t *testing.T, assets map[string]adr.Asset, assigned string, su setup) *harness {
	configure := su.configure
	t.Helper()
	ref := reference.Dir()
	h := &harness{}
	var err error
	if h.broker, err = broker.Start(broker.Options{Address: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.broker.Close() })
	handler := su.handler
	if handler == nil {
		handler = thermostat.New(3).Handler()
	}
	h.device = httptest.NewUnstartedServer(handler)
	if su.deviceTLS != nil {
		h.device.TLS = &tls.Config{Certificates: []tls.Certificate{*su.deviceTLS}}
		h.device.StartTLS()
	} else {
		h.device.Start()
	}
	t.Cleanup(h.device.Close)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h.ctx = ctx
	h.fake, err = adrfake.Start(ctx, mqtttest.Connect(t, h.broker.URL(), "adr-service"),
		map[string]adr.Device{"thermostat": {
			UUID: "1234-5678-9012-3456", Version: u64(1),
			Endpoints: &adr.DeviceEndpoints{Inbound: map[string]adr.InboundEndpoint{
				"rest": {Address: h.device.URL, EndpointType: "Microsoft.Http", Authentication: su.auth},
			}},
		}},
		assets, adrfake.Options{ReferenceDir: ref})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.fake.Close)
	for command, f := range su.faults {
		h.fake.Inject(command, f)
	}
	h.in = mqtttest.Listen(t, h.broker.URL(), "subscriber", "plant/#")

	// The operator's mounts and environment.
	mounts := t.TempDir()
	cfgDir := filepath.Join(mounts, "config")
	h.names = filepath.Join(mounts, "names")
	for _, d := range []string{cfgDir, h.names} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	host := strings.TrimPrefix(h.broker.URL(), "mqtt://")
	mqttConf := fmt.Sprintf(`{"host": %q, "keepAliveSeconds": 10, "maxInflightMessages": 10, "protocol": "mqtt", "sessionExpirySeconds": 20, "tls": {"mode": "Disabled"}}`, host)
	if err := os.WriteFile(filepath.Join(cfgDir, "MQTT_CONNECTION_CONFIGURATION"), []byte(mqttConf), 0o644); err != nil {
		t.Fatal(err)
	}
	writeAssignments(t, h.names, map[string]string{"thermostat_rest": assigned})
	vars := map[string]string{
		"CONNECTOR_ID":                       connectorID,
		"CONNECTOR_NAMESPACE":                "azure-iot-operations",
		"CONNECTOR_CONFIGURATION_MOUNT_PATH": cfgDir,
		"ADR_RESOURCES_NAME_MOUNT_PATH":      h.names,
	}
	for k, v := range su.vars {
		vars[k] = v
	}
	env, err := akrimount.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	loader, err := config.NewLoader(plan.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	opts := akri.Options{
		Env: env, Planner: loader.Planner(), Logger: zerolog.Nop(),
		RescanPeriod: 200 * time.Millisecond, HealthPeriod: 500 * time.Millisecond,
		RPCTimeout:  2 * time.Second,
		RetryPolicy: &aiorpc.RetryPolicy{MaxRetries: 1, MaxDelay: 50 * time.Millisecond},
	}
	if configure != nil {
		configure(&opts)
	}
	h.opts = opts
	h.start(t)
	return h
}

// start runs the connector, with stop to stop it; a stopped connector may
// be started again (a restart of the pod).
func (h *harness) start(t *testing.T) {
	runCtx, stop := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() {
		done <- connector.Run(runCtx, akri.New(h.opts), connector.Options{Logger: h.opts.Logger, SecretsPeriod: h.opts.RescanPeriod})
	}()
	var once sync.Once
	var runErr error
	h.stop = func() error {
		once.Do(func() {
			stop()
			runErr = <-done
		})
		return runErr
	}
	t.Cleanup(func() { _ = h.stop() })
}

// The connector in Akri mode against the ADR test double: it follows the
// mounted assignments, samples what ADR defines, reports configuration
// problems and schemas in the statuses, and follows updates.
func TestAkriConnector(t *testing.T) {
	h := startHarness(t, map[string]adr.Asset{
		"thermostat-1": thermostatAsset(1, "plant/thermostat-1", "GET"),
		"broken":       thermostatAsset(1, "plant/broken", "FETCH"),
	}, "thermostat-1\nbroken\n", nil)
	h.messagesHaveTheAIOProperties(t)
	h.schemaIsRegistered(t)
	h.brokenAssetIsReported(t)
	h.updatesApply(t)
	h.brokerRestartSetsNotificationsAgain(t)
	h.unassignedAndSilentStop(t)
	if err := h.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if h.fake.AssetNotifications("thermostat-1") || h.fake.DeviceNotifications("thermostat", "rest") {
		t.Error("notifications still on after shutdown")
	}
	if v := h.fake.Violations(); len(v) > 0 {
		t.Errorf("protocol violations:\n%s", strings.Join(v, "\n"))
	}
}

// Messages of the valid asset flow, with the AIO properties.
func (h *harness) messagesHaveTheAIOProperties(t *testing.T) {
	t.Helper()
	in := h.in
	wait.For(t, "messages on plant/thermostat-1", func() bool { return len(in.On("plant/thermostat-1")) >= 2 })
	m := in.On("plant/thermostat-1")[0]
	var payload map[string]float64
	if err := json.Unmarshal(m.Payload, &payload); err != nil || len(payload) != 2 || payload["currentTemperature"] < 68 {
		t.Errorf("payload %s", m.Payload)
	}
	for key, want := range map[string]string{
		"specversion":  "1.0",
		"type":         "DataSet",
		"source":       "ms-aio:thermostat",
		"subject":      "thermostat-1/thermostat_status",
		"aioassetref":  "ms-aio:223e4567-e89b-12d3-a456-426614174111",
		"aiodeviceref": "ms-aio:1234-5678-9012-3456/rest",
		"__srcId":      connectorID,
		"__protVer":    "1.0",
	} {
		if got, _ := m.Property(key); got != want {
			t.Errorf("user property %s: got %q, want %q", key, got, want)
		}
	}
	for _, key := range []string{"id", "time", "__ts"} {
		if got, _ := m.Property(key); got == "" {
			t.Errorf("user property %s missing", key)
		}
	}
}

// The schema of the first message is registered and reported, and later
// messages name it.
func (h *harness) schemaIsRegistered(t *testing.T) {
	t.Helper()
	fake, in := h.fake, h.in
	wait.For(t, "schema reference in the asset status", func() bool {
		s, ok := fake.AssetStatus("thermostat-1")
		return ok && len(s.Datasets) == 1 && s.Datasets[0].MessageSchemaReference != nil
	})
	schemas := fake.Schemas()
	if len(schemas) != 1 || !strings.Contains(schemas[0].SchemaContent, `"currentTemperature":{"type":"number"}`) {
		t.Fatalf("registered schemas: %+v", schemas)
	}
	dataschema := "aio-sr://" + adrfake.DefaultSchemaNamespace + "/" + schemas[0].Name + ":1.0"
	wait.For(t, "dataschema on messages", func() bool {
		msgs := in.On("plant/thermostat-1")
		got, _ := msgs[len(msgs)-1].Property("dataschema")
		return got == dataschema
	})
}

// The broken asset's dataset is reported with a message an operator
// understands; nothing of it is published.
func (h *harness) brokenAssetIsReported(t *testing.T) {
	t.Helper()
	fake, in := h.fake, h.in
	wait.For(t, "error on the broken dataset", func() bool {
		s, ok := fake.AssetStatus("broken")
		return ok && len(s.Datasets) == 1 && s.Datasets[0].Error != nil
	})
	s, _ := fake.AssetStatus("broken")
	if msg := s.Datasets[0].Error.Message; !strings.Contains(msg, `asset "broken" dataset "thermostat_status" data point "currentTemperature": spec.datasets[0].dataPoints[0].dataPointConfiguration.HttpRequestMethod: value must be one of`) || !strings.Contains(msg, `got "FETCH"`) {
		t.Errorf("dataset error: %s", msg)
	}
	if len(in.On("plant/broken")) != 0 {
		t.Error("the broken dataset published")
	}
	if ds, ok := fake.DeviceStatus("thermostat"); !ok || ds.Config == nil || ds.Config.Error != nil || ds.Endpoints == nil {
		t.Errorf("device status: %+v", ds)
	}
	if !fake.DeviceNotifications("thermostat", "rest") || !fake.AssetNotifications("thermostat-1") {
		t.Error("notifications are not on")
	}
}

// Fixing the asset in ADR clears the error and starts its messages; an
// update restarts only that asset, with its new definition, and a declared
// message schema is registered as it is.
func (h *harness) updatesApply(t *testing.T) {
	t.Helper()
	fake, in, ctx := h.fake, h.in, h.ctx
	if err := fake.SetAsset(ctx, "broken", thermostatAsset(2, "plant/broken", "GET")); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the fixed asset publishes", func() bool { return len(in.On("plant/broken")) > 0 })
	wait.For(t, "the error is cleared", func() bool {
		s, _ := fake.AssetStatus("broken")
		return len(s.Datasets) == 1 && s.Datasets[0].Error == nil && s.Config != nil && s.Config.Version != nil && *s.Config.Version == 2
	})
	updated := thermostatAsset(2, "plant/thermostat-1b", "GET")
	updated.Datasets[0].DatasetConfiguration = `{"samplingInterval": 200, "messageSchema": {"type": "object", "title": "declared"}}`
	if err := fake.SetAsset(ctx, "thermostat-1", updated); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the updated asset publishes to its new topic", func() bool { return len(in.On("plant/thermostat-1b")) > 0 })
	wait.For(t, "the declared schema is registered", func() bool {
		for _, sc := range fake.Schemas() {
			if sc.SchemaContent == `{"$schema":"http://json-schema.org/draft-07/schema#","title":"declared","type":"object"}` {
				return true
			}
		}
		return false
	})
}

// The broker restarts and forgets every session: the connector reconnects
// and sets its ADR notifications again.
func (h *harness) brokerRestartSetsNotificationsAgain(t *testing.T) {
	t.Helper()
	fake, in := h.fake, h.in
	before := len(fake.Calls("setNotificationPreferenceForDeviceUpdates"))
	addr := h.broker.Address()
	h.broker.Close()
	b, err := broker.Start(broker.Options{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	h.broker = b
	t.Cleanup(func() { b.Close() })
	wait.For(t, "notifications set again after the session was lost", func() bool {
		return len(fake.Calls("setNotificationPreferenceForDeviceUpdates")) > before
	})
	n := len(in.On("plant/thermostat-1b"))
	wait.For(t, "messages flow again after the broker restart", func() bool { return len(in.On("plant/thermostat-1b")) > n })
}

// An asset removed from the mounted list stops; a device that stops
// answering makes its dataset unavailable.
func (h *harness) unassignedAndSilentStop(t *testing.T) {
	t.Helper()
	fake, in := h.fake, h.in
	writeAssignments(t, h.names, map[string]string{"thermostat_rest": "thermostat-1\n"})
	wait.For(t, "the unassigned asset stops", func() bool {
		n := len(in.On("plant/broken"))
		time.Sleep(600 * time.Millisecond)
		return len(in.On("plant/broken")) == n
	})
	h.device.Close()
	wait.For(t, "dataset health Unavailable", func() bool {
		for _, h := range fake.Health() {
			if h.Name == "datasetRuntimeHealthEvent" && strings.Contains(string(h.Payload), `"Unavailable"`) {
				return true
			}
		}
		return false
	})
}

// Mapping files watched in Akri mode: a change reshapes the messages of the
// assets that use them; a broken edit keeps the last good version and is
// reported in the asset status until it is fixed.
func TestAkriMappingReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "site.yaml")
	write := func(jq string) {
		t.Helper()
		body := "namespace: site\nmappings:\n  shape:\n    kind: dataset\n    jq: '" + jq + "'\n"
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("{v: 1, t: .currentTemperature}")
	loader, err := config.NewLoader(plan.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	loader = loader.WithMappings([]string{dir})
	planner, err := loader.MappingPlanner()
	if err != nil {
		t.Fatal(err)
	}
	asset := thermostatAsset(1, "plant/mapped", "GET")
	asset.Datasets[0].DatasetConfiguration = `{"samplingInterval": 200, "mapping": "site/shape"}`
	h := startHarness(t, map[string]adr.Asset{"mapped": asset}, "mapped\n", func(o *akri.Options) {
		o.Planner, o.MappingPaths, o.ReloadPlanner = planner, []string{dir}, loader.MappingPlanner
	})
	last := func() map[string]any {
		msgs := h.in.On("plant/mapped")
		if len(msgs) == 0 {
			return nil
		}
		var v map[string]any
		_ = json.Unmarshal(msgs[len(msgs)-1].Payload, &v)
		return v
	}
	wait.For(t, "version 1 messages", func() bool { return last()["v"] == 1.0 })

	write("{v: 2, t: .currentTemperature}")
	wait.For(t, "version 2 messages", func() bool { return last()["v"] == 2.0 })

	write("{v: 3, t: .currentTemperature")
	wait.For(t, "the broken edit reported on the asset", func() bool {
		s, _ := h.fake.AssetStatus("mapped")
		return s.Config != nil && s.Config.Error != nil && strings.Contains(s.Config.Error.Message, "the mapping files could not be reloaded, the last good version keeps running")
	})
	n := len(h.in.On("plant/mapped"))
	wait.For(t, "version 2 keeps running", func() bool { return len(h.in.On("plant/mapped")) > n+2 && last()["v"] == 2.0 })

	write("{v: 4, t: .currentTemperature}")
	wait.For(t, "the fix clears the error and takes effect", func() bool {
		s, _ := h.fake.AssetStatus("mapped")
		return last()["v"] == 4.0 && s.Config != nil && s.Config.Error == nil
	})
}

// Device credentials come from the mounted secret files and are read again
// when they change: a rotated password reaches the device without a restart.
func TestAkriCredentialRotation(t *testing.T) {
	creds := t.TempDir()
	if err := os.MkdirAll(filepath.Join(creds, "thermostat-creds"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeSecret := func(name, value string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(creds, "thermostat-creds", name), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeSecret("username", "operator")
	writeSecret("password", "first-password")
	var accepted atomic.Value
	accepted.Store("first-password")
	thermo := thermostat.New(5).Handler()
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "operator" || p != accepted.Load().(string) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		thermo.ServeHTTP(w, r)
	})
	h := startHarnessWith(t, map[string]adr.Asset{"guarded": thermostatAsset(1, "plant/guarded", "GET")}, "guarded\n", setup{
		handler: guarded,
		auth: &adr.Authentication{Method: adr.AuthUsernamePassword, UsernamePasswordCredentials: &adr.UsernamePasswordCredentials{
			UsernameSecretName: "thermostat-creds/username", PasswordSecretName: "thermostat-creds/password",
		}},
		vars: map[string]string{"DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH": creds},
	})
	wait.For(t, "messages with the first password", func() bool { return len(h.in.On("plant/guarded")) > 0 })

	// The device's password changes, then the mounted secret follows.
	accepted.Store("second-password")
	wait.For(t, "the device refuses the old password", func() bool {
		for _, hr := range h.fake.Health() {
			if hr.Name == "datasetRuntimeHealthEvent" && strings.Contains(string(hr.Payload), "401") {
				return true
			}
		}
		return false
	})
	n := len(h.in.On("plant/guarded"))
	writeSecret("password", "second-password")
	wait.For(t, "messages with the rotated password", func() bool { return len(h.in.On("plant/guarded")) > n+2 })
}
