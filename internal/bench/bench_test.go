package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/source/folder"
)

// childEnv makes the test binary act as the connector's `run` command, so
// the harness test needs no built binary.
const childEnv = "BENCH_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(runChild(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// runChild is a stand-in for `http-connector run` with the flags the
// harness passes.
func runChild(args []string) int {
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprintln(os.Stderr, "child: want run")
		return 2
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfg := fs.String("config", "", "")
	broker := fs.String("broker", "", "")
	stats := fs.String("stats-file", "", "")
	level := fs.String("log-level", "info", "")
	pprof := fs.String("pprof", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	s, err := settings.Load(settings.Sources{Environ: os.Environ(), Flags: map[string]any{
		"config": *cfg, "broker": *broker, "logLevel": *level, "pprof": *pprof,
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	lvl, _ := zerolog.ParseLevel(string(s.LogLevel))
	log := zerolog.New(os.Stderr).Level(lvl)
	opts := connector.FromSettings(s, log)
	opts.StatsFile = *stats
	err = connector.Run(ctx, folder.New(folder.Options{Settings: s, Config: os.DirFS(s.Config), Display: s.Config, Logger: log}), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestRunDeliversMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a connector process")
	}
	if !procSupported {
		t.Skip("needs /proc")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var log strings.Builder
	res, err := Run(context.Background(), Options{
		Assets: 5, Points: 2, Interval: 200 * time.Millisecond,
		Warmup: 500 * time.Millisecond, Duration: 2 * time.Second,
		Broker:     BrokerEmbedded,
		Connector:  []string{exe, "run"},
		Env:        append(os.Environ(), childEnv+"=1"),
		CPUProfile: filepath.Join(dir, "cpu.pprof"),
		MemProfile: filepath.Join(dir, "heap.pprof"),
		Log:        &log,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	// 5 assets every 200 ms for 2 s: 50 messages; allow for the edges.
	if res.Delivered < 40 || res.Delivered > 60 {
		t.Errorf("delivered %d messages, want about 50 (expected %d)", res.Delivered, res.Expected)
	}
	if res.BadMessages != 0 || res.Errors != 0 || res.Dropped != 0 {
		t.Errorf("bad messages %d, errors %d, dropped %d; want 0, 0, 0", res.BadMessages, res.Errors, res.Dropped)
	}
	if res.SamplesPerSec < 20 || res.SamplesPerSec > 30 {
		t.Errorf("samples/s = %.1f, want about 25", res.SamplesPerSec)
	}
	if res.RequestsPerSec < 40 || res.RequestsPerSec > 60 {
		t.Errorf("requests/s = %.1f, want about 50 (two per sample)", res.RequestsPerSec)
	}
	if res.CPU <= 0 || res.PeakRSS == 0 || res.LatenessMax <= 0 || res.LatenessP99 > res.LatenessMax {
		t.Errorf("CPU %.2f s, peak RSS %d, lateness p99 %v max %v: want positive figures, p99 ≤ max", res.CPU, res.PeakRSS, res.LatenessP99, res.LatenessMax)
	}
	if res.Broker != BrokerEmbedded || res.Requests != 2 || res.Devices != 5 {
		t.Errorf("broker %q, requests/sample %d, devices %d; want embedded, 2, 5", res.Broker, res.Requests, res.Devices)
	}
	for _, f := range []string{"cpu.pprof", "heap.pprof"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("profile %s: missing or empty (%v)", f, err)
		}
	}
	var table strings.Builder
	WriteTable(&table, res)
	if !strings.Contains(table.String(), "| 5 | 2 | 200ms | 2 | 5 | embedded |") {
		t.Errorf("table row missing the run's parameters:\n%s", table.String())
	}
}

func TestWriteConfigLoads(t *testing.T) {
	tests := []struct {
		name     string
		layout   Layout
		files    int
		devices  int
		requests []string // URLs of the first asset's requests
	}{
		{
			name:     "device per thermostat",
			layout:   Layout{Assets: 3, Points: 2, Interval: time.Second},
			files:    3,
			devices:  3,
			requests: []string{"http://127.0.0.1:1/api/thermostat/1/current", "http://127.0.0.1:1/api/thermostat/1/desired"},
		},
		{
			name:     "one gateway device",
			layout:   Layout{Assets: 3, Points: 3, Interval: 2 * time.Second, Devices: 1},
			files:    4,
			devices:  1,
			requests: []string{"http://127.0.0.1:1/api/thermostat/1/current", "http://127.0.0.1:1/api/thermostat/1/desired", "http://127.0.0.1:1/api/thermostat/1/status"},
		},
		{
			name:     "coalesced",
			layout:   Layout{Assets: 2, Points: 3, Coalesce: true, Interval: time.Second},
			files:    2,
			devices:  2,
			requests: []string{"http://127.0.0.1:1/api/thermostat/1/status"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.layout.Address = "http://127.0.0.1:1"
			if err := WriteConfig(dir, tc.layout); err != nil {
				t.Fatal(err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != tc.files {
				t.Errorf("%d files, want %d", len(entries), tc.files)
			}
			l, err := config.NewLoader(plan.Defaults{})
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := l.LoadDir(os.DirFS(dir), ".", dir)
			if err != nil {
				t.Fatalf("generated configuration does not load: %v", err)
			}
			if len(cfg.Assets) != tc.layout.Assets || len(cfg.Endpoints) != tc.devices {
				t.Fatalf("%d assets on %d endpoints, want %d on %d", len(cfg.Assets), len(cfg.Endpoints), tc.layout.Assets, tc.devices)
			}
			ds := cfg.Assets[0].Datasets[0]
			if ds.Interval != tc.layout.Interval || len(ds.Points) != tc.layout.Points {
				t.Errorf("interval %v, %d points; want %v, %d", ds.Interval, len(ds.Points), tc.layout.Interval, tc.layout.Points)
			}
			var got []string
			for _, r := range ds.Requests {
				got = append(got, r.URL.String())
			}
			if strings.Join(got, " ") != strings.Join(tc.requests, " ") {
				t.Errorf("requests = %v, want %v", got, tc.requests)
			}
			if ds.Targets[0].Topic != Topic(1) || ds.Targets[0].QoS != 1 {
				t.Errorf("destination %+v, want %s QoS 1", ds.Targets[0], Topic(1))
			}
		})
	}
}

func TestLayoutErrors(t *testing.T) {
	tests := []struct {
		name   string
		layout Layout
		want   string
	}{
		{"no assets", Layout{Address: "http://x", Points: 2, Interval: time.Second}, "assets: 0, want at least 1"},
		{"too many points", Layout{Address: "http://x", Assets: 1, Points: 4, Interval: time.Second}, "points: 4, want 1 to 3"},
		{"short interval", Layout{Address: "http://x", Assets: 1, Points: 1, Interval: time.Millisecond}, "interval: 1ms, want whole milliseconds, at least 10ms"},
		{"negative devices", Layout{Address: "http://x", Assets: 1, Points: 1, Interval: time.Second, Devices: -1}, "devices: -1, want 0 (one per thermostat) or more"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteConfig(t.TempDir(), tc.layout)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

// The p99 read from the histogram's buckets is capped at the window's
// exact maximum: it can never exceed it, whatever the buckets hold.
func TestLatenessP99NeverExceedsMax(t *testing.T) {
	var h connector.Lateness
	h.Observe(5 * time.Millisecond) // during the warm-up: the run's maximum is larger than the window's
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l0 := StatsLine{Time: start, Lateness: h.Snapshot()}
	lines := []StatsLine{l0}
	for i, d := range []time.Duration{1993 * time.Microsecond, 1200 * time.Microsecond, 1100 * time.Microsecond} {
		h.Observe(d)
		lines = append(lines, StatsLine{Time: start.Add(time.Duration(i+1) * time.Second), Lateness: h.Snapshot()})
	}
	p50, p99, highest := lateness(lines, l0, lines[len(lines)-1])
	if highest != 1993*time.Microsecond {
		t.Errorf("max %v, want the largest observed: 1.993ms", highest)
	}
	if p99 > highest || p50 > p99 {
		t.Errorf("p50 %v, p99 %v, max %v: want p50 ≤ p99 ≤ max", p50, p99, highest)
	}
}
