package metrics

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/grpc/credentials"
)

// The OTLP defaults.
const (
	// DefaultOTLPInterval is the export interval when none is set: the
	// OpenTelemetry SDK's default, and the 60 s of the collector in AIO's
	// observability guide.
	DefaultOTLPInterval = 60 * time.Second
	// DefaultOTLPTimeout bounds one export, retries included.
	DefaultOTLPTimeout = 30 * time.Second
	// DefaultServiceName is the service.name resource attribute when none is
	// set.
	DefaultServiceName = "http-connector"
)

// maxBatchPoints is the most data points in one OTLP request: some
// 0.6 MB with short names, under 2 MB with asset and dataset names of the
// most Kubernetes allows (253 characters; a test checks), where gRPC
// servers, the OpenTelemetry collector among them, accept 4 MiB by
// default.
const maxBatchPoints = 2000

// scopeName is the instrumentation scope of the exported metrics.
const scopeName = "github.com/http-connector/http-connector/internal/metrics"

// OTLPOptions configure the OTLP export.
type OTLPOptions struct {
	Options
	// Endpoint is the collector's URL; its scheme chooses the protocol:
	// grpc:// (plain) or grpcs:// (TLS) for OTLP/gRPC, what Akri passes in
	// OTLP_GRPC_METRIC_ENDPOINT, port 4317 if none; http:// or https:// for
	// OTLP/HTTP with protobuf, OTLP_HTTP_METRIC_ENDPOINT, port 4318 and path
	// /v1/metrics if none.
	Endpoint string
	// CAFile is a PEM file of the certificates the collector's must chain
	// to, for grpcs and https (FIRST_PARTY_OTLP_GRPC_METRICS_COLLECTOR_CA_PATH);
	// empty means the system's roots.
	CAFile string
	// Interval is the time between exports; zero means DefaultOTLPInterval.
	Interval time.Duration
	// Timeout bounds one export; zero means DefaultOTLPTimeout.
	Timeout time.Duration
	// ServiceName, ServiceVersion and ServiceInstanceID are the resource
	// attributes service.name (DefaultServiceName if empty), service.version
	// and service.instance.id (the CONNECTOR_ID in Akri mode); empty ones
	// other than the name are left out.
	ServiceName, ServiceVersion, ServiceInstanceID string
	// Attributes are more resource attributes (k8s.namespace.name, ...).
	Attributes map[string]string
}

// OTLP pushes the metrics to an OpenTelemetry collector every interval,
// reading the Source once per export. Nothing is read or sent between
// exports.
type OTLP struct {
	provider *sdkmetric.MeterProvider
}

// StartOTLP checks o, then starts exporting src to o.Endpoint. The
// connection is made at the first export, so an unreachable collector is
// not an error here; failed exports are logged to o.Logger. The exporter
// also reads the standard OTEL_EXPORTER_OTLP_* variables for what o does
// not set (headers, for one); the endpoint, TLS, timeout and compression
// are always o's.
func StartOTLP(ctx context.Context, src Source, o OTLPOptions) (*OTLP, error) {
	exp, err := newExporter(ctx, &o)
	if err != nil {
		return nil, err
	}
	interval, timeout := o.Interval, o.Timeout
	if interval <= 0 {
		interval = DefaultOTLPInterval
	}
	if timeout <= 0 {
		timeout = DefaultOTLPTimeout
	}
	reader := sdkmetric.NewPeriodicReader(&quietExporter{Exporter: exp, log: o.Logger},
		sdkmetric.WithInterval(interval),
		sdkmetric.WithTimeout(timeout),
		sdkmetric.WithMaxExportBatchSize(maxBatchPoints),
		sdkmetric.WithProducer(newProducer(src, o.Options)),
	)
	provider := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(reader),
		sdkmetric.WithResource(newResource(&o)), // not resource.Default: it reads the environment
	)
	return &OTLP{provider: provider}, nil
}

// Shutdown stops the exports after a last one, which it waits for until
// ctx ends (or the export timeout, if ctx has no deadline). Its error is
// that export's: the metrics since the previous export were not delivered.
func (x *OTLP) Shutdown(ctx context.Context) error {
	if err := x.provider.Shutdown(context.WithValue(ctx, finalExport{}, true)); err != nil {
		return fmt.Errorf("otlp: last export: %w", err)
	}
	return nil
}

// newExporter makes the OTLP exporter that o.Endpoint names.
func newExporter(ctx context.Context, o *OTLPOptions) (sdkmetric.Exporter, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("otlp: endpoint %q: want a URL such as grpc://aio-otel-collector:4317", o.Endpoint)
	}
	var secure bool
	var port string
	switch u.Scheme {
	case "grpc", "http":
	case "grpcs", "https":
		secure = true
	default:
		return nil, fmt.Errorf("otlp: endpoint %q: the scheme must be grpc, grpcs, http or https", o.Endpoint)
	}
	grpc := u.Scheme == "grpc" || u.Scheme == "grpcs"
	if port = u.Port(); port == "" {
		port = "4318"
		if grpc {
			port = "4317"
		}
	}
	host := net.JoinHostPort(u.Hostname(), port)
	var tlsConf *tls.Config
	switch {
	case secure:
		if tlsConf, err = clientTLS(o.CAFile); err != nil {
			return nil, err
		}
	case o.CAFile != "":
		return nil, fmt.Errorf("otlp: endpoint %q: a CA file needs grpcs or https", o.Endpoint)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultOTLPTimeout
	}

	var exp sdkmetric.Exporter
	if grpc {
		opts := []otlpmetricgrpc.Option{
			otlpmetricgrpc.WithEndpoint(host),
			otlpmetricgrpc.WithTimeout(timeout),
			otlpmetricgrpc.WithCompressor("gzip"),
		}
		if secure {
			opts = append(opts, otlpmetricgrpc.WithTLSCredentials(credentials.NewTLS(tlsConf)))
		} else {
			opts = append(opts, otlpmetricgrpc.WithInsecure())
		}
		exp, err = otlpmetricgrpc.New(ctx, opts...)
	} else {
		path := u.Path
		if path == "" || path == "/" {
			path = "/v1/metrics"
		}
		opts := []otlpmetrichttp.Option{
			otlpmetrichttp.WithEndpoint(host),
			otlpmetrichttp.WithURLPath(path),
			otlpmetrichttp.WithTimeout(timeout),
			otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression),
		}
		if secure {
			opts = append(opts, otlpmetrichttp.WithTLSClientConfig(tlsConf))
		} else {
			opts = append(opts, otlpmetrichttp.WithInsecure())
		}
		exp, err = otlpmetrichttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("otlp: endpoint %q: %w", o.Endpoint, err)
	}
	return exp, nil
}

// clientTLS is the TLS configuration that trusts the certificates of
// caFile, or the system's roots if it is empty.
func clientTLS(caFile string) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return conf, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("otlp: CA file: %w", err)
	}
	conf.RootCAs = x509.NewCertPool()
	if !conf.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("otlp: CA file %s: no PEM certificate in it", caFile)
	}
	return conf, nil
}

func newResource(o *OTLPOptions) *resource.Resource {
	name := o.ServiceName
	if name == "" {
		name = DefaultServiceName
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if o.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", o.ServiceVersion))
	}
	if o.ServiceInstanceID != "" {
		attrs = append(attrs, attribute.String("service.instance.id", o.ServiceInstanceID))
	}
	for k, v := range o.Attributes {
		attrs = append(attrs, attribute.String(k, v))
	}
	return resource.NewSchemaless(attrs...)
}

// finalExport marks the context of the export Shutdown makes.
type finalExport struct{}

// quietExporter logs the errors of the periodic exports instead of
// returning them to the reader, which would give them to OpenTelemetry's
// global error handler (stderr). The last export's error, from Shutdown,
// is returned.
type quietExporter struct {
	sdkmetric.Exporter
	log zerolog.Logger
}

func (e *quietExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := e.Exporter.Export(ctx, rm)
	if err == nil || ctx.Value(finalExport{}) != nil {
		return err
	}
	if !errors.Is(err, context.Canceled) { // the reader stopping, for Shutdown's export
		e.log.Warn().Err(err).Msg("otlp export")
	}
	return nil
}

// producer makes the OTLP metrics of a Source, read once per Produce.
type producer struct {
	src    Source
	opts   Options
	specs  [numFamilies]spec
	labels [numFamilies][]string // label names, asset and dataset first when per dataset
	bounds []float64             // bucket bounds in seconds
	// datasets is the number of datasets the last Produce saw, to size the
	// next one's slices.
	datasets atomic.Int64
}

func newProducer(src Source, o Options) *producer {
	p := &producer{src: src, opts: o}
	for f := range numFamilies {
		sp := f.spec()
		p.specs[f] = sp
		if sp.perDataset && o.PerDataset {
			p.labels[f] = append(p.labels[f], labelAsset, labelDataset)
		}
		p.labels[f] = append(p.labels[f], sp.labels...)
	}
	for _, b := range Buckets() {
		p.bounds = append(p.bounds, b.Seconds())
	}
	return p
}

// Produce is one collection: every family with a point, cumulative.
func (p *producer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	s := &otelSink{p: p, now: p.opts.now()}
	if n := int(p.datasets.Load()); n > 0 && p.opts.PerDataset {
		for f := range famRequestDuration {
			s.points[f] = make([]metricdata.DataPoint[int64], 0, n)
		}
		s.points[famErrors] = make([]metricdata.DataPoint[int64], 0, n*int(NumFailureKinds))
		s.histograms = make([]metricdata.HistogramDataPoint[float64], 0, n)
	}
	collect(p.src, p.opts.PerDataset, s.now, s)
	if p.opts.PerDataset {
		p.datasets.Store(int64(len(s.points[famReceived])))
	}
	ms := make([]metricdata.Metrics, 0, numFamilies)
	for f := range numFamilies {
		sp := &p.specs[f]
		m := metricdata.Metrics{Name: sp.name, Description: sp.help, Unit: sp.unit}
		switch sp.kind {
		case counter:
			m.Data = metricdata.Sum[int64]{DataPoints: s.points[f], Temporality: metricdata.CumulativeTemporality, IsMonotonic: true}
		case gauge:
			m.Data = metricdata.Gauge[int64]{DataPoints: s.points[f]}
		case histogram:
			if len(s.histograms) == 0 {
				continue
			}
			m.Data = metricdata.Histogram[float64]{DataPoints: s.histograms, Temporality: metricdata.CumulativeTemporality}
		}
		if sp.kind != histogram && len(s.points[f]) == 0 {
			continue
		}
		ms = append(ms, m)
	}
	return []metricdata.ScopeMetrics{{Scope: instrumentation.Scope{Name: scopeName}, Metrics: ms}}, nil
}

// otelSink gathers the points of one Produce.
type otelSink struct {
	p          *producer
	now        time.Time
	points     [numFamilies][]metricdata.DataPoint[int64]
	histograms []metricdata.HistogramDataPoint[float64] // the one histogram family's

	// The last attribute set made, reused while the labels stay the same:
	// a dataset's families but one have the same labels.
	lastNames  []string
	lastValues []string
	lastSet    attribute.Set
}

func (s *otelSink) attrs(f family, labels []string) attribute.Set {
	if len(labels) == 0 {
		return *attribute.EmptySet()
	}
	names := s.p.labels[f]
	if slices.Equal(names, s.lastNames) && slices.Equal(labels, s.lastValues) {
		return s.lastSet
	}
	kv := make([]attribute.KeyValue, len(labels))
	for i, v := range labels {
		kv[i] = attribute.String(names[i], v)
	}
	s.lastNames, s.lastValues = names, append(s.lastValues[:0], labels...)
	s.lastSet = attribute.NewSet(kv...)
	return s.lastSet
}

func (s *otelSink) point(f family, v int64, start time.Time, labels []string) {
	s.points[f] = append(s.points[f], metricdata.DataPoint[int64]{
		Attributes: s.attrs(f, labels), StartTime: start, Time: s.now, Value: v,
	})
}

func (s *otelSink) histogram(f family, h *HistogramSnapshot, start time.Time, labels []string) {
	s.histograms = append(s.histograms, metricdata.HistogramDataPoint[float64]{
		Attributes:   s.attrs(f, labels),
		StartTime:    start,
		Time:         s.now,
		Count:        h.Count(),
		Bounds:       s.p.bounds, // read only, shared
		BucketCounts: append([]uint64(nil), h.Counts[:]...),
		Sum:          h.Sum.Seconds(),
	})
}
