package fetch

import (
	"context"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRedirectsKeepCredentialsOnTheirHost(t *testing.T) {
	var seen sync.Map // path → Authorization header
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.Path, r.Header.Get("Authorization"))
		io.WriteString(w, "{}")
	}))
	defer target.Close()
	_, port, _ := net.SplitHostPort(target.Listener.Addr().String())
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/elsewhere": // another host name
			http.Redirect(w, r, "http://localhost:"+port+"/other-host", http.StatusFound)
		default:
			http.Redirect(w, r, "http://127.0.0.1:"+port+"/same-host", http.StatusFound)
		}
	}))
	defer origin.Close()
	c := New(Options{Credentials: Credentials{Username: "u", Password: "secret"}})
	defer c.Close()
	for _, path := range []string{"/elsewhere", "/here"} {
		resp, err := c.Do(context.Background(), prepare(t, c, origin.URL+path))
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Release()
	}
	if auth, _ := seen.Load("/other-host"); auth != "" {
		t.Errorf("a redirect to another host carried Authorization %q", auth)
	}
	if auth, _ := seen.Load("/same-host"); auth == "" {
		t.Errorf("a redirect on the same host lost its credentials")
	}
}

func TestRedirectFromHTTPSToHTTPIsRefused(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the plain HTTP server was reached")
	}))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/x?token=abc", http.StatusFound)
	}))
	defer secure.Close()
	c := New(Options{Credentials: Credentials{RootCAs: pool(secure)}})
	defer c.Close()
	_, err := c.Do(context.Background(), prepare(t, c, secure.URL))
	want := "refused redirect from https to " + plain.URL + "/x"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Do: %v, want …%s (no query: it may hold secrets)", err, want)
	}
}

func TestTLSVerification(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "{}")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	defer srv.Close()
	t.Run("on by default", func(t *testing.T) {
		c := New(Options{})
		defer c.Close()
		retries := 0
		_, err := c.DoRetry(context.Background(), prepare(t, c, srv.URL), Retry{Attempts: 3, Base: time.Millisecond, OnRetry: func(int, time.Duration, error) { retries++ }})
		if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Errorf("Do against an untrusted certificate: %v, want unknown authority", err)
		}
		if retries != 0 {
			t.Errorf("a certificate error was retried %d times", retries)
		}
	})
	t.Run("custom CA", func(t *testing.T) {
		c := New(Options{Credentials: Credentials{RootCAs: pool(srv)}})
		defer c.Close()
		resp, err := c.Do(context.Background(), prepare(t, c, srv.URL))
		if err != nil {
			t.Fatalf("Do with the server's CA: %v", err)
		}
		resp.Release()
	})
}

func TestConnectionsPerDevice(t *testing.T) {
	var active, peak, conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := active.Add(1)
		defer active.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		io.WriteString(w, "{}")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := New(Options{MaxConns: 2})
	defer c.Close()
	r := prepare(t, c, srv.URL)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Do(context.Background(), r)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Release()
		}()
	}
	wg.Wait()
	for range 5 { // sequential requests reuse the kept-alive connections
		resp, err := c.Do(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Release()
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("%d requests at once with MaxConns 2", p)
	}
	if n := conns.Load(); n > 2 {
		t.Errorf("%d connections opened for 15 requests with MaxConns 2: keep-alive does not reuse them", n)
	}
}

func pool(srv *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(srv.Certificate())
	return p
}
