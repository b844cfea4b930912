package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/testing/memnet"
)

// retryServer answers with the status that statuses gives for each request
// in turn (the last one repeats) and counts requests.
func retryServer(t *testing.T, header http.Header, statuses ...int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		code := statuses[min(i, len(statuses)-1)]
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"n":%d}`, i+1)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func prepare(t *testing.T, c *Client, url string) *Request {
	t.Helper()
	r, err := c.Prepare(&plan.Request{Method: http.MethodGet, URL: mustURL(url)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDoRetry(t *testing.T) {
	fast := Retry{Attempts: 3, Base: time.Millisecond, Max: 10 * time.Millisecond}
	tests := []struct {
		name     string
		header   http.Header
		statuses []int
		policy   Retry
		want     string // error; empty: success
		requests int64
	}{
		{"503 twice then 200", nil, []int{503, 503, 200}, fast, "", 3},
		{"429 then 200", nil, []int{429, 200}, fast, "", 2},
		{"502 every time", nil, []int{502}, fast, "HTTP 502 Bad Gateway", 3},
		{"404 is not retried", nil, []int{404}, fast, "HTTP 404 Not Found", 1},
		{"401 is not retried", nil, []int{401}, fast, "HTTP 401 Unauthorized", 1},
		{"no retry with one attempt", nil, []int{503, 200}, Retry{Attempts: 1}, "HTTP 503 Service Unavailable", 1},
		{"Retry-After beyond Max ends the retries", http.Header{"Retry-After": {"60"}}, []int{429, 200}, fast, "HTTP 429 Too Many Requests", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, n := retryServer(t, tt.header, tt.statuses...)
			c := New(Options{})
			defer c.Close()
			retries := 0
			p := tt.policy
			p.OnRetry = func(int, time.Duration, error) { retries++ }
			resp, err := c.DoRetry(context.Background(), prepare(t, c, srv.URL), p)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("DoRetry: %v", err)
			case tt.want == "":
				if got, want := string(resp.Body), fmt.Sprintf(`{"n":%d}`, tt.requests); got != want {
					t.Errorf("body %s, want %s", got, want)
				}
				resp.Release()
			case err == nil || !strings.Contains(err.Error(), tt.want):
				t.Fatalf("DoRetry: %v, want %q", err, tt.want)
			}
			if got := n.Load(); got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
			if int64(retries) != tt.requests-1 {
				t.Errorf("OnRetry called %d times, want %d", retries, tt.requests-1)
			}
		})
	}
}

// memServer serves h on a network in memory until the test ends: for tests
// in virtual time (testing/synctest). It returns the URL and a client.
func memServer(t *testing.T, h http.Handler) (string, *Client) {
	t.Helper()
	var n memnet.Network
	l := n.Listen()
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	c := New(Options{Dial: n.Dial})
	t.Cleanup(func() {
		c.Close()
		srv.Close()
		<-done
	})
	return l.URL(), c
}

// statuses answers with the status that codes gives for each request in
// turn (the last one repeats) and counts requests.
func statuses(n *atomic.Int64, header http.Header, codes ...int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(codes[min(i, len(codes)-1)])
		fmt.Fprintf(w, `{"n":%d}`, i+1)
	})
}

// In virtual time: the retry waits exactly the Retry-After the device asks.
func TestDoRetryHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		url, c := memServer(t, statuses(&n, http.Header{"Retry-After": {"1"}}, 503, 200))
		var delays []time.Duration
		p := Retry{Attempts: 3, Base: time.Millisecond, Max: 2 * time.Second, OnRetry: func(_ int, d time.Duration, _ error) { delays = append(delays, d) }}
		begin := time.Now()
		resp, err := c.DoRetry(context.Background(), prepare(t, c, url), p)
		if err != nil {
			t.Fatalf("DoRetry: %v", err)
		}
		resp.Release()
		if took := time.Since(begin); took != time.Second {
			t.Errorf("retried after %v, want the Retry-After of 1 s", took)
		}
		if len(delays) != 1 || delays[0] != time.Second || n.Load() != 2 {
			t.Errorf("delays %v after %d requests, want [1s] after 2", delays, n.Load())
		}
	})
}

// In virtual time: retries never go past the caller's deadline, and the
// device's own answer is the error.
func TestDoRetryStaysWithinTheDeadline(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
	}{
		{"backoff", nil},
		{"Retry-After past the deadline", http.Header{"Retry-After": {"1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n atomic.Int64
				url, c := memServer(t, statuses(&n, tt.header, 500))
				ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
				defer cancel()
				begin := time.Now()
				_, err := c.DoRetry(ctx, prepare(t, c, url), Retry{Attempts: 1000, Base: 20 * time.Millisecond, Max: 2 * time.Second})
				if took := time.Since(begin); took > 150*time.Millisecond {
					t.Errorf("DoRetry took %v with a 150 ms deadline", took)
				}
				// The device's answer, not a deadline error, says what is wrong.
				if err == nil || !strings.Contains(err.Error(), "HTTP 500 Internal Server Error") {
					t.Errorf("DoRetry: %v, want the HTTP 500", err)
				}
			})
		})
	}
}

func TestDoRetryNetworkErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c := New(Options{})
		defer c.Close()
		retries := 0
		_, err = c.DoRetry(context.Background(), prepare(t, c, "http://"+addr+"/"), Retry{Attempts: 3, Base: time.Millisecond, OnRetry: func(int, time.Duration, error) { retries++ }})
		if err == nil || !strings.Contains(err.Error(), "connection refused") || retries != 2 {
			t.Errorf("DoRetry: %v after %d retries, want connection refused after 2", err, retries)
		}
	})
	t.Run("closed in the middle of the body", func(t *testing.T) {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Content-Length", "100")
				w.WriteHeader(200)
				io.WriteString(w, `{"temp`)
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
				return
			}
			io.WriteString(w, `{"temp":1}`)
		}))
		defer srv.Close()
		c := New(Options{})
		defer c.Close()
		resp, err := c.DoRetry(context.Background(), prepare(t, c, srv.URL), Retry{Attempts: 2, Base: time.Millisecond})
		if err != nil {
			t.Fatalf("DoRetry: %v", err)
		}
		defer resp.Release()
		if string(resp.Body) != `{"temp":1}` || n.Load() != 2 {
			t.Errorf("body %s after %d requests, want the second answer", resp.Body, n.Load())
		}
	})
	t.Run("too large is not retried", func(t *testing.T) {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			io.WriteString(w, strings.Repeat("x", 2048))
		}))
		defer srv.Close()
		c := New(Options{MaxResponseBytes: 1024})
		defer c.Close()
		_, err := c.DoRetry(context.Background(), prepare(t, c, srv.URL), Retry{Attempts: 3, Base: time.Millisecond})
		if !errors.Is(err, ErrTooLarge) || n.Load() != 1 {
			t.Errorf("DoRetry: %v after %d requests, want ErrTooLarge after 1", err, n.Load())
		}
	})
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&StatusError{Code: 500}, true},
		{&StatusError{Code: 503}, true},
		{&StatusError{Code: 429}, true},
		{&StatusError{Code: 400}, false},
		{&StatusError{Code: 404}, false},
		{fmt.Errorf("GET x: %w", &StatusError{Code: 502}), true},
		{fmt.Errorf("reading body: %w", io.ErrUnexpectedEOF), true},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{&net.DNSError{Err: "no such host", IsNotFound: true}, false},
		{fmt.Errorf("no complete response in time: %w", context.DeadlineExceeded), false},
		{context.Canceled, false},
		{fmt.Errorf("x: %w: more than 1 bytes", ErrTooLarge), false},
		{errors.New("stopped after 5 redirects"), false},
	}
	for _, tt := range tests {
		if got := Retryable(tt.err); got != tt.want {
			t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	p := Retry{Base: 100 * time.Millisecond, Max: time.Second}
	tests := []struct {
		attempt  int
		err      error
		min, max time.Duration
		ok       bool
	}{
		{1, nil, 50 * time.Millisecond, 100 * time.Millisecond, true},
		{2, nil, 100 * time.Millisecond, 200 * time.Millisecond, true},
		{3, nil, 200 * time.Millisecond, 400 * time.Millisecond, true},
		{10, nil, 500 * time.Millisecond, time.Second, true},
		{1, &StatusError{Code: 429, RetryAfter: 700 * time.Millisecond}, 700 * time.Millisecond, 700 * time.Millisecond, true},
		{1, &StatusError{Code: 429, RetryAfter: 2 * time.Second}, 0, 0, false},
	}
	for _, tt := range tests {
		for range 50 {
			d, ok := p.delay(tt.attempt, tt.err)
			if ok != tt.ok || d < tt.min || d > tt.max {
				t.Fatalf("delay(%d, %v) = %v, %v; want %v in [%v, %v]", tt.attempt, tt.err, d, ok, tt.ok, tt.min, tt.max)
			}
		}
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"3", 3 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-1", 0},
		{"soon", 0},
		{"99999999", 24 * time.Hour},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(-10 * time.Second).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func mustURL(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return u
}
