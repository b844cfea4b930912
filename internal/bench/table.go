package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteTable writes results as a Markdown table, one row per run, ready for
// the README.
func WriteTable(w io.Writer, results ...*Result) {
	fmt.Fprintln(w, "| N | M | I | req/sample | devices | broker | msgs/s delivered (expected) | samples/s | CPU-s / 1000 msgs | CPU cores | peak RSS | peak RSS / asset | lateness p50 / p99 / max | missed ticks | errors | dropped (queue at end) |")
	fmt.Fprintln(w, "|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|")
	for _, r := range results {
		m := fmt.Sprint(r.Points)
		if r.Coalesce {
			m += " coalesced"
		}
		devices := fmt.Sprint(r.Devices)
		if r.MaxConns > 0 {
			devices += fmt.Sprintf(" (≤%d conn)", r.MaxConns)
		}
		fmt.Fprintf(w, "| %d | %s | %v | %d | %s | %s | %.0f (%.0f) | %.0f | %.3f | %.2f | %s | %s | %s / %s / %s | %d | %d | %d (%d) |\n",
			r.Assets, m, r.Interval, r.Requests, devices, r.Broker,
			r.MessagesPerSec, float64(r.Expected)/r.Window.Seconds(), r.SamplesPerSec,
			r.CPUPer1000, r.CPUCores, mib(r.PeakRSS), kib(r.PeakRSS/uint64(max(r.Assets, 1))),
			ms(r.LatenessP50), ms(r.LatenessP99), ms(r.LatenessMax), r.MissedTicks, r.Errors, r.Dropped, r.QueueLen)
	}
}

// WriteSummary writes the figures of one run that the table leaves out.
func WriteSummary(w io.Writer, r *Result) {
	fmt.Fprintf(w, "window %v: %d messages delivered of %d expected, %d bad; %.0f HTTP requests/s\n",
		r.Window.Round(time.Millisecond), r.Delivered, r.Expected, r.BadMessages, r.RequestsPerSec)
	fmt.Fprintf(w, "connector: %.2f CPU-s in the window (%.1f µs per sample); RSS %s at its end (peak %s), Go heap objects %s, %d goroutines on %s of stacks\n",
		r.CPU, float64(r.CPUPerSample)/float64(time.Microsecond), mib(r.RSS), mib(r.PeakRSS), mib(r.HeapBytes), r.Goroutines, mib(r.StackBytes))
	harness := "fleet server, subscriber"
	if r.Broker == BrokerEmbedded {
		harness += ", embedded broker"
	}
	fmt.Fprintf(w, "other CPU in the window: harness (%s) %.2f s, mosquitto %.2f s, whole machine %.2f s\n",
		harness, r.HarnessCPU, r.BrokerCPU, r.MachineCPU)
	fmt.Fprintf(w, "start: configuration loaded in %v, every asset running %v after exec\n",
		r.LoadTime.Round(time.Millisecond), r.StartTime.Round(time.Millisecond))
	fmt.Fprintf(w, "whole run (with warm-up): %d missed ticks, %d failed samples, lateness max %s\n",
		r.TotalMissedTicks, r.TotalErrors, ms(r.TotalLatenessMax))
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }
func kib(b uint64) string { return fmt.Sprintf("%.1f kB", float64(b)/(1<<10)) }

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0") + " ms"
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}
