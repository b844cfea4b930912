package shelly_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/examples/shelly"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/testing/examplerun"
	"github.com/http-connector/http-connector/internal/testing/logbuf"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// The walkthrough of the README, end to end: the example's device, asset
// and settings against the simulated Shelly with authentication on, the
// embedded broker and a subscriber. The device's nonces go stale every
// three requests, as a real device's do after their reuse limit, and no
// sample may fail for it.
func TestConnectorWalkthrough(t *testing.T) {
	dev := shelly.New(shelly.Options{Password: "s3cret", Seed: 1, NonceUses: 3})
	srv := httptest.NewServer(dev.Handler())
	defer srv.Close()
	b := mqtttest.Embedded(t)
	sub := mqtttest.Subscribe(t, b.Connect(t, "subscriber"), "shelly/#")
	env := map[string]string{"SHELLY_USERNAME": shelly.User, "SHELLY_PASSWORD": "s3cret"}
	logs, stop := runConnector(t, configAt(t, strings.TrimPrefix(srv.URL, "http://")), b.URL(), env)

	const samples = 12 // four nonces
	msgs := sub.Wait(t, samples)
	stop()
	for i, m := range msgs {
		if m.Topic != "shelly/plus1pm/switch0" || m.QoS != 1 || m.Retain || m.ContentType != "application/json" || m.MessageExpiry == 0 || m.MessageExpiry > 60 {
			t.Errorf("message %d: topic %q QoS %d retain %v content type %q expiry %d, want shelly/plus1pm/switch0, QoS 1, no retain, application/json, at most 60 s",
				i, m.Topic, m.QoS, m.Retain, m.ContentType, m.MessageExpiry)
		}
		var p struct {
			Output                                       *bool
			Power, Voltage, Current, Energy, Temperature *float64
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatalf("message %d: %s: %v", i, m.Payload, err)
		}
		for _, v := range []struct {
			name   string
			v      *float64
			lo, hi float64
		}{
			{"power", p.Power, 8, 9},                 // 8.5 W ± 2 %
			{"voltage", p.Voltage, 225, 235},         // 230 V
			{"current", p.Current, 0.18, 0.23},       // 8.5 W / (230 V × pf 0.18)
			{"energy", p.Energy, 1234.567, 1234.600}, // Wh, counting from 1234.567
			{"temperature", p.Temperature, 35, 50},   // °C, near 42
		} {
			if v.v == nil || *v.v < v.lo || *v.v > v.hi {
				t.Errorf("message %d: %s: %s is %s, want %v … %v", i, m.Payload, v.name, fmtPtr(v.v), v.lo, v.hi)
			}
		}
		if p.Output == nil || !*p.Output {
			t.Errorf("message %d: %s: want output true", i, m.Payload)
		}
	}

	// Every request the device answered came from a sample that
	// published: each 401 but the first said stale, and each was answered
	// at once with the new nonce.
	s := dev.Stats()
	if s.Stale < 3 {
		t.Errorf("device stats %+v: want at least 3 stale nonces in %d samples of 3 nonce uses", s, len(msgs))
	}
	if s.Unauthorized != s.Stale+1 || s.Requests != s.Authenticated+s.Unauthorized {
		t.Errorf("device stats %+v: want one 401 for the first challenge, the others stale, each followed by an authenticated request", s)
	}
	wait.Until(t, "every authenticated sample delivered", func() error {
		// the last sample may have been stopped between the device's
		// answer and the publish
		if n := sub.Len(); n < s.Authenticated-1 || n > s.Authenticated {
			return fmt.Errorf("%d messages for %d authenticated requests", n, s.Authenticated)
		}
		return nil
	})
	for _, r := range logs.Records() {
		if r["level"] == "warn" || r["level"] == "error" || r["message"] == "request failed; retrying" {
			t.Errorf("connector logged %v", r)
		}
	}
}

// configAt copies the example's configuration folder into a temporary
// folder with the device at addr and samples every 100 ms instead of 2 s,
// and returns that folder.
func configAt(t *testing.T, addr string) string {
	t.Helper()
	return examplerun.ReplaceOnce(t, "config", map[string]string{"http://127.0.0.1:8081": "http://" + addr, `"samplingInterval": 2000`: `"samplingInterval": 100`})
}

// runConnector runs the standalone connector on the configuration folder
// dir with the example's settings.yaml, its environment variables env and
// the broker at brokerURL, logging at debug level into logs. stop stops it;
// it is also stopped when the test ends.
func runConnector(t *testing.T, dir, brokerURL string, env map[string]string) (logs *logbuf.Buffer, stop func()) {
	t.Helper()
	s, err := settings.Load(settings.Sources{File: "settings.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	s.Config, s.Broker, s.ClientID = dir, brokerURL, "connector"
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	run := examplerun.StartWith(t, s, examplerun.Options{Getenv: getenv})
	return run.Logs, func() { run.Stop(t) }
}

func fmtPtr(v *float64) string {
	if v == nil {
		return "missing"
	}
	return fmt.Sprint(*v)
}
