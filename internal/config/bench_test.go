package config_test

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/bench"
	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/plan"
)

// BenchmarkLoadDir loads and validates the benchmark's generated folder of
// 10,000 thermostats (a Device and an Asset with two data points in each
// file), as `run` and `validate` do. One op is the whole folder; µs/asset
// is its time per asset and retained-B/asset the heap the loaded
// configuration keeps.
func BenchmarkLoadDir(b *testing.B) {
	const n = 10000
	dir := b.TempDir()
	if err := bench.WriteConfig(dir, bench.Layout{Address: "http://127.0.0.1:3100", Assets: n, Points: 2, Interval: time.Second}); err != nil {
		b.Fatal(err)
	}
	l, err := config.NewLoader(plan.Defaults{})
	if err != nil {
		b.Fatal(err)
	}
	fsys := os.DirFS(dir)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cfg, err := l.LoadDir(fsys, ".", dir)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(cfg.Assets) != n {
		b.Fatalf("%d assets, want %d", len(cfg.Assets), n)
	}
	retained := float64(after.HeapAlloc-before.HeapAlloc) / n
	runtime.KeepAlive(cfg)
	cfg = nil

	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.LoadDir(fsys, ".", dir); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/n, "µs/asset")
	b.ReportMetric(retained, "retained-B/asset")
}
