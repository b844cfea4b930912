package folder_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/source/folder"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// The ready file is there once the assets run and the broker is
// connected, gone while the broker is away, back when it returns, and
// gone after the run; /readyz of the operations listener agrees with it
// every time, and /healthz answers throughout.
func TestReadyFileFollowsTheConnection(t *testing.T) {
	broker := startKillableBroker(t)
	device := newSeqDevice(t)
	s := outageSettings(broker.URL(), "ready-connector")
	file := filepath.Join(t.TempDir(), "ready")
	ops, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ops.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		opts := connector.FromSettings(s, zerolog.Nop())
		opts.ReadyFile, opts.ReadyPeriod, opts.OpsListener = file, 20*time.Millisecond, ops
		done <- connector.Run(ctx, folder.New(folder.Options{Settings: s, Config: outageConfig(device.srv.URL), Display: "ready", Logger: zerolog.Nop()}), opts)
	}()
	exists := func() bool { _, err := os.Stat(file); return err == nil }
	agree := func(ready bool) func() error {
		return func() error {
			if exists() != ready {
				return fmt.Errorf("the ready file: exists %v", exists())
			}
			if code, body := get(base + "/readyz"); (code == http.StatusOK) != ready {
				return fmt.Errorf("/readyz: %d %s", code, body)
			}
			if code, body := get(base + "/healthz"); code != http.StatusOK {
				return fmt.Errorf("/healthz: %d %s", code, body)
			}
			return nil
		}
	}
	wait.Until(t, "ready: the file and /readyz", agree(true))
	broker.Kill()
	wait.Until(t, "not ready while the broker is away: the file and /readyz", agree(false))
	if _, body := get(base + "/readyz"); !strings.Contains(body, "not ready: the MQTT broker is not connected") {
		t.Errorf("/readyz says %q, not why", body)
	}
	restart(t, broker)
	wait.Until(t, "ready again: the file and /readyz", agree(true))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if exists() {
		t.Error("the ready file outlives the run")
	}
	if code, _ := get(base + "/healthz"); code != 0 {
		t.Errorf("/healthz answers %d after the run", code)
	}
}

// get returns the status and body of a GET; 0 if it got no answer.
func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
