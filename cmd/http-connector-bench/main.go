// Command http-connector-bench measures the connector under load on this
// machine: it serves N simulated thermostats on loopback, generates an
// asset per thermostat, starts a broker (Mosquitto when installed, else the
// embedded one) and a subscriber, runs `http-connector run` as a child
// process and, after a warm-up, reports messages/s delivered, samples/s,
// the connector's CPU-seconds per 1000 messages, peak RSS, sample start
// lateness, missed ticks and errors. Linux only. It is a command of its
// own, so that the connector's binary and image carry no benchmark.
//
//	go run ./cmd/http-connector-bench --assets 2000 --points 2 --interval 1s
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/http-connector/http-connector/internal/bench"
)

// Exit statuses, as the connector's.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("http-connector-bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: go run ./cmd/http-connector-bench [flags]")
		fmt.Fprintln(fs.Output(), "\nMeasures the connector (a child process) on N simulated thermostats on loopback.\n\nFlags:")
		fs.PrintDefaults()
	}
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
	fs.Float64Var(&o.Deadband, "deadband", 0, "report by exception with this `deadband` on every dataset (the thermostats move less than 1 between samples: 5 suppresses nearly every sample)")
	fs.BoolVar(&o.Bearer, "bearer", false, "every device endpoint authenticates with a bearer token (auth type bearer, the token a secret of the connector settings) that the thermostats check")
	fs.BoolVar(&o.Metrics, "metrics", false, "turn the connector's metrics on (--metrics-addr on loopback)")
	fs.DurationVar(&o.ScrapeEvery, "scrape-every", 0, "with --metrics, read /metrics this often (`interval`) through the measured time, as Prometheus would")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the connector over the measured time to `file`")
	fs.StringVar(&o.MemProfile, "memprofile", "", "write a heap profile of the connector at the end to `file`")
	connectorBin := fs.String("connector", "", "the http-connector `binary` to measure; default: built from this module")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	fs.SetOutput(io.Discard) // errors are printed below, in one line
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK
	case err == nil && fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case err == nil:
		err = o.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "http-connector-bench: %v\nRun 'go run ./cmd/http-connector-bench --help' for its flags.\n", err)
		return exitUsage
	}
	bin := *connectorBin
	if bin == "" {
		dir, err := os.MkdirTemp("", "http-connector-bench")
		if err != nil {
			fmt.Fprintln(stderr, "http-connector-bench:", err)
			return exitFailure
		}
		defer os.RemoveAll(dir)
		if bin, err = build(ctx, dir, stderr); err != nil {
			fmt.Fprintln(stderr, "http-connector-bench: build the connector:", err)
			return exitFailure
		}
	}
	o.Connector = []string{bin, "run"}
	o.Env = environ
	o.Log = stderr
	res, err := bench.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "http-connector-bench:", err)
		return exitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
		return exitOK
	}
	fmt.Fprintf(stdout, "%s, %s\n\n", res.Date.Format("2006-01-02"), "http-connector-bench "+strings.Join(args, " "))
	bench.WriteTable(stdout, res)
	fmt.Fprintln(stdout)
	bench.WriteSummary(stdout, res)
	return exitOK
}

// build builds the connector of this module into dir, as a user's build
// would be (trimmed paths, no debug information).
func build(ctx context.Context, dir string, stderr io.Writer) (string, error) {
	bin := filepath.Join(dir, "http-connector")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "github.com/http-connector/http-connector/cmd/http-connector")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", err
	}
	return bin, nil
}
