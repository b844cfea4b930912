// Package bench measures the connector under load, as a user would run it:
// the connector is a child process (`http-connector run`) and only its CPU
// time and memory are counted. The harness, in the calling process, serves
// a fleet of simulated thermostats on loopback (examples/fleet), generates
// one asset per thermostat, starts a broker (a Mosquitto process when one is
// installed, else the embedded broker in this process) and a subscriber that
// counts the messages delivered. After a warm-up it measures for a fixed
// time: messages delivered per second, samples per second, CPU-seconds of
// the connector per 1000 delivered messages, its peak RSS, the lateness of
// sample starts (p50, p99, max), missed ticks and failed samples. The last
// three come from the connector's stats file (run --stats-file).
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/examples/fleet"
	"github.com/http-connector/http-connector/internal/broker"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/mqttclient"
)

// Brokers the harness can start.
const (
	BrokerAuto      = "auto" // Mosquitto when installed, else embedded
	BrokerMosquitto = "mosquitto"
	BrokerEmbedded  = "embedded"
)

// Options configure a benchmark run.
type Options struct {
	Assets   int           // thermostats, one asset each
	Points   int           // data points per dataset, 1 … MaxPoints
	Coalesce bool          // every data point from one /status request
	Interval time.Duration // sampling interval
	Devices  int           // see Layout.Devices; 0: one per thermostat
	MaxConns int           // the connector's maxConnsPerDevice; 0: its default
	Warmup   time.Duration // after every asset has started, before measuring
	Duration time.Duration // measured time
	Broker   string        // BrokerAuto (default), BrokerMosquitto or BrokerEmbedded
	Bearer   bool          // every request carries a bearer token the fleet checks
	Deadband float64       // report by exception with this deadband (see Layout)
	// Metrics turns the connector's metrics on (--metrics-addr); with
	// ScrapeEvery, /metrics is read that often through the measured time,
	// as Prometheus would.
	Metrics     bool
	ScrapeEvery time.Duration

	// Connector is the command that runs the connector's `run` command,
	// program first: [path-to-http-connector, "run"]. The harness adds
	// --config, --broker, --stats-file, --log-level and --pprof.
	Connector []string
	// Env is the connector's environment; nil: this process's.
	Env []string

	// CPUProfile and MemProfile, if set, are files for a CPU profile of the
	// measured time and a heap profile at its end, taken from the
	// connector through --pprof. Profiling costs the connector a little CPU.
	CPUProfile, MemProfile string

	// Log receives progress lines; nil discards them.
	Log io.Writer
	// StartTimeout bounds the wait for every asset to start; default 2 min.
	StartTimeout time.Duration
}

// Result is what a run measured. Rates, CPU and lateness are over the
// measured window only; Total* fields cover the whole run.
type Result struct {
	Date     time.Time     `json:"date"`
	Assets   int           `json:"assets"`
	Points   int           `json:"points"`
	Coalesce bool          `json:"coalesce"`
	Requests int           `json:"requests_per_sample"`
	Devices  int           `json:"devices"`
	MaxConns int           `json:"max_conns_per_device,omitempty"`
	Interval time.Duration `json:"interval_ns"`
	Broker   string        `json:"broker"`
	Window   time.Duration `json:"window_ns"`

	Delivered int64 `json:"delivered"` // messages the subscriber received
	Expected  int64 `json:"expected"`  // assets × window / interval
	// CPUPerSample is the connector's CPU time per sample due in the
	// window: what compares runs that publish every sample and runs that
	// suppress most.
	CPUPerSample   time.Duration `json:"cpu_per_sample_ns"`
	MessagesPerSec float64       `json:"messages_per_sec"` // delivered
	SamplesPerSec  float64       `json:"samples_per_sec"`  // started by the connector
	RequestsPerSec float64       `json:"requests_per_sec"` // HTTP requests made
	BadMessages    int64         `json:"bad_messages"`     // delivered without the expected content
	CPU            float64       `json:"cpu_seconds"`      // connector user+system CPU
	CPUPer1000     float64       `json:"cpu_seconds_per_1000_messages"`
	CPUCores       float64       `json:"cpu_cores"` // CPU / window
	// The rest of the machine in the window: this process (fleet server,
	// subscriber, embedded broker), the Mosquitto process, and every core's
	// busy time (what is left over is other work on the machine: noise).
	HarnessCPU  float64       `json:"harness_cpu_seconds"`
	BrokerCPU   float64       `json:"broker_cpu_seconds"`
	MachineCPU  float64       `json:"machine_cpu_seconds"`
	PeakRSS     uint64        `json:"peak_rss_bytes"` // VmHWM, the whole run
	RSS         uint64        `json:"rss_bytes"`      // VmRSS at the end of the window
	HeapBytes   uint64        `json:"heap_bytes"`     // Go heap objects at the end of the window
	StackBytes  uint64        `json:"stack_bytes"`    // goroutine stacks at the end of the window
	Goroutines  int           `json:"goroutines"`     // at the end of the window
	LatenessP50 time.Duration `json:"lateness_p50_ns"`
	LatenessP99 time.Duration `json:"lateness_p99_ns"`
	LatenessMax time.Duration `json:"lateness_max_ns"`
	MissedTicks int64         `json:"missed_ticks"`
	Errors      int64         `json:"errors"` // failed samples
	// The connector's publish queue: QoS 1 messages dropped by its
	// overflow policy (or expired) in the window, and waiting at its end.
	Dropped  int64 `json:"dropped"`
	QueueLen int   `json:"queue_len"`
	// Scrapes of /metrics in the window, and the size of the last.
	Scrapes     int   `json:"scrapes,omitempty"`
	ScrapeBytes int64 `json:"scrape_bytes,omitempty"`

	LoadTime         time.Duration `json:"load_ns"`  // reading and validating the configuration
	StartTime        time.Duration `json:"start_ns"` // from exec until every asset runs
	TotalMissedTicks int64         `json:"total_missed_ticks"`
	TotalErrors      int64         `json:"total_errors"`
	TotalLatenessMax time.Duration `json:"total_lateness_max_ns"`
}

// Run runs one benchmark until it is done or ctx ends.
func Run(ctx context.Context, o Options) (*Result, error) {
	layout, err := o.check()
	if err != nil {
		return nil, err
	}
	r := &run{o: o, log: o.Log, layout: layout}
	if r.log == nil {
		r.log = io.Discard
	}
	r.dir, err = os.MkdirTemp("", "http-connector-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(r.dir)
	stopFleet, err := r.serveFleet()
	if err != nil {
		return nil, err
	}
	defer stopFleet()
	brokerURL, brokerName, brokerPid, stopBroker, err := startBroker(ctx, o.Broker, r.dir, r.log)
	if err != nil {
		return nil, err
	}
	defer stopBroker()
	r.logf("broker: %s on %s", brokerName, brokerURL)
	closeSub, err := r.subscribe(ctx, brokerURL)
	if err != nil {
		return nil, err
	}
	defer closeSub()
	if err := r.startConnector(brokerURL); err != nil {
		return nil, err
	}
	defer r.child.stop()
	res, err := r.measure(ctx, brokerPid)
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, tail(r.logPath))
	}
	res.Broker = brokerName
	return res, nil
}

// Validate checks the values of the options a user sets (the flags of the
// benchmark command), before anything is built or started.
func (o Options) Validate() error {
	switch {
	case o.Duration <= 0:
		return fmt.Errorf("duration: %v, want a positive duration", o.Duration)
	case o.Warmup < 0:
		return fmt.Errorf("warmup: %v, want a duration of 0 or more", o.Warmup)
	case o.Deadband < 0:
		return fmt.Errorf("deadband: %g, want 0 (none) or more", o.Deadband)
	case o.MaxConns < 0:
		return fmt.Errorf("max-conns: %d, want 0 (the connector's default) or more", o.MaxConns)
	case o.ScrapeEvery < 0:
		return fmt.Errorf("scrape-every: %v, want a duration of 0 (no scrapes) or more", o.ScrapeEvery)
	case o.ScrapeEvery > 0 && !o.Metrics:
		return errors.New("scrape-every: needs the metrics on (--metrics)")
	}
	switch o.Broker {
	case "", BrokerAuto, BrokerMosquitto, BrokerEmbedded:
	default:
		return fmt.Errorf("broker: %q, want %s, %s or %s", o.Broker, BrokerAuto, BrokerMosquitto, BrokerEmbedded)
	}
	return o.layout().check()
}

func (o Options) layout() Layout {
	return Layout{Assets: o.Assets, Points: o.Points, Coalesce: o.Coalesce, Interval: o.Interval, Devices: o.Devices, Bearer: o.Bearer, Deadband: o.Deadband, Address: "http://127.0.0.1"}
}

// check applies the defaults and checks the options and the machine.
func (o *Options) check() (Layout, error) {
	if !procSupported {
		_, err := cpuTime(0)
		return Layout{}, err
	}
	if err := o.Validate(); err != nil {
		return Layout{}, err
	}
	if o.Broker == "" {
		o.Broker = BrokerAuto
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 2 * time.Minute
	}
	if len(o.Connector) == 0 {
		return Layout{}, errors.New("no connector command")
	}
	layout := o.layout()
	if err := checkOpenFiles(layout, o.MaxConns); err != nil {
		return Layout{}, err
	}
	return layout, nil
}

// run is one benchmark run in progress.
type run struct {
	o         Options
	log       io.Writer
	layout    Layout
	dir       string // the run's files
	child     *child
	statsPath string
	logPath   string
	pprofAddr string
	opsAddr   string // the connector's metrics listener
	settings  string // the connector's settings file, if it needs one

	delivered, bad atomic.Int64 // messages the subscriber received
}

func (r *run) logf(format string, args ...any) { fmt.Fprintf(r.log, "bench: "+format+"\n", args...) }

// serveFleet serves the simulated thermostats and writes the connector's
// configuration for them.
func (r *run) serveFleet() (stop func(), err error) {
	cfgDir := filepath.Join(r.dir, "config")
	if err := os.Mkdir(cfgDir, 0o755); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fleet server: %w", err)
	}
	f := fleet.New(r.o.Assets, uint64(time.Now().UnixNano()))
	if r.o.Bearer {
		f.Token = fmt.Sprintf("bench-%x", time.Now().UnixNano())
		secrets := filepath.Join(r.dir, "secrets")
		if err := WriteSecrets(secrets, f.Token); err != nil {
			return nil, err
		}
		r.settings = filepath.Join(r.dir, "settings.yaml")
		if err := os.WriteFile(r.settings, []byte("secrets:\n  dir: "+secrets+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	srv := &http.Server{
		Handler:           f,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          log.New(r.log, "bench: fleet server: ", 0),
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	stop = func() {
		_ = srv.Close()
		<-served
	}
	r.layout.Address = "http://" + ln.Addr().String()
	if err := WriteConfig(cfgDir, r.layout); err != nil {
		stop()
		return nil, fmt.Errorf("write configuration: %w", err)
	}
	r.logf("%d thermostats on %s; configuration in %s", r.o.Assets, r.layout.Address, cfgDir)
	return stop, nil
}

// subscribe counts the messages the broker delivers, and those without
// the expected content.
func (r *run) subscribe(ctx context.Context, brokerURL string) (closeSub func(), err error) {
	u, _ := url.Parse(brokerURL)
	sub, err := mqttclient.Connect(ctx, mqttclient.Options{
		Servers: []*url.URL{u}, ClientID: "http-connector-bench-subscriber", KeepAlive: 30, CleanStart: true,
		Logger: zerolog.New(r.log).Level(zerolog.WarnLevel),
	})
	if err != nil {
		return nil, fmt.Errorf("subscriber: %w", err)
	}
	closeSub = func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = sub.Close(cctx)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = sub.AwaitConnection(wctx)
	cancel()
	if err != nil {
		closeSub()
		return nil, fmt.Errorf("subscriber: connect to %s: %w", brokerURL, err)
	}
	marker := []byte(`"` + points[0].name + `"`)
	if err := sub.Subscribe(ctx, Topics, 1, func(m mqttclient.Message) {
		r.delivered.Add(1)
		if !bytes.Contains(m.Payload, marker) {
			r.bad.Add(1)
		}
	}); err != nil {
		closeSub()
		return nil, fmt.Errorf("subscriber: %w", err)
	}
	return closeSub, nil
}

// startConnector starts the connector's run command as a child process.
func (r *run) startConnector(brokerURL string) error {
	r.statsPath = filepath.Join(r.dir, "stats.jsonl")
	r.logPath = filepath.Join(r.dir, "connector.log")
	args := append(append([]string(nil), r.o.Connector[1:]...),
		"--config", filepath.Join(r.dir, "config"), "--broker", brokerURL, "--stats-file", r.statsPath, "--log-level", "warn")
	if r.o.CPUProfile != "" || r.o.MemProfile != "" {
		var err error
		if r.pprofAddr, err = freeAddress(); err != nil {
			return err
		}
		args = append(args, "--pprof", r.pprofAddr)
	}
	if r.o.Metrics {
		var err error
		if r.opsAddr, err = freeAddress(); err != nil {
			return err
		}
		args = append(args, "--metrics-addr", r.opsAddr)
	}
	if r.settings != "" {
		args = append(args, "--settings", r.settings)
	}
	var err error
	if r.child, err = startChild(r.o, args, r.logPath); err != nil {
		return err
	}
	r.logf("connector: pid %d: %s %s", r.child.cmd.Process.Pid, r.o.Connector[0], strings.Join(args, " "))
	return nil
}

// measure waits until every asset runs and for the warm-up, then measures
// for the duration and stops the connector.
func (r *run) measure(ctx context.Context, brokerPid int) (*Result, error) {
	o := r.o
	ready, err := r.started(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{
		Date: time.Now().UTC(), Assets: o.Assets, Points: o.Points, Coalesce: o.Coalesce, Requests: r.layout.Requests(),
		Devices: r.layout.devices(), MaxConns: o.MaxConns, Interval: o.Interval,
		LoadTime:  time.Duration(ready.LoadMs * float64(time.Millisecond)),
		StartTime: time.Since(r.child.started),
	}
	r.logf("%d assets running after %v (configuration loaded in %v); warming up for %v", o.Assets, res.StartTime.Round(time.Millisecond), res.LoadTime.Round(time.Millisecond), o.Warmup)
	if err := r.child.sleep(ctx, o.Warmup); err != nil {
		return nil, err
	}
	pid := r.child.cmd.Process.Pid
	before, err := r.point(pid, brokerPid)
	if err != nil {
		return nil, err
	}
	profDone := make(chan error, 1)
	if o.CPUProfile != "" {
		go func() {
			profDone <- fetchProfile(ctx, r.pprofAddr, fmt.Sprintf("profile?seconds=%d", max(int(o.Duration/time.Second), 1)), o.CPUProfile)
		}()
	} else {
		profDone <- nil
	}
	r.logf("measuring for %v", o.Duration)
	scraped := make(chan scrapes, 1)
	sctx, stopScraping := context.WithCancel(ctx)
	go func() { scraped <- r.scrape(sctx) }()
	err = r.child.sleep(ctx, o.Duration)
	stopScraping()
	sc := <-scraped
	if err != nil {
		return nil, err
	}
	if sc.err != nil {
		return nil, sc.err
	}
	res.Scrapes, res.ScrapeBytes = sc.n, sc.bytes
	after, err := r.point(pid, brokerPid)
	if err != nil {
		return nil, err
	}
	if res.PeakRSS, res.RSS, err = memory(pid); err != nil {
		return nil, err
	}
	lines, err := readStats(r.statsPath)
	if err != nil {
		return nil, err
	}
	if o.MemProfile != "" {
		if err := fetchProfile(ctx, r.pprofAddr, "heap", o.MemProfile); err != nil {
			return nil, err
		}
	}
	select {
	case err := <-profDone:
		if err != nil {
			return nil, err
		}
	case <-time.After(o.Duration + 30*time.Second):
		return nil, errors.New("cpu profile: no answer")
	}
	// Stop the connector and read its last line.
	if err := r.child.stop(); err != nil {
		return nil, fmt.Errorf("connector: %w", err)
	}
	all, err := readStats(r.statsPath)
	if err != nil || len(all) == 0 || !all[len(all)-1].Final {
		return nil, errors.New("connector: no final stats line")
	}
	summarize(res, before, after, lines, all[len(all)-1])
	return res, nil
}

// started waits until every asset runs and returns that stats line.
func (r *run) started(ctx context.Context) (StatsLine, error) {
	deadline := time.Now().Add(r.o.StartTimeout)
	for {
		lines, _ := readStats(r.statsPath)
		if n := len(lines); n > 0 && lines[n-1].Assets >= int64(r.o.Assets) {
			return lines[n-1], nil
		}
		if time.Now().After(deadline) {
			return StatsLine{}, fmt.Errorf("the connector did not start %d assets within %v", r.o.Assets, r.o.StartTimeout)
		}
		if err := r.child.sleep(ctx, 100*time.Millisecond); err != nil {
			return StatsLine{}, err
		}
	}
}

// measurePoint is what is read at the start and at the end of the
// measured window.
type measurePoint struct {
	cpu            time.Duration    // the connector's
	delivered, bad int64            // messages the subscriber received
	at             time.Time        //
	others         [3]time.Duration // see otherCPU
}

func (r *run) point(pid, brokerPid int) (measurePoint, error) {
	cpu, err := cpuTime(pid)
	if err != nil {
		return measurePoint{}, err
	}
	return measurePoint{cpu: cpu, delivered: r.delivered.Load(), bad: r.bad.Load(), at: time.Now(), others: otherCPU(brokerPid)}, nil
}

// summarize fills in the result of the window between before and after,
// from the stats lines written up to after and the final one.
func summarize(res *Result, before, after measurePoint, lines []StatsLine, final StatsLine) {
	res.Window = after.at.Sub(before.at)
	secs := res.Window.Seconds()
	res.Delivered, res.BadMessages = after.delivered-before.delivered, after.bad-before.bad
	res.Expected = int64(float64(res.Assets) * secs / res.Interval.Seconds())
	res.MessagesPerSec = float64(res.Delivered) / secs
	res.CPU = (after.cpu - before.cpu).Seconds()
	res.CPUCores = res.CPU / secs
	res.HarnessCPU = (after.others[0] - before.others[0]).Seconds()
	res.BrokerCPU = (after.others[1] - before.others[1]).Seconds()
	res.MachineCPU = (after.others[2] - before.others[2]).Seconds()
	if res.Delivered > 0 {
		res.CPUPer1000 = res.CPU / float64(res.Delivered) * 1000
	}
	if samples := float64(res.Assets) * secs / res.Interval.Seconds(); samples > 0 {
		res.CPUPerSample = time.Duration(res.CPU / samples * float64(time.Second))
	}
	l0, l1 := at(lines, before.at), at(lines, after.at)
	if l1.Time.After(l0.Time) {
		span := l1.Time.Sub(l0.Time).Seconds()
		res.SamplesPerSec = float64(l1.Samples-l0.Samples) / span
		res.RequestsPerSec = float64(l1.Requests-l0.Requests) / span
	}
	res.HeapBytes, res.StackBytes, res.Goroutines = l1.HeapBytes, l1.StackBytes, l1.Goroutines
	res.LatenessP50, res.LatenessP99, res.LatenessMax = lateness(lines, l0, l1)
	res.MissedTicks = l1.MissedTicks - l0.MissedTicks
	res.Errors = l1.Failures - l0.Failures
	res.Dropped = l1.Dropped + l1.Expired - l0.Dropped - l0.Expired
	res.QueueLen = l1.QueueLen
	res.TotalMissedTicks, res.TotalErrors = final.MissedTicks, final.Failures
	res.TotalLatenessMax = time.Duration(final.Lateness.MaxNs)
}

// lateness is the median, 99th percentile and maximum of the sample start
// lateness between the stats lines l0 and l1. The maximum is exact: the
// largest of the periods' maxima. The quantiles, read from the histogram's
// buckets, are capped at it: the p99 can never exceed the maximum.
func lateness(lines []StatsLine, l0, l1 StatsLine) (p50, p99, highest time.Duration) {
	for _, l := range lines {
		if l.Time.After(l0.Time) && !l.Time.After(l1.Time) {
			highest = max(highest, time.Duration(l.Lateness.PeriodMaxNs))
		}
	}
	window := l1.Lateness.Sub(l0.Lateness)
	window.MaxNs = int64(highest)
	return window.Quantile(0.50), window.Quantile(0.99), highest
}

// otherCPU reads the CPU time of this process, of the broker process (if
// any) and of the whole machine; what cannot be read stays zero.
func otherCPU(brokerPid int) [3]time.Duration {
	var out [3]time.Duration
	out[0], _ = cpuTime(os.Getpid())
	if brokerPid > 0 {
		out[1], _ = cpuTime(brokerPid)
	}
	out[2], _ = machineCPU()
	return out
}

// StatsLine is a line of the connector's stats file.
type StatsLine = connector.StatsLine

// readStats reads the complete lines of a stats file.
func readStats(path string) ([]StatsLine, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []StatsLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var l StatsLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out, nil
}

// at is the last line written at or before t (or the first line).
func at(lines []StatsLine, t time.Time) StatsLine {
	var out StatsLine
	for i, l := range lines {
		if i == 0 || !l.Time.After(t) {
			out = l
		}
	}
	return out
}

// checkOpenFiles refuses a layout that needs more connections than this
// process (the fleet server's side) and the connector may open. Every
// device is at the fleet server's address: the connector's devices share
// their connections to it, at most fetch.SharedConnsPerHost.
func checkOpenFiles(l Layout, maxConns int) error {
	limit := openFileLimit()
	if limit == 0 {
		return nil
	}
	if maxConns <= 0 {
		maxConns = 4 // the connector's default maxConnsPerDevice
	}
	perDevice := min(maxConns, l.Requests()*((l.Assets+l.devices()-1)/l.devices()))
	need := uint64(min(l.devices()*perDevice, fetch.SharedConnsPerHost)) + 256
	if need > limit {
		return fmt.Errorf("%d devices with up to %d connections each need about %d open files, over the limit of %d (ulimit -n): use --max-conns 1 or fewer --devices", l.devices(), perDevice, need, limit)
	}
	return nil
}

// freeAddress returns a loopback address with a port free right now.
// scrapes are what scrape read.
type scrapes struct {
	n     int
	bytes int64 // of the last
	err   error
}

// scrape reads the connector's /metrics every ScrapeEvery until ctx ends.
func (r *run) scrape(ctx context.Context) scrapes {
	var out scrapes
	if r.o.ScrapeEvery <= 0 {
		return out
	}
	t := time.NewTicker(r.o.ScrapeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.opsAddr+"/metrics", nil)
		if err != nil {
			out.err = err
			return out
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				out.err = fmt.Errorf("scrape /metrics: %w", err)
			}
			return out
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("scrape /metrics: %s", resp.Status)
		}
		if err != nil {
			if ctx.Err() == nil {
				out.err = err
			}
			return out
		}
		out.n++
		out.bytes = n
	}
}

func freeAddress() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

func fetchProfile(ctx context.Context, addr, what, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/"+what, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: HTTP %d", what, resp.StatusCode)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("profile %s: %w", what, err)
	}
	return f.Close()
}

// child is the connector process.
type child struct {
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{}
	err     error // once exited is closed
	logFile *os.File
	stopped bool
}

func startChild(o Options, args []string, logPath string) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.Connector[0], args...)
	cmd.Env = o.Env
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	if o.MaxConns > 0 {
		cmd.Env = append(cmd.Env[:len(cmd.Env):len(cmd.Env)], fmt.Sprintf("HTTP_CONNECTOR_MAX_CONNS_PER_DEVICE=%d", o.MaxConns))
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	c := &child{cmd: cmd, exited: make(chan struct{}), logFile: logFile}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start the connector: %w", err)
	}
	c.started = time.Now()
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// sleep waits for d; it fails if the connector exits or ctx ends first.
func (c *child) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.exited:
		return fmt.Errorf("the connector exited early: %v", c.err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the connector (SIGTERM, then SIGKILL after 30 s) and returns
// its exit error.
func (c *child) stop() error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	defer c.logFile.Close()
	select {
	case <-c.exited:
		return c.err
	default:
	}
	_ = terminate(c.cmd.Process)
	select {
	case <-c.exited:
		return c.err
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return errors.New("did not stop within 30s of SIGTERM; killed")
	}
}

// tail is the end of the connector's log, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\nconnector log (end):\n" + string(b)
}

// startBroker starts the broker kind asks for and returns its URL, its
// kind, its process id (0: in this process) and how to stop it.
func startBroker(ctx context.Context, kind, dir string, logw io.Writer) (string, string, int, func(), error) {
	switch kind {
	case BrokerAuto, BrokerMosquitto:
		path := mosquittoPath()
		if path != "" {
			u, pid, stop, err := startMosquitto(ctx, path, dir, logw)
			return u, BrokerMosquitto, pid, stop, err
		}
		if kind == BrokerMosquitto {
			return "", "", 0, nil, errors.New("broker: mosquitto is not installed (apt-get install mosquitto)")
		}
		fallthrough
	case BrokerEmbedded:
		b, err := broker.Start(broker.Options{Address: "127.0.0.1:0"})
		if err != nil {
			return "", "", 0, nil, err
		}
		return b.URL(), BrokerEmbedded, 0, func() { _ = b.Close() }, nil
	}
	return "", "", 0, nil, fmt.Errorf("broker: %q is not %s, %s or %s", kind, BrokerAuto, BrokerMosquitto, BrokerEmbedded)
}

func mosquittoPath() string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// startMosquitto runs mosquitto on a free loopback port. Its queue per
// client is raised from the default 1000 so that a subscriber that falls
// behind for a moment loses nothing.
func startMosquitto(ctx context.Context, path, dir string, logw io.Writer) (string, int, func(), error) {
	addr, err := freeAddress()
	if err != nil {
		return "", 0, nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "mosquitto.conf")
	text := "listener " + port + " 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 1000000\nlog_dest stderr\nlog_type error\nlog_type warning\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return "", 0, nil, err
	}
	// Mosquitto started as root drops to the mosquitto user: let it read.
	_ = os.Chmod(dir, 0o755)
	cmd := exec.Command(path, "-c", conf)
	cmd.Stdout, cmd.Stderr = logw, logw
	if err := cmd.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("broker: start mosquitto: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		_ = terminate(cmd.Process)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "mqtt://" + addr, cmd.Process.Pid, stop, nil
		}
		select {
		case <-exited:
			return "", 0, nil, fmt.Errorf("broker: mosquitto exited at start (%s)", conf)
		case <-ctx.Done():
			stop()
			return "", 0, nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", 0, nil, errors.New("broker: mosquitto did not listen within 10s")
		}
	}
}
