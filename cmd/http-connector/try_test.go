package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

const tryDevice = `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata: {name: thermostat}
spec:
  endpoints:
    inbound:
      rest: {address: %q, endpointType: Microsoft.Http}
`

const tryAsset = `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: {name: t1}
spec:
  deviceRef: {deviceName: thermostat, endpointName: rest}
  attributes: {room: lab}
  datasets:
    - name: status
      datasetConfiguration: '{"samplingInterval": 4000, "mapping": "thermostat/status"}'
      dataPoints:
        - {name: currentTemperature, dataSource: /current}
        - {name: desiredTemperature, dataSource: /desired}
      destinations:
        - {target: Mqtt, configuration: {topic: t/status, qos: Qos1, retain: Keep, ttl: 60}}
    - name: room
      datasetConfiguration: '{"mapping": "lab/room"}'
      dataSource: /current
      destinations:
        - {target: Mqtt, configuration: {topic: t/room, qos: Qos0}}
`

const tryMappings = `namespace: lab
mappings:
  room:
    kind: dataset
    jq: 'select(.currentTemperature > 100) | {room: $assetAttributes.room}'
`

// timings hides what changes from run to run.
var timings = regexp.MustCompile(`in [0-9.]+(µs|ms|s),|sampled at \S+|"timestamp":"[^"]+"|127\.0\.0\.1:[0-9]+`)

func TestTry(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/current":
			fmt.Fprint(w, `{"currentTemperature": 71.3}`)
		case "/desired":
			fmt.Fprint(w, `{"desiredTemperature": 72.5, "padding": "`+strings.Repeat("x", 40)+`"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"device.yaml":       fmt.Sprintf(tryDevice, srv.URL),
		"asset.yaml":        tryAsset,
		"mappings/lab.yaml": tryMappings,
	})

	code, out, errs := runCLI(t, "try", "--config", dir, "--asset", "t1", "--body-limit", "30")
	out = timings.ReplaceAllString(out, "<varies>")
	want := `asset "t1" dataset "status": every 4s, request timeout 3.2s, mapping thermostat/status
<varies>
  request GET http://<varies>/current
    200 OK <varies> application/json, 28 bytes
    {"currentTemperature": 71.3}
  request GET http://<varies>/desired
    200 OK <varies> application/json, 83 bytes
    {"desiredTemperature": 72.5, "… (53 more bytes)
  value currentTemperature = 71.3
  value desiredTemperature = 72.5
  message to t/status: qos 1, retain yes, expiry 1m0s, content type application/json, UTF-8 payload
    {"asset":"t1","currentTemperature":21.8,"desiredTemperature":22.5,"heating":true,<varies>,"unit":"°C"}

asset "t1" dataset "room": every 1s, request timeout 800ms, mapping lab/room
<varies>
  request GET http://<varies>/current
    200 OK <varies> application/json, 28 bytes
    {"currentTemperature": 71.3}
  no message: the mapping gave no output, so nothing is published for this sample (filtered)
`
	if code != exitOK || out != want {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, want, errs)
	}

	code, out, _ = runCLI(t, "try", "--config", dir, "--asset", "t1", "--dataset", "room")
	if code != exitOK || strings.Contains(out, `dataset "status"`) {
		t.Errorf("--dataset room: exit %d\n%s", code, out)
	}
	code, _, errs = runCLI(t, "try", "--config", dir, "--asset", "t1", "--dataset", "nope")
	if code != exitFailure || errs != "http-connector try: asset \"t1\" has no dataset \"nope\" (datasets: \"status\", \"room\")\n" {
		t.Errorf("unknown dataset: exit %d: %q", code, errs)
	}
	code, _, errs = runCLI(t, "try", "--config", dir, "--asset", "t2")
	if code != exitFailure || errs != "http-connector try: no asset \"t2\" in "+dir+" (assets: \"t1\")\n" {
		t.Errorf("unknown asset: exit %d: %q", code, errs)
	}
	if code, _, _ := runCLI(t, "try", "--config", dir); code != exitUsage {
		t.Errorf("no --asset: exit %d, want %d", code, exitUsage)
	}
}

func TestTryUnreachableDevice(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"device.yaml":       fmt.Sprintf(tryDevice, "http://"+addr),
		"asset.yaml":        tryAsset,
		"mappings/lab.yaml": tryMappings,
	})
	code, out, _ := runCLI(t, "try", "--config", dir, "--asset", "t1", "--dataset", "status")
	out = timings.ReplaceAllString(out, "<varies>")
	want := `asset "t1" dataset "status": every 4s, request timeout 3.2s, mapping thermostat/status
<varies>
  request GET http://<varies>/current
    failed: dial tcp <varies>: connect: connection refused
  request GET http://<varies>/desired
    failed: dial tcp <varies>: connect: connection refused
  no message: the sample failed: GET http://<varies>/current: dial tcp <varies>: connect: connection refused; GET http://<varies>/desired: dial tcp <varies>: connect: connection refused
`
	if code != exitFailure || out != want {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s", code, out, want)
	}
}
