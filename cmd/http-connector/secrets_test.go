package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/testing/logbuf"
	"github.com/http-connector/http-connector/internal/testing/testcert"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// TestSecretsNeverShow runs validate, try and run on a configuration with a
// user name and password (one from a file, one from the environment), a
// client certificate and key, a mismatched key and a broker password, and
// a device for each authentication scheme of additionalConfiguration
// (secrets_schemes_test.go), at trace level, with devices that accept and
// refuse them, and scans everything written for the secrets.
func TestSecretsNeverShow(t *testing.T) {
	f := newSecretsFixture(t)
	if code, stdout, stderr := f.cli(context.Background(), "validate"); code != exitOK {
		t.Fatalf("validate: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, asset := range f.assets {
		for _, format := range []string{"console", "json"} {
			_, stdout, _ := f.cli(context.Background(), "try", "--asset", asset, "--log-format", format)
			// The working devices must really have been reached with the
			// secrets, and try shows the login and token requests.
			for _, want := range f.trySays[asset] {
				if !strings.Contains(stdout, want) {
					t.Errorf("try --asset %s --log-format %s does not say %q:\n%s", asset, format, want, stdout)
				}
			}
		}
	}
	for _, format := range []string{"console", "json"} {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		code, _, stderr := f.cli(ctx, "run", "--log-format", format)
		cancel()
		if code != exitOK {
			t.Errorf("run --log-format %s: exit %d\n%s", format, code, stderr)
		}
		for _, want := range f.runSays {
			if !strings.Contains(stderr, want) {
				t.Errorf("run --log-format %s: the logs do not say %q: the test does not exercise the failures", format, want)
			}
		}
		for _, device := range f.refused {
			if !refusedIn(stderr, device) {
				t.Errorf("run --log-format %s: the logs do not say that device %s refuses the endpoint's credentials", format, device)
			}
		}
	}
	f.statusPage(t)
	for _, check := range f.checks {
		check(t)
	}
	f.noLeaks(t)
}

// statusPage runs the connector with its status page and records what
// the page's API shows: every dataset, the connector and its settings, a
// try of every dataset, and the metrics.
func (f *secretsFixture) statusPage(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var logs logbuf.Buffer
	done := make(chan int, 1)
	args := []string{"run", "--config", filepath.Join(f.dir, "config"), "--log-level", "trace", "--log-format", "json",
		"--metrics-addr", "127.0.0.1:0", "--status-page"}
	environ := append(slices.Clip(f.environ), "HTTP_CONNECTOR_PPROF=127.0.0.1:0")
	go func() { done <- run(ctx, args, environ, io.Discard, &logs) }()
	defer func() {
		cancel()
		code := <-done
		f.mu.Lock()
		fmt.Fprintf(&f.out, "### run with the status page (exit %d)\n%s", code, logs.String())
		f.mu.Unlock()
	}()
	c := &opsConnector{logs: &logs}
	c.waitForListener(t, nil)
	var list struct {
		Rows []struct{ Asset, Dataset string }
	}
	wait.Until(t, "every dataset sampled", func() error {
		code, body := c.get("/api/datasets?size=500")
		if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil {
			return fmt.Errorf("%d %s", code, body)
		}
		if strings.Contains(body, `"samples":0`) {
			return errors.New("some dataset not sampled yet")
		}
		return nil
	})
	record := func(what string, code int, body string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		fmt.Fprintf(&f.out, "### status page %s (%d)\n%s\n", what, code, body)
	}
	for _, path := range []string{"/api/datasets?size=500", "/api/connector", "/api/mappings", "/metrics"} {
		code, body := c.get(path)
		if code != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
		if path == "/metrics" && len(list.Rows) > 0 && !strings.Contains(body, fmt.Sprintf(`aio_rest_connector_messages_received{asset=%q`, list.Rows[0].Asset)) {
			t.Errorf("/metrics has no series of asset %s: the secrets test would not see what the metrics show", list.Rows[0].Asset)
		}
		record(path, code, body)
	}
	for _, r := range list.Rows {
		code, body := c.post(t, "/api/try", fmt.Sprintf(`{"asset":%q,"dataset":%q}`, r.Asset, r.Dataset))
		record("try "+r.Asset+" "+r.Dataset, code, body)
	}
	// The pprof pages, as whoever debugs the running connector reads them.
	var pprof string
	for _, r := range logs.Records() {
		if r["message"] == "serving pprof" {
			pprof = fmt.Sprint(r["address"])
		}
	}
	if pprof == "" {
		t.Fatal("no pprof address in the logs")
	}
	for _, page := range []string{"cmdline", "goroutine?debug=2", "heap?debug=1", "allocs?debug=1"} {
		resp, err := http.Get("http://" + pprof + "/debug/pprof/" + page)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("pprof %s: %s", page, resp.Status)
		}
		record("pprof "+page, resp.StatusCode, string(b))
	}
}

// refusedIn reports whether a line of the logs says that device refuses
// its endpoint's credentials, in the console or the JSON format.
func refusedIn(logs, device string) bool {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "the device refuses the endpoint's credentials") &&
			(strings.Contains(line, "device="+device+" ") || strings.Contains(line, `"device":"`+device+`"`)) {
			return true
		}
	}
	return false
}

const (
	secretUser           = "svc-reader"
	secretPassword       = "pw-Qx7vL2mZ9sT4"
	secretBrokerPassword = "broker-pw-Hn3Kd8Wq"
)

// secretsFixture is a configuration whose devices need secrets, the
// devices, and the output of every command run on it.
type secretsFixture struct {
	dir     string
	environ []string
	assets  []string            // the assets to try
	trySays map[string][]string // what try of an asset must write
	runSays []string            // what the logs of run must say
	refused []string            // the devices run must say refuse the credentials
	checks  []func(*testing.T)  // run after the commands: the devices saw what they should
	mu      sync.Mutex
	leaks   map[string]string // what must never show, by name; devices add what they are sent
	out     bytes.Buffer
}

// newSecretsFixture starts a device that wants the password, one that
// refuses it, one that wants the client certificate over TLS, and the
// devices of addSchemes, and writes their configuration and secrets.
func newSecretsFixture(t *testing.T) *secretsFixture {
	t.Helper()
	client := testcert.Leaf(t, "connector", nil)
	certPEM, keyPEM := string(client.CertPEM()), string(client.KeyPEM(t))
	otherKeyPEM := string(testcert.Leaf(t, "other", nil).KeyPEM(t))
	basic := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != secretUser || p != secretPassword {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"temperature": 21.5}`)
	}))
	t.Cleanup(basic.Close)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="device"`)
		http.Error(w, "bad credentials", http.StatusUnauthorized)
	}))
	t.Cleanup(refusing.Close)
	mtls := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		io.WriteString(w, `{"pressure": 1013}`)
	}))
	mtls.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	mtls.StartTLS()
	t.Cleanup(mtls.Close)
	serverCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: mtls.Certificate().Raw})

	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	f := &secretsFixture{
		dir: dir,
		environ: []string{
			"DEVICE_PASSWORD=" + secretPassword,
			"HTTP_CONNECTOR_EMBEDDED_BROKER=127.0.0.1:0",
			"HTTP_CONNECTOR_SETTINGS=" + filepath.Join(dir, "settings.yaml"),
		},
		assets:  []string{"basic", "refusing", "mtls", "mismatch"},
		trySays: map[string][]string{"basic": {"21.5"}, "mtls": {"1013"}},
		runSays: []string{"HTTP 401 Unauthorized", "private key does not match public key"},
		refused: []string{"refusing"},
		leaks: map[string]string{
			"the password":          secretPassword,
			"the Basic credentials": base64.StdEncoding.EncodeToString([]byte(secretUser + ":" + secretPassword)),
			"the broker password":   secretBrokerPassword,
			"the client key":        pemBody(keyPEM),
			"the mismatched key":    pemBody(otherKeyPEM),
		},
	}
	files := map[string]string{
		"secrets/creds/user":       secretUser,
		"secrets/certs/client.crt": certPEM,
		"secrets/certs/client.key": keyPEM,
		"secrets/certs/other.key":  otherKeyPEM,
		"secrets/certs/device-ca":  string(serverCA),
		"broker-password":          secretBrokerPassword + "\n",
		"config/devices.yaml": secretDevice("basic", basic.URL, "UsernamePassword", "") + "---\n" +
			secretDevice("refusing", refusing.URL, "UsernamePassword", "") + "---\n" +
			secretDevice("mtls", mtls.URL, "Certificate", "certs/client.key") + "---\n" +
			secretDevice("mismatch", mtls.URL, "Certificate", "certs/other.key"),
		"config/assets.yaml": secretAsset("basic") + "---\n" + secretAsset("refusing") + "---\n" +
			secretAsset("mtls") + "---\n" + secretAsset("mismatch"),
		"settings.yaml": fmt.Sprintf(`brokerUsername: connector
brokerPasswordFile: %s
secrets:
  dir: %s
  env:
    creds/pass: DEVICE_PASSWORD
`, filepath.Join(dir, "broker-password"), secrets),
	}
	f.addSchemes(t, files)
	writeFiles(t, dir, files)
	for _, line := range strings.Split(keyPEM, "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			f.leaks["a line of the client key"] = line
		}
	}
	return f
}

// cli runs a command on the fixture's configuration, at trace level, and
// records its output.
func (f *secretsFixture) cli(ctx context.Context, args ...string) (int, string, string) {
	args = append(args, "--config", filepath.Join(f.dir, "config"), "--log-level", "trace")
	var o, e logbuf.Buffer // written from the connector's goroutines
	code := run(ctx, args, f.environ, &o, &e)
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(&f.out, "### %s (exit %d)\n%s%s", args[0], code, o.String(), e.String())
	return code, o.String(), e.String()
}

// leak adds a secret that must never show, such as one a device was sent
// or handed out.
func (f *secretsFixture) leak(what, secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leaks[what] = secret
}

// noLeaks checks that no secret appears in anything the commands wrote.
func (f *secretsFixture) noLeaks(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	all := f.out.String()
	leaks := maps.Clone(f.leaks)
	f.mu.Unlock()
	for what, secret := range leaks {
		if strings.Contains(all, secret) {
			i := strings.Index(all, secret)
			t.Errorf("%s appears in the output: …%s…", what, all[max(0, i-200):min(len(all), i+len(secret)+50)])
		}
	}
	if testing.Verbose() {
		t.Logf("scanned %d bytes of output for %d secrets:\n%s", len(all), len(leaks), all)
	}
}

func secretDevice(name, address, method, keySecret string) string {
	auth := `
          usernamePasswordCredentials:
            usernameSecretName: creds/user
            passwordSecretName: creds/pass`
	trust := ""
	if method == "Certificate" {
		auth = `
          x509Credentials:
            certificateSecretName: certs/client.crt
            keySecretName: ` + keySecret
		trust = `
        trustSettings:
          trustList: certs/device-ca`
	}
	return fmt.Sprintf(`apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata:
  name: %s
spec:
  endpoints:
    inbound:
      http:
        address: %s
        endpointType: Microsoft.Http
        authentication:
          method: %s%s%s
`, name, address, method, auth, trust)
}

func secretAsset(name string) string {
	return fmt.Sprintf(`apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata:
  name: %[1]s
spec:
  deviceRef:
    deviceName: %[1]s
    endpointName: http
  datasets:
    - name: reading
      dataSource: /reading
      datasetConfiguration: '{"samplingInterval": 200}'
      destinations:
        - target: Mqtt
          configuration:
            topic: secrets/%[1]s
`, name)
}

// pemBody is the base64 of a PEM block on one line.
func pemBody(s string) string {
	b, _ := pem.Decode([]byte(s))
	return base64.StdEncoding.EncodeToString(b.Bytes)
}
