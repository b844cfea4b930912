package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/http-connector/http-connector/internal/bench"
)

func cmdBench(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("bench", "Measures the connector under load on this machine: serves N simulated thermostats on\nloopback, generates an asset per thermostat, starts a broker (Mosquitto when installed, else\nthe embedded one) and a subscriber, runs this program's 'run' command as a child process\nand, after a warm-up, reports messages/s delivered, samples/s, the connector's CPU-seconds\nper 1000 messages, peak RSS, sample start lateness, missed ticks and errors. Linux only.", e)
	o := bench.Options{}
	fs.IntVar(&o.Assets, "assets", 2000, "number of thermostats, one asset each")
	fs.IntVar(&o.Points, "points", 2, fmt.Sprintf("data points per dataset (1 to %d): current, desired, power", bench.MaxPoints))
	fs.BoolVar(&o.Coalesce, "coalesce", false, "serve every data point from one /status request")
	fs.DurationVar(&o.Interval, "interval", time.Second, "sampling `interval`")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "measured `time`")
	fs.DurationVar(&o.Warmup, "warmup", 10*time.Second, "`time` after every asset started, before measuring")
	fs.IntVar(&o.Devices, "devices", 0, "Device resources the thermostats are spread over (`count`); 0: one per thermostat")
	fs.IntVar(&o.MaxConns, "max-conns", 0, "the connector's maxConnsPerDevice (`count`); 0: its default")
	fs.StringVar(&o.Broker, "broker", bench.BrokerAuto, "`broker`: auto (mosquitto when installed), mosquitto or embedded")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the connector over the measured time to `file`")
	fs.StringVar(&o.MemProfile, "memprofile", "", "write a heap profile of the connector at the end to `file`")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if code, done := parse(fs, args, e); done {
		return code
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(e.stderr, "bench: locate the connector:", err)
		return exitFailure
	}
	o.Connector = []string{exe, "run"}
	o.Env = e.environ
	o.Log = e.stderr
	res, err := bench.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(e.stderr, "bench:", err)
		return exitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "%s, %s\n\n", res.Date.Format("2006-01-02"), "http-connector bench "+strings.Join(args, " "))
	bench.WriteTable(e.stdout, res)
	fmt.Fprintln(e.stdout)
	bench.WriteSummary(e.stdout, res)
	return exitOK
}
