package folder_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/examples/thermostat"
	"github.com/http-connector/http-connector/internal/broker"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/source/folder"
	"github.com/http-connector/http-connector/internal/testing/logbuf"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

const reloadDevice = `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata: {name: thermostat}
spec:
  endpoints:
    inbound:
      rest: {address: %q, endpointType: Microsoft.Http}
`

const reloadAsset = `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: {name: t1}
spec:
  deviceRef: {deviceName: thermostat, endpointName: rest}
  attributes: {site: berlin}
  datasets:
    - name: status
      datasetConfiguration: '{"samplingInterval": 40, "mapping": "site/status"}'
      dataPoints:
        - {name: currentTemperature, dataSource: /api/thermostat/current}
        - {name: desiredTemperature, dataSource: /api/thermostat/desired}
      destinations:
        - {target: Mqtt, configuration: {topic: %s}}
`

const reloadMapping = `namespace: site
mappings:
  status:
    kind: dataset
    jq: |
      {version: %d, site: $assetAttributes.site, desired: .desiredTemperature}
`

// aliasBomb is a mapping file whose aliases expand to 10^levels values.
func aliasBomb(levels int) string {
	var b strings.Builder
	b.WriteString("namespace: site\nx0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	fmt.Fprintf(&b, "mappings:\n  status: {kind: dataset, jq: ., description: *a%d}\n", levels-1)
	return b.String()
}

// writeFile replaces a file the way editors do: a new file renamed over it.
func writeFile(t *testing.T, path, text string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// A mapping file referenced by an asset shapes the published message; when
// it changes on disk the next messages follow the new version, a broken
// edit keeps the last good one running, and a changed resource file is
// applied too.
func TestReloadMappingFile(t *testing.T) {
	r := startReloadRun(t)
	first := r.sub.Wait(t, 1)
	if got := string(first[0].Payload); got != `{"desired":72.5,"site":"berlin","version":1}` {
		t.Fatalf("first message: got %s, want the mapping file's version 1 with the asset attribute", got)
	}

	// A broken edit: reported once, version 1 keeps running.
	writeFile(t, r.mappingFile, strings.Replace(fmt.Sprintf(reloadMapping, 2), "desired: .desiredTemperature}", "desired: .desiredTemperature", 1))
	wait.For(t, "report of the broken mapping", func() bool {
		return strings.Contains(r.logs.String(), "configuration change not applied")
	})
	r.stillVersion1(t, "a broken edit")
	if n := strings.Count(r.logs.String(), "configuration change not applied"); n != 1 {
		t.Errorf("the broken edit was reported %d times, want once", n)
	}
	if !strings.Contains(r.logs.String(), `site.yaml:6:77: mapping \"site/status\": mappings.status.jq: jq syntax error: unexpected end of input`) {
		t.Errorf("the log does not name the fault with its position:\n%s", r.logs.String())
	}

	// An alias bomb: refused with its file and line, and version 1 keeps
	// running (the process does not read it until it runs out of memory).
	writeFile(t, r.mappingFile, aliasBomb(9))
	wait.For(t, "report of the alias bomb", func() bool {
		return strings.Contains(r.logs.String(), "YAML aliases expand to more than 100000 values")
	})
	if !strings.Contains(r.logs.String(), `mappings/site.yaml:6:45: x4[7]: YAML aliases expand to more than 100000 values`) {
		t.Errorf("the alias bomb is not reported with its file and line:\n%s", r.logs.String())
	}
	mark := r.stillVersion1(t, "an alias bomb")

	// The fixed edit: the next messages are version 2, and no version 1
	// follows the first of them.
	writeFile(t, r.mappingFile, fmt.Sprintf(reloadMapping, 2))
	wait.For(t, "a message of version 2", func() bool {
		return slices.ContainsFunc(r.messages(t, mark), func(m reloadMessage) bool { return m.Version == 2 })
	})
	seen2 := false
	for _, m := range r.messages(t, mark) {
		seen2 = seen2 || m.Version == 2
		if seen2 && m.Version != 2 {
			t.Fatalf("version %d after version 2", m.Version)
		}
	}
	if !strings.Contains(r.logs.String(), `"started":0,"stopped":0,"restarted":1,"message":"configuration reloaded"`) {
		t.Errorf("the reload was not logged as one restarted asset:\n%s", r.logs.String())
	}

	// A resource file change: a new topic.
	writeFile(t, filepath.Join(r.dir, "asset.yaml"), fmt.Sprintf(reloadAsset, "site/t1-renamed"))
	mark = r.sub.Len()
	wait.For(t, "a message on the new topic", func() bool {
		return slices.ContainsFunc(r.messages(t, mark), func(m reloadMessage) bool { return m.topic == "site/t1-renamed" })
	})
}

// reloadRun is a connector running on a folder with a mapping file, which
// the test edits.
type reloadRun struct {
	dir, mappingFile string
	sub              *mqtttest.Inbox
	logs             *logbuf.Buffer
}

func startReloadRun(t *testing.T) *reloadRun {
	t.Helper()
	srv := httptest.NewServer(thermostat.New(1).Handler())
	t.Cleanup(srv.Close)
	b, err := broker.Start(broker.Options{Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	r := &reloadRun{dir: t.TempDir(), logs: &logbuf.Buffer{}}
	r.mappingFile = filepath.Join(r.dir, "mappings", "site.yaml")
	if err := os.Mkdir(filepath.Join(r.dir, "mappings"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(r.dir, "device.yaml"), fmt.Sprintf(reloadDevice, srv.URL))
	writeFile(t, filepath.Join(r.dir, "asset.yaml"), fmt.Sprintf(reloadAsset, "site/t1"))
	writeFile(t, r.mappingFile, fmt.Sprintf(reloadMapping, 1))
	r.sub = mqtttest.Listen(t, b.URL(), "test-subscriber-"+t.Name(), "site/#")
	s := settings.Defaults()
	s.Broker = b.URL()
	s.ClientID = "connector-reload"
	s.Config = r.dir
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		log := zerolog.New(r.logs)
		done <- connector.Run(ctx, folder.New(folder.Options{
			Settings: &s, Config: os.DirFS(r.dir), Display: r.dir,
			Logger: log, Reload: true, ReloadDelay: 30 * time.Millisecond,
		}), connector.FromSettings(&s, log))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("connector: %v", err)
		}
	})
	return r
}

// reloadMessage is a message of the test's mapping.
type reloadMessage struct {
	Version int    `json:"version"`
	Site    string `json:"site"`
	topic   string
}

// messages decodes what arrived from index from on.
func (r *reloadRun) messages(t *testing.T, from int) []reloadMessage {
	t.Helper()
	msgs := r.sub.All()
	var out []reloadMessage
	for _, m := range msgs[min(from, len(msgs)):] {
		var msg reloadMessage
		if err := json.Unmarshal(m.Payload, &msg); err != nil {
			t.Errorf("message %s: %v", m.Payload, err)
		}
		msg.topic = m.Topic
		out = append(out, msg)
	}
	return out
}

// stillVersion1 checks that the next three messages are still of the last
// good mapping, version 1, after what, and returns where they start.
func (r *reloadRun) stillVersion1(t *testing.T, what string) int {
	t.Helper()
	mark := r.sub.Len()
	wait.For(t, "messages after "+what, func() bool { return r.sub.Len() >= mark+3 })
	for _, m := range r.messages(t, mark) {
		if m.Version != 1 {
			t.Fatalf("after %s: got version %d, want the last good version 1", what, m.Version)
		}
	}
	return mark
}
