package metrics

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		acceptEncoding []string
		want           bool
	}{
		{acceptEncoding: nil, want: false},
		{acceptEncoding: []string{""}, want: false},
		{acceptEncoding: []string{"gzip"}, want: true},
		{acceptEncoding: []string{"GZip"}, want: true},
		{acceptEncoding: []string{"x-gzip"}, want: true},
		{acceptEncoding: []string{"identity"}, want: false},
		{acceptEncoding: []string{"deflate, br"}, want: false},
		{acceptEncoding: []string{"br;q=1.0, gzip;q=0.8, *;q=0.1"}, want: true},
		{acceptEncoding: []string{"gzip;q=0"}, want: false},
		{acceptEncoding: []string{"gzip ; q=0.000"}, want: false},
		{acceptEncoding: []string{"gzip;q=0.001"}, want: true},
		{acceptEncoding: []string{"gzip;q=nonsense"}, want: false},
		{acceptEncoding: []string{"gzip;q=2"}, want: false},
		{acceptEncoding: []string{"*"}, want: true},
		{acceptEncoding: []string{"*;q=0"}, want: false},
		{acceptEncoding: []string{"gzip;q=0, *"}, want: false}, // gzip named: its weight decides
		{acceptEncoding: []string{"*;q=0, gzip"}, want: true},
		{acceptEncoding: []string{"identity", "gzip"}, want: true}, // two header lines
		{acceptEncoding: []string{"gzip;level=1"}, want: true},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.acceptEncoding); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.acceptEncoding, got, tt.want)
		}
	}
}

// rawGet GETs url with the Accept-Encoding acceptEncoding (none if empty),
// without the client's transparent decompression.
func rawGet(t *testing.T, url, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, body
}

// gunzip is the decompressed body.
func gunzip(t *testing.T, body []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	return out
}

// TestPrometheusCompression checks that a scrape is gzipped when the
// client accepts gzip and plain otherwise, with the headers that say so,
// and the same exposition either way.
func TestPrometheusCompression(t *testing.T) {
	srv := httptest.NewServer(NewPrometheus(newTestSource(), Options{PerDataset: true, Now: testClock}))
	defer srv.Close()
	var plain []byte
	for _, tt := range []struct {
		acceptEncoding string
		gzipped        bool
	}{
		{acceptEncoding: "", gzipped: false},
		{acceptEncoding: "identity", gzipped: false},
		{acceptEncoding: "gzip;q=0", gzipped: false},
		{acceptEncoding: "gzip", gzipped: true},
		{acceptEncoding: "zstd, gzip;q=0.5", gzipped: true},
	} {
		resp, body := rawGet(t, srv.URL, tt.acceptEncoding)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Accept-Encoding %q: status %d", tt.acceptEncoding, resp.StatusCode)
		}
		vary := strings.Join(resp.Header.Values("Vary"), ",")
		for _, h := range []string{"Accept", "Accept-Encoding"} {
			if !slices.Contains(strings.Split(strings.ReplaceAll(vary, " ", ""), ","), h) {
				t.Errorf("Accept-Encoding %q: Vary %q, want %s in it", tt.acceptEncoding, vary, h)
			}
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("Accept-Encoding %q: Content-Type %q, want the text format 0.0.4", tt.acceptEncoding, ct)
		}
		ce := resp.Header.Get("Content-Encoding")
		if tt.gzipped {
			if ce != "gzip" {
				t.Fatalf("Accept-Encoding %q: Content-Encoding %q, want gzip", tt.acceptEncoding, ce)
			}
			body = gunzip(t, body)
		} else if ce != "" {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q, want none", tt.acceptEncoding, ce)
		}
		if plain == nil {
			plain = body
			p := expfmt.NewTextParser(model.UTF8Validation)
			if _, err := p.TextToMetricFamilies(strings.NewReader(string(body))); err != nil {
				t.Fatalf("parse the exposition: %v\n%s", err, body)
			}
		} else if string(body) != string(plain) {
			t.Errorf("Accept-Encoding %q: the exposition differs from the plain one\n%s\nwant\n%s", tt.acceptEncoding, body, plain)
		}
	}
}

// blockingSource is a Source whose Datasets waits for release, after
// saying on entered that it was called.
type blockingSource struct {
	*fakeSource
	entered chan struct{}
	release chan struct{}
}

func (b *blockingSource) Datasets(f func(DatasetTotals)) {
	b.entered <- struct{}{}
	<-b.release
	b.fakeSource.Datasets(f)
}

// TestPrometheusRefusesScrapesOverLimit checks that while maxScrapes
// scrapes run, another is answered 503, gzipped like any response to a
// client that accepts gzip, and that those running are then served.
func TestPrometheusRefusesScrapesOverLimit(t *testing.T) {
	src := &blockingSource{fakeSource: newTestSource(), entered: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(NewPrometheus(src, Options{Now: testClock}))
	defer srv.Close()
	var (
		running  sync.WaitGroup
		statuses = make(chan int, maxScrapes)
	)
	for range maxScrapes {
		running.Go(func() {
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Errorf("scrape: %v", err)
				return
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				t.Errorf("scrape: %v", err)
			}
			statuses <- resp.StatusCode
		})
	}
	for range maxScrapes {
		<-src.entered
	}

	resp, body := rawGet(t, srv.URL, "gzip")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("scrape over the limit: status %d, want 503", resp.StatusCode)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Errorf("scrape over the limit: Content-Encoding %q, want gzip", ce)
	} else if msg := string(gunzip(t, body)); !strings.Contains(msg, "Limit of concurrent requests reached") {
		t.Errorf("scrape over the limit: body %q", msg)
	}

	close(src.release)
	running.Wait()
	close(statuses)
	for code := range statuses {
		if code != http.StatusOK {
			t.Errorf("scrape within the limit: status %d, want 200", code)
		}
	}
}
