// Package connector is the connector's one runtime. It owns every
// goroutine of a run and its lifecycle, whatever the assets come from:
//
//  1. The Source prepares: it says how to reach the MQTT broker (the
//     folder source may start the embedded broker for it) and where the
//     secrets of device endpoints are. Nothing has been dialled yet, so a
//     configuration problem stops the run before any connection.
//  2. The MQTT connection is made. It outlives the run's context, until the
//     very end, so that what is queued when the run is told to stop can
//     still be delivered.
//  3. The publisher starts: the QoS 1 queue, with the spool replayed first.
//  4. The scheduler starts, and the source runs: it gives the runtime the
//     assets to sample (Apply, Set, Remove), as often as they change, and
//     hears what happens to them (Hooks). Every goroutine the source needs
//     it starts with Go, so that the runtime waits for it.
//  5. When the context ends, the source and its goroutines stop, then the
//     samplers (running samples are cancelled and waited for).
//  6. The source says goodbye while the connection is still up (in Akri
//     mode: ADR notifications off).
//  7. The queue is flushed for at most ShutdownTimeout; what is left stays
//     in the spool or is reported lost.
//  8. The MQTT session is closed, and what the source prepared is released.
//
// Cross-cutting work lives here once for both sources: HTTP clients per
// device endpoint, the credentials they are built with and their renewal
// when a secret's content changes, the stats file, pprof, and the lower
// garbage collector target while the assets start.
package connector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/credentials"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/metrics"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/publish"
	"github.com/http-connector/http-connector/internal/sampling"
	"github.com/http-connector/http-connector/internal/schedule"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/version"
)

// A Source gives the runtime the assets to sample: the folder of resource
// files (internal/source/folder) or the Akri operator's mounts and the ADR
// service (internal/source/akri).
type Source interface {
	// Prepare is called first, before anything is dialled.
	Prepare(ctx context.Context) (Setup, error)
	// Run feeds the runtime until ctx ends. It calls rt.Ready once the
	// first assets are applied. An error it returns ends the run.
	Run(ctx context.Context, rt *Runtime) error
	// Goodbye is called once sampling has stopped, with the MQTT
	// connection still up, under the shutdown deadline.
	Goodbye(ctx context.Context)
}

// Setup is what a source prepared for the run.
type Setup struct {
	// MQTT is how to connect to the broker.
	MQTT mqttclient.Options
	// OTLP, if its Endpoint is set, is where the metrics are pushed (the
	// collector the Akri operator names); Options.OTLP's interval and
	// timeout, if set, win.
	OTLP metrics.OTLPOptions
	// Secrets is where device endpoint secrets are read.
	Secrets credentials.Secrets
	Hooks   Hooks
	// ServeActions says that the assets' management actions are served as
	// RPC commands (Akri mode).
	ServeActions bool
	// State, if set, keeps what datasets' samples carry over across
	// restarts (a state folder, the broker state store).
	State sampling.State
	// StateStore, if set, takes the messages of BrokerStateStore
	// destinations (Akri mode).
	StateStore interface {
		Set(key string, value []byte)
	}
	// Close, if set, is called at the very end (the embedded broker stops).
	Close func()
	// Library, if set, gives the source's library of named mappings, for
	// the status page's playground.
	Library func() plan.Library
	// LoadTime is how long loading the configuration took, for the stats
	// file.
	LoadTime time.Duration
}

// Hooks are what a source hears of the runtime; each may be nil.
type Hooks struct {
	// Decorate returns the function that completes each message of a
	// dataset before it is published (the CloudEvents of Akri mode), or
	// nil.
	Decorate func(a *plan.Asset, d *plan.Dataset) func(*mqttclient.Message)
	// DatasetState is told when a dataset starts failing (err set) or
	// recovers (err nil).
	DatasetState func(asset, dataset string, err error)
	// EndpointCredentials is told when an endpoint's secrets cannot be
	// read any more (err set: its assets keep the credentials they have)
	// or have changed and its assets restarted with them (err nil).
	EndpointCredentials func(ep *plan.Endpoint, err error)
	// EndpointAuth is told when a device starts refusing an endpoint's
	// credentials (err set: a 401 or 403, a failing login or token
	// request) and when it accepts them again (err nil).
	EndpointAuth func(ep *plan.Endpoint, err error)
	// ActionCalled is told of every call of a management action, once it
	// is answered.
	ActionCalled func(ActionCall)
}

// Options configure a run. The zero value of a field is its default.
type Options struct {
	Logger zerolog.Logger
	// Fetch holds the HTTP limits of device requests; its Credentials and
	// Shared are the runtime's.
	Fetch fetch.Options
	// Publish configures the QoS 1 queue; its Logger is the runtime's.
	Publish publish.Options
	// ShutdownTimeout bounds the goodbye, the flush and the disconnect.
	ShutdownTimeout time.Duration
	// ConnectWait is how long the start waits for the broker before
	// sampling begins anyway (messages are queued meanwhile); default 10 s.
	ConnectWait time.Duration
	// SecretsPeriod is how often endpoint secrets are read again to notice
	// a changed content; default 10 s.
	SecretsPeriod time.Duration
	// StatsFile, if set, receives the running totals as JSON lines (see
	// StatsLine): what the benchmark reads.
	StatsFile string
	// Pprof, if set, serves net/http/pprof on this loopback address.
	Pprof string
	// MetricsAddr, if set, is where the operations listener serves
	// /metrics, /healthz and /readyz (a bare port: on loopback).
	MetricsAddr string
	// OpsListener, if set, is the operations listener's socket, instead
	// of listening on MetricsAddr (the demo and tests open their own).
	OpsListener net.Listener
	// MetricsSummed sums the per-dataset metrics over the datasets
	// instead of labelling them with asset and dataset (the setting
	// metricsPerDataset off).
	MetricsSummed bool
	// OTLP, if its Endpoint is set, pushes the metrics to an
	// OpenTelemetry collector; a source's Setup.OTLP is used otherwise,
	// with this Interval and Timeout if set.
	OTLP metrics.OTLPOptions
	// StatusPage also serves the status page and its playground at / of
	// the operations listener.
	StatusPage bool
	// StatusPageHosts are the host names, besides localhost and IP
	// addresses, the status page answers to.
	StatusPageHosts []string
	// LowGCWhileStarting keeps the garbage collector's target low until
	// the source is ready (see startgc.go).
	LowGCWhileStarting bool
	// Ready, if set, is called once, when the source is ready, with the
	// URL of the broker.
	Ready func(brokerURL string)
	// ReadyFile, if set, is a file kept while the connector is ready: the
	// source has applied its first assets and the broker is connected. It
	// is rewritten every ReadyPeriod (its time says the process lives) and
	// removed while the connection is down and at the end: what the
	// readiness probe (http-connector ready) checks.
	ReadyFile string
	// ReadyPeriod is how often the ready file is checked; default 2 s.
	ReadyPeriod time.Duration
	// Build is the build of the connector, logged when the run starts.
	Build version.Info
	// Abort, if set, ends when a shutdown must not wait any more (a second
	// Ctrl-C): the goodbye, the flush and the disconnect stop at once, and
	// what is still queued is kept in the spool or lost.
	Abort context.Context
	// Settings are the connector's settings as the status page shows them,
	// secrets already redacted.
	Settings map[string]any
}

// FromSettings are the options the connector settings give.
func FromSettings(s *settings.Settings, log zerolog.Logger) Options {
	return Options{
		Logger: log,
		Fetch:  fetch.Options{MaxResponseBytes: s.MaxResponseBytes, MaxConns: s.MaxConnsPerDevice},
		Publish: publish.Options{
			QueueSize: s.PublishQueueSize,
			Inflight:  s.PublishInflight,
			Overflow:  s.PublishOverflow,
			SpoolDir:  s.SpoolDir,
		},
		ShutdownTimeout: s.ShutdownTimeout,
		Pprof:           s.Pprof,
		ReadyFile:       s.ReadyFile,
		MetricsAddr:     s.MetricsAddr,
		StatusPage:      s.StatusPage,
		StatusPageHosts: s.StatusPageHosts,
		MetricsSummed:   !s.MetricsPerDataset,
		Settings:        s.Shown(),
	}
}

func (o *Options) defaults() {
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = settings.Defaults().ShutdownTimeout
	}
	if o.ConnectWait <= 0 {
		o.ConnectWait = 10 * time.Second
	}
	if o.SecretsPeriod <= 0 {
		o.SecretsPeriod = 10 * time.Second
	}
	if o.ReadyPeriod <= 0 {
		o.ReadyPeriod = 2 * time.Second
	}
	o.Publish.Logger = o.Logger
}

// Runtime is a running connector, as its source sees it.
type Runtime struct {
	opts   Options
	log    zerolog.Logger
	setup  Setup
	client *mqttclient.Client
	pub    *publish.Publisher
	// pubStarted is pub for the operations listener, which starts first.
	pubStarted atomic.Pointer[publish.Publisher]
	sched      *schedule.Scheduler
	began      time.Time
	stats      *statsWriter
	gc         *startupGC
	ready      sync.Once
	started    atomic.Bool    // Ready was called
	sources    sync.WaitGroup // the source's goroutines
	srcCtx     context.Context

	clock    *aiorpc.Clock // of the management actions' executors
	metrics  *metricsState
	otlp     metrics.OTLPOptions // where the metrics are pushed, if anywhere
	counters sampling.Counters
	shared   fetch.Transports    // connection pools of the endpoints' clients
	work     sampling.Workspaces // memory of the samples running

	mu        sync.Mutex
	endpoints map[string]*endpoint
	assets    map[string]*running
	disabled  map[string]*plan.Asset // assets not active, for the status page
}

// Run runs src until ctx ends, as the package comment says. A source's
// configuration problems are returned before anything is dialled.
func Run(ctx context.Context, src Source, o Options) (err error) {
	o.defaults()
	rt := &Runtime{opts: o, log: o.Logger, began: time.Now(), endpoints: map[string]*endpoint{}, assets: map[string]*running{}, disabled: map[string]*plan.Asset{}, clock: aiorpc.NewClock(), metrics: newMetricsState(&o)}
	rt.logStart()
	if o.LowGCWhileStarting {
		rt.gc = lowerGCForStartup()
		defer rt.gc.restore()
	}
	if rt.setup, err = src.Prepare(ctx); err != nil {
		return err
	}
	if rt.setup.Close != nil {
		defer rt.setup.Close()
	}
	rt.chooseOTLP()
	if rt.setup.Secrets == nil {
		rt.setup.Secrets = noSecrets{}
	}
	if o.Pprof != "" {
		stop, err := servePprof(o.Pprof, rt.log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if rt.stats, err = newStatsWriter(o.StatsFile, rt.setup.LoadTime); err != nil {
		return err
	}
	rt.sched = schedule.New(rt.stats.observer())

	// The connection outlives ctx until Close, so that the messages queued
	// when ctx ends can still be flushed.
	if rt.client, err = mqttclient.Connect(context.WithoutCancel(ctx), rt.setup.MQTT); err != nil {
		return err
	}
	defer rt.disconnect(ctx)
	if o.MetricsAddr != "" || o.OpsListener != nil {
		stop, err := rt.serveOps()
		if err != nil {
			return err
		}
		defer stop()
	}
	// After the flush (deferred later, run earlier): the last export has
	// the final totals.
	defer rt.startOTLP(ctx)()
	broker := rt.brokerURL()
	waitCtx, cancel := context.WithTimeout(ctx, o.ConnectWait)
	if err := rt.client.AwaitConnection(waitCtx); err != nil && ctx.Err() == nil {
		rt.log.Warn().Str("broker", broker).Msg("broker not reachable yet; sampling starts anyway and publishing follows the connection")
	}
	cancel()
	if rt.pub, err = publish.Start(ctx, rt.client, o.Publish); err != nil {
		return err
	}
	rt.pubStarted.Store(rt.pub)
	defer func() {
		if ferr := rt.flush(ctx); err == nil {
			err = ferr
		}
	}()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	rt.srcCtx = runCtx
	var sampling sync.WaitGroup
	sampling.Go(func() { rt.sched.Run(runCtx) })
	rt.stats.run(runCtx, rt)
	srcErr := make(chan error, 1)
	rt.sources.Go(func() {
		err := src.Run(runCtx, rt)
		if err != nil && runCtx.Err() == nil {
			srcErr <- err
		}
		stop()
	})
	rt.sources.Go(func() { rt.watchSecrets(runCtx) })
	if o.ReadyFile != "" {
		rt.sources.Go(func() { rt.keepReadyFile(runCtx) })
	}
	<-runCtx.Done()
	rt.log.Info().Msg("stopping: samplers first, then the publish queue is flushed")
	rt.sources.Wait()
	sampling.Wait()
	rt.closeActions()
	rt.closeEndpoints()
	rt.stats.close(rt)
	rt.logStopped()

	gctx, cancel := rt.shutdownContext(ctx)
	defer cancel()
	src.Goodbye(gctx)
	select {
	case err := <-srcErr:
		return err
	default:
		return nil
	}
}

// logStart logs which build starts.
func (rt *Runtime) logStart() {
	b := rt.opts.Build
	if b.Version == "" {
		return
	}
	ev := rt.log.Info().Str("version", b.Version)
	if b.Revision != "" {
		ev = ev.Str("commit", b.Revision).Bool("modified", b.Modified)
	}
	ev.Str("go", b.GoVersion).Msg("http-connector starting")
}

// logStopped logs the run's totals once the samplers have stopped.
func (rt *Runtime) logStopped() {
	st := rt.Snapshot()
	rt.log.Info().Int64("samples", st.Samples).Int64("messages", st.Messages).Int64("failed_samples", st.Failures).
		Int64("filtered_samples", rt.counters.Filtered.Load()).Int64("suppressed_samples", rt.counters.Suppressed.Load()).
		Int64("duplicates", rt.counters.Duplicates.Load()).Int64("missed_ticks", st.Missed).
		Int64("retries", rt.counters.Retries.Load()).Int64("skipped_ticks", rt.counters.Skipped.Load()).Msg("stopped")
}

// shutdownContext bounds one step of the shutdown: ShutdownTimeout, or
// until Abort ends.
func (rt *Runtime) shutdownContext(ctx context.Context) (context.Context, context.CancelFunc) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rt.opts.ShutdownTimeout)
	if rt.opts.Abort == nil {
		return sctx, cancel
	}
	stop := context.AfterFunc(rt.opts.Abort, cancel)
	return sctx, func() { stop(); cancel() }
}

// flush delivers what is queued within the shutdown timeout. Its error
// says how many messages were lost: neither delivered nor spooled.
func (rt *Runtime) flush(ctx context.Context) error {
	fctx, cancel := rt.shutdownContext(ctx)
	defer cancel()
	if n := rt.pub.Len(); n > 0 {
		ev := rt.log.Info().Int("queued", n).Dur("up_to", rt.opts.ShutdownTimeout)
		if rt.opts.Abort != nil {
			ev.Msg("flushing queued messages before stopping; interrupt again (Ctrl-C) to stop now")
		} else {
			ev.Msg("flushing queued messages before stopping")
		}
	}
	err := rt.pub.Close(fctx)
	if err != nil {
		rt.log.Warn().Err(err).Msg("publish queue not flushed")
	}
	pc := rt.pub.Counters()
	rt.log.Info().Int64("queued", pc.Queued.Load()).Int64("delivered", pc.Delivered.Load()).
		Int64("dropped", pc.Dropped.Load()).Int64("expired", pc.Expired.Load()).
		Int64("replayed", pc.Replayed.Load()).Int64("sent_qos0", pc.Sent.Load()).
		Int64("dropped_qos0", pc.DroppedQoS0.Load()).Int("left", rt.pub.Len()).Msg("publisher stopped")
	var lost *publish.LostError
	if errors.As(err, &lost) {
		why := fmt.Sprintf("the broker did not take them within %v", rt.opts.ShutdownTimeout)
		if rt.opts.Abort != nil && rt.opts.Abort.Err() != nil {
			why = "the shutdown was interrupted"
		}
		return fmt.Errorf("%d queued messages lost at shutdown: %s (set spoolDir to keep them across restarts)", lost.Messages, why)
	}
	return nil
}

func (rt *Runtime) disconnect(ctx context.Context) {
	sctx, cancel := rt.shutdownContext(ctx)
	defer cancel()
	if err := rt.client.Close(sctx); err != nil {
		rt.log.Warn().Err(err).Msg("mqtt disconnect")
	}
}

func (rt *Runtime) brokerURL() string {
	if len(rt.setup.MQTT.Servers) == 0 {
		return ""
	}
	u := *rt.setup.MQTT.Servers[0]
	u.User = nil
	return (&u).String()
}

// MQTT is the connection; sources use it for their own RPC (ADR).
func (rt *Runtime) MQTT() *mqttclient.Client { return rt.client }

// publisher is pub once it started, from any goroutine; nil before.
func (rt *Runtime) publisher() *publish.Publisher { return rt.pubStarted.Load() }

// Publisher is the queue dataset messages go through.
func (rt *Runtime) Publisher() *publish.Publisher { return rt.pub }

// Go runs f on a goroutine the runtime waits for before sampling stops; f
// must return once ctx ends.
func (rt *Runtime) Go(f func(ctx context.Context)) {
	rt.sources.Go(func() { f(rt.srcCtx) })
}

// Ready tells the runtime that the source has applied its first assets: the
// start is over. Later calls do nothing.
func (rt *Runtime) Ready() {
	rt.ready.Do(func() {
		rt.started.Store(true)
		rt.stats.started(time.Since(rt.began))
		rt.log.Info().Int("assets", rt.Assets()).Str("broker", rt.brokerURL()).Msg("sampling")
		if rt.gc != nil {
			rt.gc.restore()
		}
		if rt.opts.Ready != nil {
			rt.opts.Ready(rt.brokerURL())
		}
	})
}

// Readiness reports whether the connector is ready: the source has
// applied its first assets, and the broker is connected now.
func (rt *Runtime) Readiness() (ready bool, why string) {
	switch {
	case !rt.started.Load():
		return false, "starting: the assets are not applied yet"
	case !rt.client.Connected():
		return false, "the MQTT broker is not connected"
	}
	return true, ""
}

// keepReadyFile keeps the ready file while the connector is ready, until
// ctx ends; then it removes it.
func (rt *Runtime) keepReadyFile(ctx context.Context) {
	file := rt.opts.ReadyFile
	defer os.Remove(file)
	t := time.NewTicker(rt.opts.ReadyPeriod)
	defer t.Stop()
	was := false
	for {
		ready, why := rt.Readiness()
		switch {
		case ready:
			if err := os.WriteFile(file, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil && !was {
				rt.log.Warn().Err(err).Str("file", file).Msg("the ready file cannot be written")
			}
		case was:
			rt.log.Warn().Str("why", why).Msg("not ready")
			_ = os.Remove(file)
		}
		if ready && !was {
			rt.log.Info().Str("file", file).Msg("ready")
		}
		was = ready
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Resolve reads an endpoint's secrets as the runtime does.
func (rt *Runtime) Resolve(ep *plan.Endpoint) (credentials.Resolved, error) {
	return credentials.Resolve(ep, rt.setup.Secrets)
}

// noSecrets are the secrets of a source that has none.
type noSecrets struct{}

var errNoSecrets = errors.New("no secrets are configured")

func (noSecrets) Secret(string) ([]byte, error)               { return nil, errNoSecrets }
func (noSecrets) TrustList(ep *plan.Endpoint) ([]byte, error) { return nil, nil }
