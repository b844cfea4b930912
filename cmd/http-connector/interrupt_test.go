package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/testing/logbuf"
	"github.com/http-connector/http-connector/internal/testing/mosquitto"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// mainEnv makes the test binary run main, as the connector's binary does:
// the interrupt test needs a process of its own to signal.
const mainEnv = "CONNECTOR_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// A first Ctrl-C while the broker is away says what the shutdown waits for;
// a second stops it at once, and the exit status says messages were lost.
func TestSecondInterruptStopsAtOnce(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	device := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"seq":%d}`, hits.Add(1))
	}))
	defer device.Close()
	dir := t.TempDir()
	writeConfig(t, dir, device.URL)

	logs := &logbuf.Buffer{}
	broker := mosquitto.ForTest(t)
	cmd := exec.Command(os.Args[0], "run", "--config", dir, "--broker", broker.URL(), "--log-format", "json")
	cmd.Env = append(os.Environ(), mainEnv+"=1", "HTTP_CONNECTOR_SHUTDOWN_TIMEOUT=10m")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	copied := make(chan struct{})
	go func() { defer close(copied); copyLines(logs, stderr) }()
	exited := make(chan error, 1)
	go func() { <-copied; exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-copied
		if t.Failed() {
			t.Logf("connector output:\n%s", logs)
		}
	})

	wait.For(t, "sampling", func() bool { return logs.Count("sampling") == 1 })
	if start := logs.Records()[0]; start["message"] != "http-connector starting" || start["version"] == nil || start["go"] == nil {
		t.Errorf("first line %v, want the start with the version and the Go version", start)
	}
	broker.Kill()
	killedAt := hits.Load()
	wait.For(t, "messages queued for the broker", func() bool { return hits.Load() >= killedAt+5 })
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	const flushing = "flushing queued messages before stopping; interrupt again (Ctrl-C) to stop now"
	wait.For(t, "the flush announced", func() bool { return logs.Count(flushing) == 1 })
	for _, r := range logs.Records() {
		if r["message"] == flushing && (r["queued"].(float64) < 1 || r["up_to"] != float64(10*time.Minute/time.Millisecond)) {
			t.Errorf("flush announced with %v queued, up to %v ms; want some, up to the 10 min shutdown timeout", r["queued"], r["up_to"])
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var status error
	select {
	case status = <-exited:
	case <-time.After(wait.Timeout):
		t.Fatal("still running after the second interrupt")
	}
	var exit *exec.ExitError
	if !errors.As(status, &exit) || exit.ExitCode() != exitFailure {
		t.Errorf("exit: %v, want status %d", status, exitFailure)
	}
	if !strings.Contains(logs.String(), "queued messages lost at shutdown: the shutdown was interrupted") {
		t.Error("no word of the lost messages")
	}
	if n := logs.Count("mqtt broker unreachable; retrying in the background"); n != 1 {
		t.Errorf("the unreachable broker reported %d times, want once", n)
	}
}

func copyLines(w io.Writer, r io.Reader) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		fmt.Fprintln(w, s.Text())
	}
}

func writeConfig(t *testing.T, dir, deviceURL string) {
	t.Helper()
	files := map[string]string{
		"device.yaml": `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata:
  name: counter
spec:
  endpoints:
    inbound:
      http:
        address: ` + deviceURL + `
        endpointType: Microsoft.Http
`,
		"asset.yaml": `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata:
  name: counter
spec:
  deviceRef:
    deviceName: counter
    endpointName: http
  datasets:
    - name: seq
      dataSource: /seq
      datasetConfiguration: '{"samplingInterval": 50}'
      destinations:
        - target: Mqtt
          configuration:
            topic: counter/seq
            qos: Qos1
`,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
