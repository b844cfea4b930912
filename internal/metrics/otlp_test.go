package metrics

import (
	"context"
	"crypto/tls"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/http-connector/http-connector/internal/testing/otlptest"
	"github.com/http-connector/http-connector/internal/testing/testcert"
)

// grpcReceiver is an OTLP/gRPC receiver with the gRPC defaults (a 4 MiB
// limit on requests).
type grpcReceiver struct {
	colmetricpb.UnimplementedMetricsServiceServer
	Got chan otlptest.Export
}

func (r *grpcReceiver) Export(_ context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	r.Got <- otlptest.Export{Request: req, Size: proto.Size(req)}
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

// startGRPC serves r on a loopback port, with TLS if cert is set; it
// returns the address.
func startGRPC(t *testing.T, r *grpcReceiver, cert *tls.Certificate) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if cert != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{*cert}})))
	}
	srv := grpc.NewServer(opts...)
	colmetricpb.RegisterMetricsServiceServer(srv, r)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return ln.Addr().String()
}

// writeCA writes the PEM of ca to a file and returns its path.
func writeCA(t *testing.T, ca testcert.Cert) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// next waits for the next request; the deadline only guards against a
// hang, nothing waits on it.
func next(t *testing.T, got <-chan otlptest.Export) otlptest.Export {
	t.Helper()
	select {
	case r := <-got:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no OTLP request arrived")
		return otlptest.Export{}
	}
}

func shutdown(t *testing.T, x *OTLP) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := x.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// flattenOTLP is every data point of reqs as flatten makes them of a
// Prometheus exposition, so that the same want maps check both.
func flattenOTLP(t *testing.T, reqs ...*colmetricpb.ExportMetricsServiceRequest) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	key := func(name string, attrs []*commonpb.KeyValue, extra ...string) string {
		var parts []string
		for _, a := range attrs {
			parts = append(parts, a.GetKey()+"="+strconv.Quote(a.GetValue().GetStringValue()))
		}
		parts = append(parts, extra...)
		slices.Sort(parts)
		if len(parts) == 0 {
			return name
		}
		return name + "{" + strings.Join(parts, ",") + "}"
	}
	set := func(k string, v float64) {
		if _, dup := out[k]; dup {
			t.Errorf("%s sent twice", k)
		}
		out[k] = v
	}
	for _, req := range reqs {
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					switch d := m.GetData().(type) {
					case *metricpb.Metric_Sum:
						for _, p := range d.Sum.GetDataPoints() {
							set(key(m.GetName(), p.GetAttributes()), float64(p.GetAsInt()))
						}
					case *metricpb.Metric_Gauge:
						for _, p := range d.Gauge.GetDataPoints() {
							set(key(m.GetName(), p.GetAttributes()), float64(p.GetAsInt()))
						}
					case *metricpb.Metric_Histogram:
						for _, p := range d.Histogram.GetDataPoints() {
							var cum uint64
							for i, b := range p.GetExplicitBounds() {
								cum += p.GetBucketCounts()[i]
								le := strconv.FormatFloat(b, 'g', -1, 64)
								set(key(m.GetName()+"_bucket", p.GetAttributes(), "le="+strconv.Quote(le)), float64(cum))
							}
							set(key(m.GetName()+"_bucket", p.GetAttributes(), `le="+Inf"`), float64(p.GetCount()))
							set(key(m.GetName()+"_count", p.GetAttributes()), float64(p.GetCount()))
							set(key(m.GetName()+"_sum", p.GetAttributes()), p.GetSum())
						}
					default:
						t.Errorf("%s: unexpected data %T", m.GetName(), d)
					}
				}
			}
		}
	}
	return out
}

// compare checks got against want, series by series.
func compare(t *testing.T, got, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("missing %s (want %v)", k, w)
		case g != w:
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s = %v", k, g)
		}
	}
}

// TestOTLPExport exports the test source once, at Shutdown, over each
// protocol, and checks that the same series arrive as Prometheus exposes,
// with the resource, scope, units and temporality.
func TestOTLPExport(t *testing.T) {
	ca := testcert.CA(t, "test CA")
	leaf := testcert.Leaf(t, "collector", &ca)
	tests := []struct {
		name string
		// start starts a receiver and returns the endpoint, the CA file
		// and where the requests arrive.
		start func(t *testing.T) (endpoint, caFile string, got chan otlptest.Export)
	}{
		{name: "http", start: func(t *testing.T) (string, string, chan otlptest.Export) {
			r := &otlptest.HTTPReceiver{Got: make(chan otlptest.Export, 10)}
			srv := httptest.NewServer(r)
			t.Cleanup(srv.Close)
			return srv.URL, "", r.Got
		}},
		{name: "https with a CA file", start: func(t *testing.T) (string, string, chan otlptest.Export) {
			r := &otlptest.HTTPReceiver{Got: make(chan otlptest.Export, 10)}
			srv := httptest.NewUnstartedServer(r)
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLS(t)}}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			return srv.URL + "/v1/metrics", writeCA(t, ca), r.Got
		}},
		{name: "grpc", start: func(t *testing.T) (string, string, chan otlptest.Export) {
			r := &grpcReceiver{Got: make(chan otlptest.Export, 10)}
			return "grpc://" + startGRPC(t, r, nil), "", r.Got
		}},
		{name: "grpcs with a CA file", start: func(t *testing.T) (string, string, chan otlptest.Export) {
			r := &grpcReceiver{Got: make(chan otlptest.Export, 10)}
			cert := leaf.TLS(t)
			return "grpcs://" + startGRPC(t, r, &cert), writeCA(t, ca), r.Got
		}},
	}
	for _, tt := range tests {
		for _, perDataset := range []bool{true, false} {
			t.Run(tt.name+"/PerDataset="+strconv.FormatBool(perDataset), func(t *testing.T) {
				endpoint, caFile, got := tt.start(t)
				src := newTestSource()
				x, err := StartOTLP(t.Context(), src, OTLPOptions{
					Options:  Options{PerDataset: perDataset, Now: testClock},
					Endpoint: endpoint, CAFile: caFile,
					Interval:    time.Hour, // only Shutdown exports
					ServiceName: "http-connector", ServiceVersion: "1.2.3", ServiceInstanceID: "rest-ctemplate-0",
					Attributes: map[string]string{"k8s.namespace.name": "azure-iot-operations"},
				})
				if err != nil {
					t.Fatalf("StartOTLP: %v", err)
				}
				if d, c := src.calls(); d != 0 || c != 0 {
					t.Errorf("before any export: Datasets called %d times, Connector %d, want 0", d, c)
				}
				shutdown(t, x)
				r := next(t, got)
				if d, c := src.calls(); d != 1 || c != 1 {
					t.Errorf("after one export: Datasets called %d times, Connector %d, want 1 each", d, c)
				}
				want := wantSummed()
				if perDataset {
					want = wantPerDataset()
				}
				compare(t, flattenOTLP(t, r.Request), want)
				checkOTLPShape(t, r.Request)
			})
		}
	}
}

// checkOTLPShape checks the resource, the scope, and each metric's
// description, unit, temporality and times.
func checkOTLPShape(t *testing.T, req *colmetricpb.ExportMetricsServiceRequest) {
	t.Helper()
	rms := req.GetResourceMetrics()
	if len(rms) != 1 {
		t.Fatalf("%d resource metrics, want 1", len(rms))
	}
	res := map[string]string{}
	for _, a := range rms[0].GetResource().GetAttributes() {
		res[a.GetKey()] = a.GetValue().GetStringValue()
	}
	wantRes := map[string]string{
		"service.name": "http-connector", "service.version": "1.2.3", "service.instance.id": "rest-ctemplate-0",
		"k8s.namespace.name": "azure-iot-operations",
	}
	if !maps.Equal(res, wantRes) {
		t.Errorf("resource = %v, want %v", res, wantRes)
	}
	sms := rms[0].GetScopeMetrics()
	if len(sms) != 1 || sms[0].GetScope().GetName() != scopeName {
		t.Fatalf("scope metrics %v, want one, of scope %s", sms, scopeName)
	}
	specs := map[string]spec{}
	for f := range numFamilies {
		specs[f.spec().name] = f.spec()
	}
	now := uint64(testNow.UnixNano())
	started := uint64(testNow.Add(-95 * time.Second).UnixNano())
	for _, m := range sms[0].GetMetrics() {
		sp, ok := specs[m.GetName()]
		if !ok {
			t.Errorf("unexpected metric %s", m.GetName())
			continue
		}
		delete(specs, m.GetName())
		if m.GetDescription() != sp.help || m.GetUnit() != sp.unit {
			t.Errorf("%s: description %q, unit %q; want %q, %q", sp.name, m.GetDescription(), m.GetUnit(), sp.help, sp.unit)
		}
		switch d := m.GetData().(type) {
		case *metricpb.Metric_Sum:
			if sp.kind != counter || !d.Sum.GetIsMonotonic() || d.Sum.GetAggregationTemporality() != metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
				t.Errorf("%s: a sum, monotonic %v, %v; want a cumulative monotonic counter", sp.name, d.Sum.GetIsMonotonic(), d.Sum.GetAggregationTemporality())
			}
			for _, p := range d.Sum.GetDataPoints() {
				wantStart := started
				if attr(p.GetAttributes(), labelAsset) == "pump" {
					wantStart = uint64(testNow.Add(-10 * time.Second).UnixNano()) // its own Started
				}
				if p.GetTimeUnixNano() != now || p.GetStartTimeUnixNano() != wantStart {
					t.Errorf("%s %v: time %d, start %d; want %d, %d", sp.name, p.GetAttributes(), p.GetTimeUnixNano(), p.GetStartTimeUnixNano(), now, wantStart)
				}
			}
		case *metricpb.Metric_Gauge:
			if sp.kind != gauge {
				t.Errorf("%s: a gauge, want %v", sp.name, sp.kind)
			}
		case *metricpb.Metric_Histogram:
			if sp.kind != histogram || d.Histogram.GetAggregationTemporality() != metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
				t.Errorf("%s: a histogram, %v; want a cumulative histogram", sp.name, d.Histogram.GetAggregationTemporality())
			}
		}
	}
	for name := range specs {
		t.Errorf("metric %s was not sent", name)
	}
}

func attr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// TestOTLPPeriodic lets the reader export on its own at a short interval:
// each export is one read of the Source, and none happens between.
func TestOTLPPeriodic(t *testing.T) {
	r := &otlptest.HTTPReceiver{Got: make(chan otlptest.Export, 100)}
	srv := httptest.NewServer(r)
	defer srv.Close()
	src := newTestSource()
	x, err := StartOTLP(t.Context(), src, OTLPOptions{Options: Options{PerDataset: true, Now: testClock}, Endpoint: srv.URL, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("StartOTLP: %v", err)
	}
	for range 3 {
		compare(t, flattenOTLP(t, next(t, r.Got).Request), wantPerDataset())
	}
	shutdown(t, x)
	exports := int64(len(r.Got)) + 3 // the ones not waited for, Shutdown's among them
	if d, c := src.calls(); d != exports || c != exports {
		t.Errorf("Datasets called %d times, Connector %d, want %d each: one per export", d, c, exports)
	}
}

// TestOTLPBatches exports many datasets to a gRPC receiver with the gRPC
// limit of 4 MiB a request: the export is cut into batches well under it,
// even with the longest names, and every series arrives once.
func TestOTLPBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of datasets")
	}
	long := func(src *fakeSource) {
		for i := range src.datasets {
			d := &src.datasets[i]
			d.Asset = d.Asset + "-" + strings.Repeat("a", 253-len(d.Asset)-1)
			d.Dataset = d.Dataset + "-" + strings.Repeat("d", 253-len(d.Dataset)-1)
		}
	}
	tests := []struct {
		name     string
		datasets int
		change   func(*fakeSource)
		maxSize  int
	}{
		{name: "short names", datasets: 10000, maxSize: 1 << 20},
		{name: "names of 253 characters", datasets: 2000, change: long, maxSize: 2 << 20},
	}
	for _, tt := range tests {
		if raceEnabled {
			tt.datasets /= 10
		}
		t.Run(tt.name, func(t *testing.T) {
			r := &grpcReceiver{Got: make(chan otlptest.Export, 1000)}
			addr := startGRPC(t, r, nil)
			src := manyDatasets(tt.datasets)
			if tt.change != nil {
				tt.change(src)
			}
			x, err := StartOTLP(t.Context(), src, OTLPOptions{Options: Options{PerDataset: true}, Endpoint: "grpc://" + addr, Interval: time.Hour})
			if err != nil {
				t.Fatalf("StartOTLP: %v", err)
			}
			shutdown(t, x)
			var reqs []*colmetricpb.ExportMetricsServiceRequest
			largest := 0
			for len(r.Got) > 0 {
				got := <-r.Got
				reqs = append(reqs, got.Request)
				largest = max(largest, got.Size)
			}
			points := flattenOTLP(t, reqs...)
			// 17 series a dataset, a histogram of 16 samples, 15 connector-wide.
			if want := tt.datasets*(17+16) + 15; len(points) != want {
				t.Errorf("%d samples arrived, want %d", len(points), want)
			}
			last := src.datasets[len(src.datasets)-1]
			k := `aio_rest_connector_messages_received{asset="` + last.Asset + `",dataset="` + last.Dataset + `"}`
			if got, want := points[k], float64(last.Samples); got != want {
				t.Errorf("%s = %v, want %v", k, got, want)
			}
			t.Logf("%d requests, the largest %d bytes", len(reqs), largest)
			if largest > tt.maxSize {
				t.Errorf("a request of %d bytes, over %d", largest, tt.maxSize)
			}
		})
	}
}

// logSink hands over each log record zerolog writes.
type logSink chan string

func (l logSink) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

// TestOTLPFailedExport checks that a periodic export that fails is logged
// (and not given to OpenTelemetry's global handler) and that a failed last
// export is Shutdown's error.
func TestOTLPFailedExport(t *testing.T) {
	r := &otlptest.HTTPReceiver{Got: make(chan otlptest.Export, 100), Fail: http.StatusBadRequest}
	srv := httptest.NewServer(r)
	defer srv.Close()
	logs := make(logSink, 100)
	x, err := StartOTLP(t.Context(), newTestSource(), OTLPOptions{
		Options:  Options{Logger: zerolog.New(logs), Now: testClock},
		Endpoint: srv.URL, Interval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("StartOTLP: %v", err)
	}
	select {
	case rec := <-logs:
		if !strings.Contains(rec, `"level":"warn"`) || !strings.Contains(rec, `"message":"otlp export"`) || !strings.Contains(rec, "400") {
			t.Errorf("log record %s, want a warning \"otlp export\" with the status", rec)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no failed export was logged")
	}
	err = x.Shutdown(t.Context())
	if err == nil || !strings.HasPrefix(err.Error(), "otlp: last export: ") || !strings.Contains(err.Error(), "400") {
		t.Fatalf("Shutdown = %v, want the last export's error (400)", err)
	}
}

func TestOTLPOptionErrors(t *testing.T) {
	dir := t.TempDir()
	noPEM := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(noPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name     string
		endpoint string
		caFile   string
		want     string
	}{
		{name: "no endpoint", endpoint: "", want: `otlp: endpoint "": want a URL such as grpc://aio-otel-collector:4317`},
		{name: "host and port only", endpoint: "aio-otel-collector:4317", want: `otlp: endpoint "aio-otel-collector:4317": want a URL such as grpc://aio-otel-collector:4317`},
		{name: "no host", endpoint: "grpc://:4317", want: `otlp: endpoint "grpc://:4317": want a URL such as grpc://aio-otel-collector:4317`},
		{name: "unknown scheme", endpoint: "tcp://collector:4317", want: `otlp: endpoint "tcp://collector:4317": the scheme must be grpc, grpcs, http or https`},
		{name: "CA file without TLS", endpoint: "grpc://collector:4317", caFile: noPEM, want: `otlp: endpoint "grpc://collector:4317": a CA file needs grpcs or https`},
		{name: "CA file missing", endpoint: "grpcs://collector:4317", caFile: missing, want: "otlp: CA file: open " + missing + ": no such file or directory"},
		{name: "CA file without a certificate", endpoint: "https://collector", caFile: noPEM, want: "otlp: CA file " + noPEM + ": no PEM certificate in it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := StartOTLP(t.Context(), newTestSource(), OTLPOptions{Endpoint: tt.endpoint, CAFile: tt.caFile})
			if err == nil {
				_ = x.Shutdown(t.Context())
				t.Fatalf("StartOTLP succeeded, want error %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}
}

// TestOTLPEndpointDefaults checks the path and ports an endpoint gets
// when it has none.
func TestOTLPEndpointDefaults(t *testing.T) {
	r := &otlptest.HTTPReceiver{Got: make(chan otlptest.Export, 10)}
	srv := httptest.NewServer(r)
	defer srv.Close()
	// A path of "/" is the default path: the receiver answers only there.
	x, err := StartOTLP(t.Context(), newTestSource(), OTLPOptions{Endpoint: srv.URL + "/", Interval: time.Hour})
	if err != nil {
		t.Fatalf("StartOTLP: %v", err)
	}
	shutdown(t, x)
	next(t, r.Got)

	// No port: 4318 for HTTP, 4317 for gRPC. Nothing listens there on
	// loopback (else the test learns nothing), so the last export fails,
	// naming the address it dialled.
	for _, tt := range []struct{ endpoint, addr string }{
		{"http://127.0.0.1", "127.0.0.1:4318"},
		{"grpc://127.0.0.1", "127.0.0.1:4317"},
	} {
		if ln, err := net.Listen("tcp", tt.addr); err != nil {
			t.Logf("%s is in use, not checked: %v", tt.addr, err)
			continue
		} else {
			ln.Close()
		}
		x, err = StartOTLP(t.Context(), newTestSource(), OTLPOptions{Endpoint: tt.endpoint, Interval: time.Hour, Timeout: time.Second})
		if err != nil {
			t.Fatalf("StartOTLP(%s): %v", tt.endpoint, err)
		}
		err = x.Shutdown(t.Context())
		if err == nil || !strings.Contains(err.Error(), tt.addr) {
			t.Errorf("%s: Shutdown = %v, want an error dialling %s", tt.endpoint, err, tt.addr)
		}
	}
}

// BenchmarkProduce is one OTLP collection of 10,000 datasets, per dataset:
// the data handed to the exporter, before its encoding.
func BenchmarkProduce(b *testing.B) {
	p := newProducer(manyDatasets(10000), Options{PerDataset: true})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Produce(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOTLPExport is one export of 10,000 datasets, per dataset, over
// OTLP/HTTP to a loopback receiver that reads and discards the body: the
// collection, the SDK's conversion, protobuf, gzip and the requests. Each
// operation starts an exporter and shuts it down, which exports once.
func BenchmarkOTLPExport(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	src := manyDatasets(10000)
	b.ReportAllocs()
	for b.Loop() {
		x, err := StartOTLP(b.Context(), src, OTLPOptions{Options: Options{PerDataset: true}, Endpoint: srv.URL, Interval: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		if err := x.Shutdown(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
