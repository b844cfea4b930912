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
	for _, shared := range []*Transports{nil, new(Transports)} {
		active.Store(0)
		peak.Store(0)
		conns.Store(0)
		c := New(Options{MaxConns: 2, Shared: shared})
		checkConnectionsPerDevice(t, c, srv.URL, &peak, &conns)
		c.Close()
		if shared != nil {
			shared.Close()
		}
	}
}

func checkConnectionsPerDevice(t *testing.T, c *Client, url string, peak, conns *atomic.Int64) {
	t.Helper()
	r := prepare(t, c, url)
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
		t.Errorf("shared %v: %d requests at once with MaxConns 2", !c.own, p)
	}
	if n := conns.Load(); n > 2 {
		t.Errorf("shared %v: %d connections opened for 15 requests with MaxConns 2: keep-alive does not reuse them", !c.own, n)
	}
}

func TestSharedPool(t *testing.T) {
	var conns atomic.Int64
	release := make(chan struct{})
	hanging := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hangs" {
			hanging <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "{}")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	defer close(release)
	shared := new(Transports)
	defer shared.Close()
	a := New(Options{MaxConns: 1, Shared: shared, Credentials: Credentials{Username: "a", Password: "1"}})
	b := New(Options{MaxConns: 1, Shared: shared})
	if a.transport != b.transport {
		t.Fatal("two clients without certificates or trust lists got different pools")
	}
	ra, rb := prepare(t, a, srv.URL+"/a"), prepare(t, b, srv.URL+"/b")
	for i := range 10 {
		c, r := a, ra
		if i%2 == 1 {
			c, r = b, rb
		}
		resp, err := c.Do(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Release()
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 10 requests of two clients taking turns, want 1 shared", n)
	}

	// A client that hangs holds its own cap's worth of connections, no more,
	// and the other client at the same host goes on.
	hung := make(chan error, 1)
	rh := prepare(t, a, srv.URL+"/hangs")
	go func() {
		_, err := a.Do(context.Background(), rh)
		hung <- err
	}()
	<-hanging // the device has the request: it holds a's connection
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := a.Do(ctx, ra); err == nil || !strings.Contains(err.Error(), "waiting for a connection: no complete response in time") {
		t.Errorf("second request of a client with MaxConns 1 while its first hangs: %v, want a timeout waiting for a connection", err)
	}
	resp, err := b.Do(context.Background(), rb)
	if err != nil {
		t.Fatalf("another client at the host while one hangs: %v", err)
	}
	resp.Release()
	select {
	case err := <-hung:
		t.Fatalf("the hanging request returned: %v", err)
	default:
	}

	srvTLS := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srvTLS.Close()
	trusted1 := New(Options{Shared: shared, Credentials: Credentials{RootCAs: pool(srvTLS)}})
	trusted2 := New(Options{Shared: shared, Credentials: Credentials{RootCAs: pool(srvTLS)}})
	withCert := New(Options{Shared: shared, Credentials: Credentials{Certificate: &srvTLS.TLS.Certificates[0]}})
	switch {
	case trusted1.transport == a.transport:
		t.Error("a client with a trust list shares the pool of clients with the system roots")
	case trusted1.transport != trusted2.transport:
		t.Error("two clients with equal trust lists got different pools")
	case withCert.transport == a.transport || withCert.transport == trusted1.transport || !withCert.own:
		t.Error("a client with a certificate shares a pool")
	}
}

func pool(srv *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(srv.Certificate())
	return p
}

func TestRedirectedRequestGoesThroughTheClient(t *testing.T) {
	var origin, target atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			origin.Add(1)
			http.Redirect(w, r, "/here", http.StatusMovedPermanently)
			return
		}
		target.Add(1)
		io.WriteString(w, `{"v": 1}`)
	}))
	defer srv.Close()
	c := New(Options{})
	defer c.Close()
	r := prepare(t, c, srv.URL+"/moved")
	for i := range 3 {
		resp, err := c.Do(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.Body) != `{"v": 1}` {
			t.Errorf("request %d: body %q, want the redirect target's", i, resp.Body)
		}
		resp.Release()
	}
	// The first request learns that the URL redirects (the origin is asked
	// twice); the next ones follow the redirect at once.
	if o, g := origin.Load(), target.Load(); o != 4 || g != 3 {
		t.Errorf("origin asked %d times and target %d for 3 requests, want 4 and 3", o, g)
	}
}
