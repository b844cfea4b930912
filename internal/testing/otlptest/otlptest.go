// Package otlptest is an OpenTelemetry collector's OTLP/HTTP metrics
// receiver, for tests: it decodes the export requests as a collector does
// and hands them over.
package otlptest

import (
	"compress/gzip"
	"io"
	"net/http"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// Export is one export request the receiver got, with its encoded size.
type Export struct {
	Request *colmetricpb.ExportMetricsServiceRequest
	Size    int
}

// HTTPReceiver takes protobuf export requests on /v1/metrics, gzipped or
// not, and sends each on Got. Fail, if set, is the status it answers
// instead of 200, after decoding the request.
type HTTPReceiver struct {
	Got  chan Export
	Fail int
}

func (r *HTTPReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/v1/metrics" || req.Method != http.MethodPost {
		http.Error(w, "not an OTLP metrics request", http.StatusNotFound)
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "content type "+ct, http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	m := &colmetricpb.ExportMetricsServiceRequest{}
	if err := proto.Unmarshal(b, m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.Fail != 0 {
		http.Error(w, "refused by the test", r.Fail)
		return
	}
	r.Got <- Export{Request: m, Size: len(b)}
	resp, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}
