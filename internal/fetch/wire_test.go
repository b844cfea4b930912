package fetch

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/testing/memnet"
)

func TestWhichRequestsTakeTheDirectPath(t *testing.T) {
	c := New(Options{Shared: new(Transports)})
	tests := []struct {
		req    plan.Request
		direct bool
	}{
		{plan.Request{Method: "GET", URL: mustURL("http://127.0.0.1:8080/api/status")}, true},
		{plan.Request{Method: "HEAD", URL: mustURL("http://127.0.0.1/")}, true},
		{plan.Request{Method: "PUT", URL: mustURL("http://127.0.0.1/"), Header: http.Header{"X-Key": {"1"}}}, true},
		{plan.Request{Method: "GET", URL: mustURL("https://127.0.0.1/")}, false},                    // TLS: net/http
		{plan.Request{Method: "POST", URL: mustURL("http://127.0.0.1/")}, false},                    // not idempotent
		{plan.Request{Method: "PUT", URL: mustURL("http://127.0.0.1/"), Body: []byte("{}")}, false}, // a body
		{plan.Request{Method: "GET", URL: mustURL("http://user:pw@127.0.0.1/")}, false},             // user info
		{plan.Request{Method: "GET", URL: mustURL("http://127.0.0.1/"), Header: http.Header{"Bad Name": {"1"}}}, false},
		{plan.Request{Method: "GET", URL: mustURL("http://127.0.0.1/"), Header: http.Header{"X-A": {"a\r\nX-B: b"}}}, false},
	}
	for _, tt := range tests {
		r, err := c.Prepare(&tt.req)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.host != nil; got != tt.direct {
			t.Errorf("%s %s %v: direct path %v, want %v", tt.req.Method, tt.req.URL, tt.req.Header, got, tt.direct)
		}
	}
}

// TestDirectPathSendsWhatNetHTTPSends: a device sees the same request
// whichever path it took.
func TestDirectPathSendsWhatNetHTTPSends(t *testing.T) {
	seen := make(chan *http.Request, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r
		io.WriteString(w, "{}")
	}))
	defer srv.Close()
	c := New(Options{Credentials: Credentials{Username: "u", Password: "p"}})
	defer c.Close()
	r, err := c.Prepare(&plan.Request{Method: "GET", URL: mustURL(srv.URL + "/api/x?unit=c"), Header: http.Header{"X-Device": {"7"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.host == nil {
		t.Fatal("not on the direct path")
	}
	do := func() *http.Request {
		t.Helper()
		resp, err := c.Do(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Release()
		return <-seen
	}
	direct := do()
	r.host = nil // through net/http
	viaNetHTTP := do()
	// net/http asks for gzip and decompresses on its own; the direct path
	// asks for the body as it is.
	viaNetHTTP.Header.Del("Accept-Encoding")
	if direct.Method != viaNetHTTP.Method || direct.RequestURI != viaNetHTTP.RequestURI || direct.Host != viaNetHTTP.Host || direct.Proto != viaNetHTTP.Proto {
		t.Errorf("direct %s %s %s %s, net/http %s %s %s %s", direct.Method, direct.RequestURI, direct.Host, direct.Proto,
			viaNetHTTP.Method, viaNetHTTP.RequestURI, viaNetHTTP.Host, viaNetHTTP.Proto)
	}
	if a, b := headerText(direct.Header), headerText(viaNetHTTP.Header); a != b {
		t.Errorf("headers differ:\ndirect:\n%snet/http:\n%s", a, b)
	}
	if u, p, _ := direct.BasicAuth(); u != "u" || p != "p" {
		t.Errorf("credentials %q %q", u, p)
	}
}

func headerText(h http.Header) string {
	var b strings.Builder
	h.Write(&b)
	return b.String()
}

// rawServer answers each connection's requests with the responses that
// answer gives, as written, and counts connections and requests.
type rawServer struct {
	addr          string
	conns, reqs   atomic.Int64
	answer        func(req *http.Request) (raw string, closeAfter bool)
	ln            net.Listener
	serverStopped chan struct{}
}

func newRawServer(t *testing.T, answer func(req *http.Request) (string, bool)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{addr: ln.Addr().String(), answer: answer, ln: ln, serverStopped: make(chan struct{})}
	go func() {
		defer close(s.serverStopped)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-s.serverStopped })
	return s
}

func (s *rawServer) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		s.reqs.Add(1)
		raw, closeAfter := s.answer(req)
		if _, err := io.WriteString(c, raw); err != nil || closeAfter {
			return
		}
	}
}

func TestDirectPathResponses(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		raw       string
		close     bool
		status    int
		body      string
		err       string
		wantConns int64 // for three requests
	}{
		{name: "content length, kept alive", raw: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"v\": 1}",
			status: 200, body: `{"v": 1}`, wantConns: 1},
		{name: "chunked", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"v\r\n5\r\n\": 1}\r\n0\r\n\r\n",
			status: 200, body: `{"v": 1}`, wantConns: 1},
		{name: "informational answers first", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
			status: 200, body: `{}`, wantConns: 1},
		{name: "connection close", raw: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", close: true,
			status: 200, body: `{}`, wantConns: 3},
		{name: "HTTP/1.0, body to the end", raw: "HTTP/1.0 200 OK\r\n\r\n{\"v\": 1}", close: true,
			status: 200, body: `{"v": 1}`, wantConns: 3},
		{name: "HEAD has no body", method: "HEAD", raw: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
			status: 200, body: ``, wantConns: 1},
		{name: "no content", raw: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, wantConns: 1},
		{name: "not found", raw: "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nno device",
			err: "GET http://ADDR/x: HTTP 404 Not Found: no device", wantConns: 1},
		{name: "cut short", raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", close: true,
			err: "GET http://ADDR/x: reading body: unexpected EOF", wantConns: 3},
		{name: "not HTTP", raw: "SSH-2.0-OpenSSH_9.2\r\n", close: true,
			err: `GET http://ADDR/x: malformed HTTP response "SSH-2.0-OpenSSH_9.2"`, wantConns: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRawServer(t, func(*http.Request) (string, bool) { return tt.raw, tt.close })
			c := New(Options{})
			defer c.Close()
			method := tt.method
			if method == "" {
				method = "GET"
			}
			r, err := c.Prepare(&plan.Request{Method: method, URL: mustURL("http://" + srv.addr + "/x")})
			if err != nil {
				t.Fatal(err)
			}
			if r.host == nil {
				t.Fatal("not on the direct path")
			}
			for i := range 3 {
				resp, err := c.Do(context.Background(), r)
				if tt.err != "" {
					want := strings.ReplaceAll(tt.err, "ADDR", srv.addr)
					if err == nil || err.Error() != want {
						t.Fatalf("request %d: error %v, want %s", i, err, want)
					}
					continue
				}
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if resp.Status != tt.status || string(resp.Body) != tt.body {
					t.Errorf("request %d: %d %q, want %d %q", i, resp.Status, resp.Body, tt.status, tt.body)
				}
				resp.Release()
			}
			if n := srv.conns.Load(); n != tt.wantConns {
				t.Errorf("%d connections for 3 requests, want %d", n, tt.wantConns)
			}
		})
	}
}

// TestDirectPathServerClosesIdleConnections: a server that closes the
// connections it considers idle costs a new connection, not a failed
// sample, and the device is asked once per request.
func TestDirectPathServerClosesIdleConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hits, conns atomic.Int64
		var n memnet.Network
		l := n.Listen()
		srv := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				io.WriteString(w, "{}")
			}),
			IdleTimeout: 20 * time.Millisecond,
			ConnState: func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			},
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve(l) }()
		defer func() { srv.Close(); <-done }()
		c := New(Options{MaxConns: 2, Dial: n.Dial})
		defer c.Close()
		r := prepare(t, c, l.URL())
		for i := range 4 {
			resp, err := c.Do(context.Background(), r)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			resp.Release()
			time.Sleep(60 * time.Millisecond) // the server closes the idle connection
			synctest.Wait()
		}
		if n := hits.Load(); n != 4 {
			t.Errorf("the device was asked %d times for 4 requests", n)
		}
		if n := conns.Load(); n != 4 {
			t.Errorf("%d connections for 4 requests each after the server closed the last: want 4", n)
		}
	})
}

func TestDirectPathDeadlineAndCancel(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := newRawServer(t, func(req *http.Request) (string, bool) {
		<-release
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", false
	})
	c := New(Options{})
	defer c.Close()
	r := prepare(t, c, "http://"+srv.addr+"/")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Do(ctx, r)
	if want := "GET http://" + srv.addr + "/: no complete response in time: context deadline exceeded"; err == nil || err.Error() != want {
		t.Errorf("past the deadline: %v, want %s", err, want)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = c.Do(ctx, r)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("cancelled: %v after %v, want context.Canceled at once", err, time.Since(start))
	}
}

// TestSendThenReceive: requests sent together are answered together; a
// client at its cap on connections sends no more until a response is read.
func TestSendThenReceive(t *testing.T) {
	srv := newRawServer(t, func(req *http.Request) (string, bool) {
		body := `{"path":"` + req.URL.Path + `"}`
		return "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body, false
	})
	for _, shared := range []*Transports{nil, new(Transports)} {
		c := New(Options{MaxConns: 2, Shared: shared})
		a, b, x := prepare(t, c, "http://"+srv.addr+"/a"), prepare(t, c, "http://"+srv.addr+"/b"), prepare(t, c, "http://"+srv.addr+"/x")
		ctx := context.Background()
		var pa, pb, px Pending
		if !c.Send(ctx, a, &pa) || !c.Send(ctx, b, &pb) {
			t.Fatal("two requests not sent with MaxConns 2")
		}
		if c.Send(ctx, x, &px) {
			t.Fatal("a third request sent with MaxConns 2 and two responses unread")
		}
		for _, tc := range []struct {
			p    *Pending
			want string
		}{{&pb, `{"path":"/b"}`}, {&pa, `{"path":"/a"}`}} {
			resp, err := c.Receive(ctx, tc.p, Retry{})
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Body) != tc.want {
				t.Errorf("body %s, want %s", resp.Body, tc.want)
			}
			resp.Release()
		}
		if !c.Send(ctx, x, &px) {
			t.Fatal("not sent once the responses were read")
		}
		resp, err := c.Receive(ctx, &px, Retry{})
		if err != nil {
			t.Fatal(err)
		}
		resp.Release()
		c.Close()
		if shared != nil {
			shared.Close()
		}
	}
	if n := srv.conns.Load(); n != 4 {
		t.Errorf("%d connections, want 2 for each client", n)
	}
}

// TestSharedHostIsReleased: the direct path's kept-alive connections to a
// host are closed once no client at that host is left, not before.
func TestSharedHostIsReleased(t *testing.T) {
	var closed atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "{}")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	shared := new(Transports)
	defer shared.Close()
	a, b := New(Options{Shared: shared}), New(Options{Shared: shared})
	for _, c := range []*Client{a, b} {
		resp, err := c.Do(context.Background(), prepare(t, c, srv.URL+"/x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Release()
	}
	a.Close()
	time.Sleep(50 * time.Millisecond)
	if n := closed.Load(); n != 0 {
		t.Errorf("%d connections closed while a client at the host is left", n)
	}
	b.Close()
	deadline := time.Now().Add(2 * time.Second)
	for closed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if closed.Load() == 0 {
		t.Error("the idle connection stays open after the last client at the host closed")
	}
	if n := len(shared.wire.hosts); n != 0 {
		t.Errorf("%d hosts left in the pool", n)
	}
}
