package connector

import (
	"cmp"
	"context"
	"net/http"
	"runtime"
	"sync"

	"github.com/http-connector/http-connector/internal/metrics"
	"github.com/http-connector/http-connector/internal/sampling"
)

// metricsState is what the runtime keeps for the metrics besides the
// samplers' own totals: the latency histograms (one per dataset, only while
// metrics are on) and the final totals of the datasets that stopped, so
// that the sums never go down when an asset restarts or leaves.
type metricsState struct {
	on    bool
	kinds []metrics.FailureKind // metrics kind of each sampling.FailureKinds()

	mu      sync.Mutex
	stopped metrics.DatasetTotals
	latency metrics.Histogram // of the datasets that stopped
}

func newMetricsState(o *Options) *metricsState {
	m := &metricsState{on: o.MetricsAddr != "" || o.OpsListener != nil || o.OTLP.Endpoint != ""}
	for _, k := range sampling.FailureKinds() {
		mk := metrics.FailureInternal
		for c := range metrics.NumFailureKinds {
			if c.String() == string(k) {
				mk = c
			}
		}
		m.kinds = append(m.kinds, mk)
	}
	m.stopped.Latency = &m.latency
	return m
}

// newLatency is the latency histogram of a new dataset; nil while metrics
// are off, so that samples observe nothing.
func (m *metricsState) newLatency() *metrics.Histogram {
	if !m.on {
		return nil
	}
	return new(metrics.Histogram)
}

// totals are a running dataset's totals as the metrics read them.
func (m *metricsState) totals(rd runningDataset) metrics.DatasetTotals {
	st := rd.sampler.Stats()
	t := metrics.DatasetTotals{
		Asset: rd.asset.Name, Dataset: rd.sampler.Dataset().Name, Started: st.Started,
		Samples: st.Responses, BytesIn: st.BytesIn, Messages: st.Messages, BytesOut: st.BytesOut,
		Suppressed: st.Suppressed, Filtered: st.Filtered, Duplicates: st.Duplicates,
		MissedTicks: rd.job.Missed(), SkippedTicks: st.SkippedTicks,
		Latency: rd.latency, Failing: st.LastError != nil,
	}
	for i, n := range st.FailuresByKind {
		t.Failures[m.kinds[i]] += n
	}
	return t
}

// stop adds the final totals of a stopped asset's datasets to the stopped
// sums. Its samples have ended (the scheduler removed its jobs).
func (m *metricsState) stop(r *running) {
	if !m.on {
		return
	}
	for i, s := range r.samplers {
		t := m.totals(runningDataset{asset: r.plan, sampler: s, job: r.jobs[i], latency: r.latency[i]})
		m.mu.Lock()
		m.stopped.Add(&t)
		if t.Latency != nil {
			m.latency.Merge(t.Latency.Snapshot())
		}
		m.mu.Unlock()
	}
}

// metricsSource is the runtime as the metrics read it.
type metricsSource struct{ rt *Runtime }

func (s metricsSource) Datasets(f func(metrics.DatasetTotals)) {
	s.rt.eachDataset(func(rd runningDataset) { f(s.rt.metrics.totals(rd)) })
}

func (s metricsSource) Connector() metrics.ConnectorTotals {
	rt := s.rt
	c := metrics.ConnectorTotals{
		Version: rt.opts.Build.Version, Commit: rt.opts.Build.Revision, GoVersion: rt.opts.Build.GoVersion,
		Started: rt.began, Assets: rt.Assets(),
		MQTTConnected: rt.client.Connected(), MQTTReconnects: rt.client.Reconnects(),
	}
	if c.GoVersion == "" {
		c.GoVersion = runtime.Version()
	}
	rt.metrics.mu.Lock()
	c.Stopped = rt.metrics.stopped
	rt.metrics.mu.Unlock()
	if pub := rt.publisher(); pub != nil {
		pc := pub.Counters()
		c.ByQoS[0] = metrics.QoSTotals{Delivered: pc.Sent.Load(), Dropped: pc.DroppedQoS0.Load()}
		c.ByQoS[1] = metrics.QoSTotals{Queued: pc.Queued.Load(), Delivered: pc.Delivered.Load(), Dropped: pc.Dropped.Load(), Expired: pc.Expired.Load()}
		c.QueueDepth = pub.Len()
		c.SpoolBytes = pub.SpoolBytes()
	}
	return c
}

func (rt *Runtime) metricsOptions() metrics.Options {
	return metrics.Options{PerDataset: !rt.opts.MetricsSummed, Logger: rt.log}
}

// metricsHandler is /metrics of the operations listener.
func (rt *Runtime) metricsHandler() http.Handler {
	return metrics.NewPrometheus(metricsSource{rt}, rt.metricsOptions())
}

// chooseOTLP decides where the metrics are pushed, if anywhere: the
// options' endpoint, else the source's (Akri mode), with the options'
// interval and timeout if set.
func (rt *Runtime) chooseOTLP() {
	o := rt.opts.OTLP
	rt.otlp = rt.setup.OTLP
	if o.Endpoint != "" {
		rt.otlp = o
	}
	rt.otlp.Interval, rt.otlp.Timeout = cmp.Or(o.Interval, rt.otlp.Interval), cmp.Or(o.Timeout, rt.otlp.Timeout)
	rt.metrics.on = rt.metrics.on || rt.otlp.Endpoint != ""
}

// startOTLP starts pushing the metrics to the OTLP endpoint, if there is
// one; stop makes a last export, bounded by the shutdown timeout. A
// collector that cannot be used costs the metrics, not the telemetry: the
// error is logged and the connector runs on.
func (rt *Runtime) startOTLP(ctx context.Context) (stop func()) {
	o := rt.otlp
	if o.Endpoint == "" {
		return func() {}
	}
	o.Options = rt.metricsOptions()
	if o.ServiceVersion == "" {
		o.ServiceVersion = rt.opts.Build.Version
	}
	x, err := metrics.StartOTLP(ctx, metricsSource{rt}, o)
	if err != nil {
		rt.log.Error().Err(err).Msg("metrics are not pushed")
		return func() {}
	}
	rt.log.Info().Str("endpoint", o.Endpoint).Dur("interval", cmp.Or(o.Interval, metrics.DefaultOTLPInterval)).Msg("pushing metrics with OTLP")
	return func() {
		sctx, cancel := rt.shutdownContext(ctx)
		defer cancel()
		if err := x.Shutdown(sctx); err != nil {
			rt.log.Warn().Err(err).Msg("metrics")
		}
	}
}
