package homeassistant_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/http-connector/http-connector/examples/homeassistant"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/testing/examplerun"
	"github.com/http-connector/http-connector/internal/testing/logbuf"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// The walkthrough of the README, end to end: the example's device, asset
// and settings against the simulated Home Assistant, the embedded broker
// and a subscriber. Then the token is rotated as an operator does it: Home
// Assistant takes a new one and the old one is refused at once, and the
// secret file gets the new one a little later. The samples fail in
// between, and resume with the new token without a restart.
func TestConnectorWalkthrough(t *testing.T) {
	ha := homeassistant.New(homeassistant.Options{Token: "token-1-Qm3vXr8", Seed: 1})
	seen := &tokens{}
	srv := httptest.NewServer(seen.wrap(ha.Handler()))
	defer srv.Close()
	b := mqtttest.Embedded(t)
	sub := mqtttest.Subscribe(t, b.Connect(t, "subscriber"), "home/#")
	secrets := t.TempDir()
	writeSecret(t, secrets, "homeassistant/token", "token-1-Qm3vXr8")
	logs := runConnector(t, configAt(t, strings.TrimPrefix(srv.URL, "http://")), b.URL(), secrets)

	sub.Wait(t, 3)
	ha.SetToken("token-2-Lp5wZk1")
	wait.For(t, "the refusal logged", func() bool { return logs.Count("the device refuses the endpoint's credentials") > 0 })
	before := sub.Len()
	writeSecret(t, secrets, "homeassistant/token", "token-2-Lp5wZk1")
	wait.Until(t, "messages with the new token", func() error {
		if n, ok := sub.Len()-before, seen.accepted("token-2-Lp5wZk1"); n < 3 || ok < 6 {
			return fmt.Errorf("%d messages since the secret changed, %d requests accepted with the new token", n, ok)
		}
		return nil
	})

	msgs := sub.All()
	for i, m := range msgs {
		if m.Topic != "home/living-room/climate" || m.QoS != 1 || m.Retain || m.ContentType != "application/json" || m.MessageExpiry == 0 || m.MessageExpiry > 60 {
			t.Errorf("message %d: topic %q QoS %d retain %v content type %q expiry %d, want home/living-room/climate, QoS 1, no retain, application/json, at most 60 s",
				i, m.Topic, m.QoS, m.Retain, m.ContentType, m.MessageExpiry)
		}
		var p struct {
			Temperature, Humidity         *float64
			TemperatureUnit, HumidityUnit string
			LastUpdated                   string
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatalf("message %d: %s: %v", i, m.Payload, err)
		}
		_, terr := time.Parse("2006-01-02T15:04:05.999999-07:00", p.LastUpdated)
		if p.Temperature == nil || *p.Temperature < 18 || *p.Temperature > 25 || p.TemperatureUnit != "°C" ||
			p.Humidity == nil || *p.Humidity < 30 || *p.Humidity > 70 || p.HumidityUnit != "%" || terr != nil {
			t.Errorf("message %d: %s, want a temperature in 18 … 25 °C, a humidity in 30 … 70 %% and the time of the last update", i, m.Payload)
		}
	}
	if st := ha.Stats(); st.Unauthorized == 0 || seen.accepted("token-1-Qm3vXr8") < 6 {
		t.Errorf("stats %+v, %d requests accepted with the first token: the test did not go through a rotation", st, seen.accepted("token-1-Qm3vXr8"))
	}
	if logs.Count("device credentials changed; reconnecting its assets") == 0 {
		t.Errorf("the connector did not say it took the new token:\n%s", logs)
	}
	if strings.Contains(logs.String(), "token-1-Qm3vXr8") || strings.Contains(logs.String(), "token-2-Lp5wZk1") {
		t.Errorf("a token is in the logs:\n%s", logs)
	}
}

// tokens counts the requests the server accepted, by bearer token.
type tokens struct {
	mu sync.Mutex
	ok map[string]int
}

func (c *tokens) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &status{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		if rec.code == http.StatusOK {
			c.mu.Lock()
			if c.ok == nil {
				c.ok = map[string]int{}
			}
			c.ok[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]++
			c.mu.Unlock()
		}
	})
}

func (c *tokens) accepted(token string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok[token]
}

type status struct {
	http.ResponseWriter
	code int
}

func (s *status) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// writeSecret replaces a secret file at once, as a Kubernetes secret
// volume does: the connector never reads half a token.
func writeSecret(t *testing.T, dir, name, value string) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".new", []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// configAt copies the example's configuration folder into a temporary
// folder with the server at addr and samples every 100 ms instead of 5 s,
// and returns that folder.
func configAt(t *testing.T, addr string) string {
	t.Helper()
	return examplerun.ReplaceOnce(t, "config", map[string]string{"http://127.0.0.1:8123": "http://" + addr, `"samplingInterval": 5000`: `"samplingInterval": 100`})
}

// runConnector runs the standalone connector until the test ends, on the
// configuration folder dir with the example's settings.yaml, the secrets
// of the folder secrets instead of the example's, and the broker at
// brokerURL; it reads the secrets again every 50 ms instead of 10 s. It
// logs at debug level into logs.
func runConnector(t *testing.T, dir, brokerURL, secrets string) (logs *logbuf.Buffer) {
	t.Helper()
	s, err := settings.Load(settings.Sources{File: "settings.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Secrets.Dir != "examples/homeassistant/secrets" {
		t.Fatalf("settings.yaml: secrets.dir %q: the test replaces examples/homeassistant/secrets", s.Secrets.Dir)
	}
	s.Config, s.Broker, s.ClientID, s.Secrets.Dir = dir, brokerURL, "connector", secrets
	return examplerun.StartWith(t, s, examplerun.Options{SecretsPeriod: 50 * time.Millisecond}).Logs
}
