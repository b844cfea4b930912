package fetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/testing/loopback"
)

const benchBody = `{"currentTemperature":71.3}`

// BenchmarkDo is one GET of a small JSON body on a kept-alive loopback
// connection, body read and released. Against httptest the server's
// allocations count too; against the canned server only the client's do.
func BenchmarkDo(b *testing.B) {
	hts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(benchBody))
	}))
	defer hts.Close()
	canned, err := loopback.Start(map[string]string{"/api/thermostat/current": benchBody})
	if err != nil {
		b.Fatal(err)
	}
	defer canned.Close()
	for _, srv := range []struct{ name, url string }{{"httptest", hts.URL}, {"canned", canned.URL}} {
		c := New(Options{})
		req, err := c.Prepare(&plan.Request{Method: http.MethodGet, URL: mustURL(srv.url + "/api/thermostat/current"), Header: http.Header{}})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.Run(srv.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Do(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				if len(resp.Body) != len(benchBody) {
					b.Fatalf("body %q", resp.Body)
				}
				resp.Release()
			}
		})
		b.Run(srv.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := c.Do(ctx, req)
					if err != nil {
						b.Error(err)
						return
					}
					resp.Release()
				}
			})
		})
		c.Close()
	}
}

// BenchmarkRequestFromTemplate is the per-sample part of building a
// request: the prepared template bound to the sample's context.
func BenchmarkRequestFromTemplate(b *testing.B) {
	c := New(Options{})
	req, err := c.Prepare(&plan.Request{Method: http.MethodGet, URL: mustURL("http://127.0.0.1:1/api/thermostat/current"), Header: http.Header{}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		requestSink = req.template().WithContext(ctx)
	}
}

// requestSink keeps the compiler from proving the request does not escape,
// as it does in Do.
var requestSink *http.Request
