package s7webapi_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/http-connector/http-connector/examples/s7webapi"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/testing/examplerun"
	"github.com/http-connector/http-connector/internal/testing/logbuf"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// clock is the CPU's clock, which the test moves on to end its sessions.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// The walkthrough of the README, end to end: the example's device, asset
// and settings against the simulated CPU over HTTPS, trusting its
// certificate by the trust list, with the embedded broker and a
// subscriber. Three times the CPU's session ends (its clock moves past the
// 120 s a session lives without a call): each time the connector logs in
// once again, for all the calls of the sample, and no sample fails. The
// data point counter counts the CPU's reads of it, so consecutive messages
// carry consecutive counts: no sample lost, no read made twice.
func TestConnectorWalkthrough(t *testing.T) {
	clk := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	plc, err := s7webapi.New(s7webapi.Options{User: "admin", Password: "s3cret", Seed: 1, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(plc.Handler())
	srv.TLS = plc.TLSConfig()
	srv.StartTLS()
	defer srv.Close()
	cert := filepath.Join(t.TempDir(), "plc-1.pem")
	if err := os.WriteFile(cert, plc.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	b := mqtttest.Embedded(t)
	sub := mqtttest.Subscribe(t, b.Connect(t, "subscriber"), "plant/#")
	env := map[string]string{"S7_USERNAME": "admin", "S7_PASSWORD": "s3cret"}
	logs, stop := runConnector(t, configAt(t, srv.URL), b.URL(), env, cert)

	sub.Wait(t, 3)
	const expiries = 3
	for i := 1; i <= expiries; i++ {
		before := sub.Len()
		clk.advance(121 * time.Second)
		wait.Until(t, fmt.Sprintf("messages after session %d ended", i), func() error {
			if n, s := sub.Len()-before, plc.Stats(); n < 3 || s.Logins < i+1 {
				return fmt.Errorf("%d messages, stats %+v", n, s)
			}
			return nil
		})
	}
	stop()

	s := plc.Stats()
	if s.Logins != expiries+1 || s.FailedLogins != 0 {
		t.Errorf("stats %+v: want %d logins, one at the start and one per session ended, none failed", s, expiries+1)
	}
	if s.Denied < expiries || s.Denied > 4*expiries {
		t.Errorf("stats %+v: want %d to %d calls denied: at least one, at most the four of a sample, each time the session ended", s, expiries, 4*expiries)
	}
	msgs := sub.All()
	for i, m := range msgs {
		if m.Topic != "plant/line1/plc-1/process" || m.QoS != 1 || m.Retain || m.ContentType != "application/json" || m.MessageExpiry == 0 || m.MessageExpiry > 60 {
			t.Errorf("message %d: topic %q QoS %d retain %v content type %q expiry %d, want plant/line1/plc-1/process, QoS 1, no retain, application/json, at most 60 s",
				i, m.Topic, m.QoS, m.Retain, m.ContentType, m.MessageExpiry)
		}
		var p struct {
			Temperature, Pressure *float64
			Running               *bool
			Counter               *int
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatalf("message %d: %s: %v", i, m.Payload, err)
		}
		if p.Temperature == nil || *p.Temperature < 60 || *p.Temperature > 90 || p.Pressure == nil || *p.Pressure < 1 || *p.Pressure > 3 || p.Running == nil || !*p.Running {
			t.Errorf("message %d: %s, want a temperature in 60 … 90, a pressure in 1 … 3 and running", i, m.Payload)
		}
		if p.Counter == nil || *p.Counter != i+1 {
			t.Errorf("message %d: %s, want counter %d: the samples in between are lost, or a read was made twice", i, m.Payload, i+1)
		}
	}
	for _, r := range logs.Records() {
		if r["level"] == "warn" || r["level"] == "error" || r["message"] == "request failed; retrying" {
			t.Errorf("connector logged %v", r)
		}
	}
}

// configAt copies the example's configuration folder into a temporary
// folder with the CPU at url (https://host:port) and samples every 100 ms
// instead of every second, and returns that folder.
func configAt(t *testing.T, url string) string {
	t.Helper()
	return examplerun.ReplaceOnce(t, "config", map[string]string{"https://127.0.0.1:8443": url, `"samplingInterval": 1000`: `"samplingInterval": 100`})
}

// runConnector runs the standalone connector on the configuration folder
// dir with the example's settings.yaml, its environment variables env, the
// CPU's certificate from the file cert instead of /tmp/plc-1.pem, and the
// broker at brokerURL, logging at debug level into logs. stop stops it; it
// is also stopped when the test ends.
func runConnector(t *testing.T, dir, brokerURL string, env map[string]string, cert string) (logs *logbuf.Buffer, stop func()) {
	t.Helper()
	s, err := settings.Load(settings.Sources{File: "settings.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Secrets.Files["plc-1/certificate"]; !ok {
		t.Fatalf("settings.yaml: no secrets.files for plc-1/certificate: %+v", s.Secrets)
	}
	s.Config, s.Broker, s.ClientID = dir, brokerURL, "connector"
	s.Secrets.Files["plc-1/certificate"] = cert
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	run := examplerun.StartWith(t, s, examplerun.Options{Getenv: getenv})
	return run.Logs, func() { run.Stop(t) }
}
