package folder_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/source/folder"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// The ready file is there once the assets run and the broker is
// connected, gone while the broker is away, back when it returns, and
// gone after the run.
func TestReadyFileFollowsTheConnection(t *testing.T) {
	broker := startKillableBroker(t)
	device := newSeqDevice(t)
	s := outageSettings(broker.URL(), "ready-connector")
	file := filepath.Join(t.TempDir(), "ready")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		opts := connector.FromSettings(s, zerolog.Nop())
		opts.ReadyFile, opts.ReadyPeriod = file, 20*time.Millisecond
		done <- connector.Run(ctx, folder.New(folder.Options{Settings: s, Config: outageConfig(device.srv.URL), Display: "ready", Logger: zerolog.Nop()}), opts)
	}()
	exists := func() bool { _, err := os.Stat(file); return err == nil }
	wait.For(t, "the ready file", exists)
	broker.Kill()
	wait.For(t, "the ready file gone while the broker is away", func() bool { return !exists() })
	restart(t, broker)
	wait.For(t, "the ready file back", exists)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if exists() {
		t.Error("the ready file outlives the run")
	}
}
