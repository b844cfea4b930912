package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/http-connector/http-connector/internal/testing/browser"
	"github.com/http-connector/http-connector/internal/testing/logbuf"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

const opsDevices = `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata: {name: boiler-plc}
spec:
  endpoints:
    inbound:
      rest: {address: %q, endpointType: Microsoft.Http}
---
apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata: {name: chiller-gw}
spec:
  endpoints:
    inbound:
      api: {address: %q, endpointType: Microsoft.Http}
`

const opsAssets = `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: {name: boiler-1}
spec:
  deviceRef: {deviceName: boiler-plc, endpointName: rest}
  datasets:
    - name: status
      datasetConfiguration: '{"samplingInterval": 500}'
      dataPoints:
        - {name: currentTemperature, dataSource: /current}
        - {name: desiredTemperature, dataSource: /desired}
      destinations:
        - {target: Mqtt, configuration: {topic: plant/boiler-1/status, qos: Qos1}}
---
apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: {name: chiller-7}
spec:
  deviceRef: {deviceName: chiller-gw, endpointName: api}
  datasets:
    - name: telemetry
      datasetConfiguration: '{"samplingInterval": 500}'
      dataSource: /telemetry
      destinations:
        - {target: Mqtt, configuration: {topic: plant/chiller-7/telemetry}}
---
apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: {name: pump-3}
spec:
  enabled: false
  deviceRef: {deviceName: boiler-plc, endpointName: rest}
  datasets:
    - name: flow
      dataSource: /flow
      destinations:
        - {target: Mqtt, configuration: {topic: plant/pump-3/flow}}
`

// opsConnector is a running connector with its status page: one healthy
// asset, one whose device answers 503, one disabled.
type opsConnector struct {
	base   string // http://127.0.0.1:port
	logs   *logbuf.Buffer
	config string // its folder of resource files
}

func startOpsConnector(t *testing.T, environ ...string) *opsConnector {
	t.Helper()
	boiler := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/current":
			fmt.Fprint(w, `{"currentTemperature": 71.30}`)
		case "/desired":
			fmt.Fprint(w, `{"desiredTemperature": 72.5}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(boiler.Close)
	chiller := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "compressor offline", http.StatusServiceUnavailable)
	}))
	t.Cleanup(chiller.Close)
	c := &opsConnector{logs: &logbuf.Buffer{}, config: t.TempDir()}
	writeFiles(t, c.config, map[string]string{
		"devices.yaml": fmt.Sprintf(opsDevices, boiler.URL, chiller.URL),
		"assets.yaml":  opsAssets,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done, exited := make(chan int, 1), make(chan struct{})
	go func() {
		defer close(exited)
		done <- run(ctx, []string{"run", "--config", c.config, "--metrics-addr", "127.0.0.1:0", "--status-page", "--log-format", "json"},
			append([]string{"HTTP_CONNECTOR_EMBEDDED_BROKER=127.0.0.1:0"}, environ...), io.Discard, c.logs)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("run: exit %d\n%s", code, c.logs.String())
		}
	})
	c.waitForListener(t, exited)
	wait.Until(t, "the boiler published and the chiller failing", func() error {
		var list struct {
			Rows []struct {
				Asset, State string
				Messages     int
			}
		}
		if err := c.getJSON("/api/datasets", &list); err != nil {
			return err
		}
		states := map[string]string{}
		for _, r := range list.Rows {
			if r.Asset != "boiler-1" || r.Messages > 0 {
				states[r.Asset] = r.State
			}
		}
		if states["boiler-1"] != "sampling" || !unhealthy(states["chiller-7"]) || states["pump-3"] != "disabled" {
			return fmt.Errorf("states %v", states)
		}
		return nil
	})
	return c
}

// waitForListener reads the listener's address from the JSON logs; exited
// closes if the run ends first.
func (c *opsConnector) waitForListener(t *testing.T, exited <-chan struct{}) {
	t.Helper()
	wait.For(t, "the operations listener's address in the logs", func() bool {
		select {
		case <-exited:
			t.Fatalf("run ended:\n%s", c.logs.String())
		default:
		}
		for _, r := range c.logs.Records() {
			if r["message"] == "serving /metrics, /healthz and /readyz" {
				c.base = strings.TrimSuffix(fmt.Sprint(r["url"]), "/")
				return true
			}
		}
		return false
	})
}

// unhealthy says whether a state is one of a failing device: failing, or
// backing off once it keeps failing.
func unhealthy(state string) bool { return state == "failing" || state == "backing off" }

func (c *opsConnector) get(path string) (int, string) {
	resp, err := http.Get(c.base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *opsConnector) getJSON(path string, v any) error {
	code, body := c.get(path)
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, code, body)
	}
	return json.Unmarshal([]byte(body), v)
}

// post sends a JSON request from the page's own origin, as the page does.
func (c *opsConnector) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", c.base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The operations listener of a running connector: the probes, the
// datasets with their states and the connector's settings, a live
// sample and a mapping run, none of which publishes anything.
func TestOperationsListener(t *testing.T) {
	c := startOpsConnector(t)
	if code, body := c.get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := c.get("/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}

	type rows struct {
		Rows []struct {
			Asset, Dataset, State, LastError, LastMessage, Topic string
		}
	}
	var list rows
	if err := c.getJSON("/api/datasets?state=failing,backing+off", &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Rows) != 1 || list.Rows[0].Asset != "chiller-7" || !strings.Contains(list.Rows[0].LastError, "503") {
		t.Errorf("failing datasets: %+v, want chiller-7 with its device's 503", list.Rows)
	}
	list = rows{}
	if err := c.getJSON("/api/datasets?q=boiler-1", &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Rows) != 1 || list.Rows[0].LastMessage != `{"currentTemperature":71.30,"desiredTemperature":72.5}` ||
		list.Rows[0].Topic != "plant/boiler-1/status" || list.Rows[0].LastError != "" {
		t.Errorf("boiler datasets: %+v, want its last message", list.Rows)
	}

	var conn struct {
		Connected bool
		Assets    int
		Settings  map[string]any
	}
	if err := c.getJSON("/api/connector", &conn); err != nil {
		t.Fatal(err)
	}
	if !conn.Connected || conn.Assets != 2 || conn.Settings["statusPage"] != true || conn.Settings["metricsAddr"] != "127.0.0.1:0" {
		t.Errorf("connector: %+v", conn)
	}

	code, body := c.post(t, "/api/try", `{"asset":"boiler-1","dataset":"status"}`)
	if code != http.StatusOK || !strings.Contains(body, `"url":"http://127.0.0.1:`) || !strings.Contains(body, `"topic":"plant/boiler-1/status"`) {
		t.Errorf("try: %d %s", code, body)
	}
	code, body = c.post(t, "/api/try", `{"asset":"chiller-7","dataset":"telemetry"}`)
	if code != http.StatusOK || !strings.Contains(body, `"status":503`) || !strings.Contains(body, "compressor offline") {
		t.Errorf("try of the failing dataset: %d %s", code, body)
	}
	code, body = c.post(t, "/api/map", `{"asset":"boiler-1","dataset":"status","input":{"currentTemperature":71.3},"jq":"{f: .currentTemperature, asset: $asset}"}`)
	var mapped struct {
		Messages []struct{ Topic, Payload string }
		TestCase string
	}
	if err := json.Unmarshal([]byte(body), &mapped); code != http.StatusOK || err != nil || len(mapped.Messages) != 1 ||
		mapped.Messages[0] != struct{ Topic, Payload string }{"plant/boiler-1/status", `{"asset":"boiler-1","f":71.3}`} ||
		!strings.Contains(mapped.TestCase, `output: {"asset":"boiler-1","f":71.3}`) {
		t.Errorf("map: %d %s", code, body)
	}
	code, body = c.post(t, "/api/try", `{"asset":"pump-3","dataset":"flow"}`)
	if code != http.StatusNotFound {
		t.Errorf("try of a disabled asset: %d %s, want 404", code, body)
	}
	// Another origin (a web page the operator has open) may not sample.
	req, _ := http.NewRequest(http.MethodPost, c.base+"/api/try", bytes.NewReader([]byte(`{"asset":"boiler-1","dataset":"status"}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-origin try: %v %v, want 403", resp.Status, err)
	}
}

// The status page of a running connector in Chromium: both states show,
// and the playground maps a live sample with an edited jq.
func TestStatusPageInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	b, problems := browser.Start(t, ctx)
	c := startOpsConnector(t)

	browser.Do(t, b, "load the page", chromedp.Navigate(c.base+"/"))
	browser.WaitFor(t, b, "the three rows", `document.querySelectorAll('#rows tr:not(.detail)').length === 3`)
	states := browser.Read[map[string]string](t, b, `Object.fromEntries([...document.querySelectorAll('#rows tr:not(.detail)')].map(tr =>
		[tr.querySelector('.col-asset .name').textContent, tr.querySelector('.col-state').textContent]))`)
	if states["boiler-1"] != "sampling" || !unhealthy(states["chiller-7"]) || states["pump-3"] != "disabled" {
		t.Errorf("the page shows the states %v", states)
	}
	if s := browser.Read[string](t, b, `document.querySelector('#rows tr:first-child .col-error').textContent`); !strings.Contains(s, "503") {
		t.Errorf("the failing row's error: %q", s)
	}

	browser.Do(t, b, "open the playground", chromedp.Click(chromedp.ID("tab-playground")))
	browser.Do(t, b, "search for boiler-1", chromedp.SendKeys(chromedp.ID("pg-search"), "boiler-1"))
	browser.WaitFor(t, b, "boiler-1 found", `document.querySelectorAll('#pg-datasets option').length === 1`)
	browser.Do(t, b, "pick boiler-1", chromedp.Click(chromedp.CSS("#pg-datasets option")))
	browser.WaitFor(t, b, "boiler-1 picked", `document.getElementById('pg-picked').textContent === 'boiler-1 / status'`)
	browser.Do(t, b, "fetch a live sample", chromedp.Click(chromedp.ID("pg-fetch")))
	browser.WaitFor(t, b, "the live sample", `document.getElementById('pg-input').value.includes('"currentTemperature": 71.3')`)
	browser.Do(t, b, "edit the jq",
		chromedp.Click(chromedp.ID("pg-jq")),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent(`{celsius: ((.currentTemperature - 32) * 5 / 9 | floor), asset: $asset}`),
		chromedp.Click(chromedp.ID("pg-run")))
	browser.WaitFor(t, b, "the new message", `document.getElementById('pg-result').innerText.includes('{"asset":"boiler-1","celsius":21}')`)
	if s := browser.Read[string](t, b, `document.getElementById('pg-result').innerText`); !strings.Contains(s, "plant/boiler-1/status") {
		t.Errorf("the result has no topic:\n%s", s)
	}
	for _, p := range problems() {
		t.Errorf("the page: %s", p)
	}
}
