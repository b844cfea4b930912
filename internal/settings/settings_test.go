package settings

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "settings.yaml")
	err := os.WriteFile(file, []byte("broker: mqtt://127.0.0.1:1000\nlogLevel: debug\nrequestTimeout: 3s\npublishQueueSize: 500\nmaxResponseBytes: 0x100000\nsecrets:\n  env:\n    creds.v1/password: PASS\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(Sources{
		File:    file,
		Environ: []string{"HTTP_CONNECTOR_LOG_LEVEL=warn", "HTTP_CONNECTOR_DEFAULT_SAMPLING_INTERVAL=250ms", "PATH=/bin"},
		Flags:   map[string]any{"logLevel": "error"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.Broker = "mqtt://127.0.0.1:1000"                 // file
	want.RequestTimeout = 3 * time.Second                 // file
	want.DefaultSamplingInterval = 250 * time.Millisecond // environment
	want.LogLevel = "error"                               // flag over environment over file
	want.Secrets.Env = map[string]string{"creds.v1/password": "PASS"}
	if s.PublishQueueSize != 500 || s.MaxResponseBytes != 1<<20 {
		t.Errorf("numbers from the file: publishQueueSize %d, maxResponseBytes %d", s.PublishQueueSize, s.MaxResponseBytes)
	}
	if s.Broker != want.Broker || s.RequestTimeout != want.RequestTimeout || s.DefaultSamplingInterval != want.DefaultSamplingInterval || s.LogLevel != want.LogLevel || s.Secrets.Env["creds.v1/password"] != "PASS" || s.ClientID != want.ClientID {
		t.Errorf("got %+v\nwant %+v", *s, want)
	}
}

// In Akri mode the connector template's additionalConfiguration sets
// settings over the file's; the environment still wins.
func TestTemplateSettings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "settings.yaml")
	if err := os.WriteFile(file, []byte("metricsAddr: 127.0.0.1:9000\nrequestTimeout: 3s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(Sources{
		File:     file,
		Template: `{"metricsAddr": ":9464", "statusPage": true, "publishQueueSize": 500, "logLevel": "debug"}`,
		Environ:  []string{"HTTP_CONNECTOR_LOG_LEVEL=warn"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.MetricsAddr != ":9464" || !s.StatusPage || s.PublishQueueSize != 500 || s.RequestTimeout != 3*time.Second || s.LogLevel != LogWarn {
		t.Errorf("got %+v", *s)
	}
	for template, want := range map[string]string{
		`["metricsAddr"]`:         "settings from the connector template's additionalConfiguration: want a JSON object of settings",
		`{"metricAddr": ":9464"}`: "settings: unknown setting metricAddr",
		`{"statusPage": true}`:    "settings: statusPage: it is served on metricsAddr, which is not set",
		`{"metricsAddr": "all"}`:  `settings: metricsAddr: "all" is neither host:port nor a port`,
	} {
		if _, err := Load(Sources{Template: template}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("template %s: got %v, want an error containing %q", template, err, want)
		}
	}
}

// Shown are every setting, a broker URL's password redacted.
func TestShownSettings(t *testing.T) {
	s := Defaults()
	s.Broker = "mqtts://connector:hunter2@broker.local:8883"
	s.Secrets.Env = map[string]string{"creds/password": "THERMO_PASS"}
	shown := s.Shown()
	if shown["broker"] != "mqtts://connector:REDACTED@broker.local:8883" || shown["requestTimeout"] != "10s" || shown["metricsAddr"] != "" {
		t.Errorf("shown %v", shown)
	}
	if env := shown["secrets"].(map[string]any)["env"].(map[string]string); env["creds/password"] != "THERMO_PASS" {
		t.Errorf("secret names: %v", shown["secrets"])
	}
	if n, want := len(shown), len(toKeys()); n != want {
		t.Errorf("%d settings shown, %d exist", n, want)
	}
}

// toKeys are the top-level setting keys.
func toKeys() []string {
	var out []string
	t := reflect.TypeOf(Settings{})
	for i := 0; i < t.NumField(); i++ {
		out = append(out, t.Field(i).Tag.Get("koanf"))
	}
	return out
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	n := 0
	write := func(body string) string {
		n++
		f := filepath.Join(dir, fmt.Sprintf("s%d.yaml", n))
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	tests := []struct {
		name string
		src  Sources
		want string
	}{
		{"unknown key in file", Sources{File: write("brokr: mqtt://x:1\n")}, "settings: unknown setting brokr"},
		{"unknown environment variable", Sources{Environ: []string{"HTTP_CONNECTOR_BROKR=x"}}, "environment variable HTTP_CONNECTOR_BROKR is not a setting"},
		{"bad broker URL", Sources{Flags: map[string]any{"broker": "127.0.0.1:1883"}}, `settings: broker: "127.0.0.1:1883" needs a scheme, host and port, like mqtt://127.0.0.1:1883`},
		{"bad duration", Sources{Environ: []string{"HTTP_CONNECTOR_REQUEST_TIMEOUT=soon"}}, "settings: requestTimeout: time: invalid duration"},
		{"bad level", Sources{Flags: map[string]any{"logLevel": "loud"}}, `settings: logLevel: "loud" is not one of trace, debug, info, warn, error`},
		{"missing file", Sources{File: filepath.Join(dir, "nope.yaml")}, "settings file: open"},
		{"two documents", Sources{File: write("logLevel: info\n---\nlogLevel: debug\n")}, "s2.yaml:3: a settings file holds one YAML document"},
		{"alias bomb", Sources{File: write("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n")}, "YAML aliases expand to more than 100000 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSecretLookup(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "creds"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "creds", "username"), []byte("operator\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Secrets{Dir: dir, Env: map[string]string{"creds/password": "THERMO_PASS"}}
	env := func(k string) (string, bool) {
		if k == "THERMO_PASS" {
			return "s3cret", true
		}
		return "", false
	}
	if v, err := s.Lookup("creds/username", env); err != nil || string(v) != "operator" {
		t.Errorf("from dir: got %q, %v", v, err)
	}
	if v, err := s.Lookup("creds/password", env); err != nil || string(v) != "s3cret" {
		t.Errorf("from env: got %q, %v", v, err)
	}
	if _, err := s.Lookup("../etc/passwd", env); err == nil || !strings.Contains(err.Error(), `relative path without ".."`) {
		t.Errorf("escape: got %v", err)
	}
	if _, err := (Secrets{}).Lookup("x", env); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Errorf("unconfigured: got %v", err)
	}
}

// With no file, environment or flag, the settings are exactly the
// defaults: every default reaches the loaded settings.
func TestLoadNothingIsDefaults(t *testing.T) {
	s, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if want := Defaults(); !reflect.DeepEqual(*s, want) {
		t.Errorf("got  %+v\nwant %+v", *s, want)
	}
}
