package fetch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"
)

// The direct path. Most samples are GETs to plain-http devices, and
// net/http's Transport runs each request across three goroutines (the
// caller's and a connection's reader and writer), which costs hand-offs
// and wake-ups per request that a poller doing thousands of requests a
// second pays in CPU. A request that qualifies (plain http, no proxy, no
// body, an idempotent method, no user info in the URL) is therefore made
// directly, in the caller's goroutine: its bytes are written once by
// http.Request.Write when it is prepared, sent with one write, and the
// response is parsed by http.ReadResponse from the connection's buffered
// reader. Connections are kept alive per host and port, as the Transport
// does. Anything the direct path does not do (TLS, proxies, redirects,
// bodies) goes through net/http.

// idleConnTimeout closes a kept-alive connection unused for this long.
const idleConnTimeout = 90 * time.Second

// wirePool keeps the connections of the direct path, per host and port.
type wirePool struct {
	maxPerHost int // connections in use at once to one host and port
	dial       dialFunc
	mu         sync.Mutex
	hosts      map[string]*wireHost
}

func newWirePool(maxPerHost int, dial dialFunc) *wirePool {
	return &wirePool{
		maxPerHost: maxPerHost,
		dial:       dialer(dial),
		hosts:      map[string]*wireHost{},
	}
}

// acquire returns the pool of one host and port for a client, which
// releases it when it is done with it.
func (p *wirePool) acquire(addr string) *wireHost {
	p.mu.Lock()
	defer p.mu.Unlock()
	h, ok := p.hosts[addr]
	if !ok {
		h = &wireHost{addr: addr, pool: p, slots: make(chan struct{}, p.maxPerHost)}
		p.hosts[addr] = h
	}
	h.clients++
	return h
}

// release ends a client's use of h. Once no client uses it, its idle
// connections are closed (and so are the busy ones, when their requests
// are done): devices come and go, and a host none of them is at keeps no
// sockets open.
func (p *wirePool) release(h *wireHost) {
	p.mu.Lock()
	h.clients--
	gone := h.clients == 0
	if gone {
		delete(p.hosts, h.addr)
	}
	p.mu.Unlock()
	if gone {
		h.mu.Lock()
		h.closed = true
		h.mu.Unlock()
		h.closeIdle()
	}
}

// close closes the idle connections; the ones in use are closed when their
// request is done.
func (p *wirePool) close() {
	p.mu.Lock()
	hosts := make([]*wireHost, 0, len(p.hosts))
	for _, h := range p.hosts {
		hosts = append(hosts, h)
	}
	p.mu.Unlock()
	for _, h := range hosts {
		h.closeIdle()
	}
}

// wireHost holds the connections to one host and port. A request takes a
// slot for as long as it uses a connection, and then a kept-alive
// connection or, if none is idle, a new one. So every open connection is
// in use (holding a slot) or idle, a connection is only dialled when none
// is idle, and a host never has more than maxPerHost connections open.
type wireHost struct {
	addr    string
	pool    *wirePool
	slots   chan struct{}
	clients int // clients using the host; guarded by pool.mu
	mu      sync.Mutex
	idle    []*wireConn // the most recently used last
	closed  bool        // no client uses the host any more
}

type wireConn struct {
	net.Conn
	br    *bufio.Reader
	since time.Time   // idle since
	stop  func() bool // ends the cancellation watch of the request in progress
}

// errNothingReceived is a kept-alive connection closed by the server before
// it answered: what a server does with connections it considers idle.
var errNothingReceived = errors.New("connection closed before any response")

// acquire takes a slot for a request (see takeSlot).
func (h *wireHost) acquire(ctx context.Context, wait bool) (bool, error) {
	return takeSlot(ctx, h.slots, wait)
}

// takeSlot takes one of slots, a semaphore, at once if one is free;
// otherwise, if wait is set, when one is freed or ctx ends (its error), and
// if not, it reports false at once.
func takeSlot(ctx context.Context, slots chan struct{}, wait bool) (bool, error) {
	select {
	case slots <- struct{}{}:
		return true, nil
	default:
	}
	if !wait {
		return false, nil
	}
	select {
	case slots <- struct{}{}:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// send writes r on a kept-alive connection or, if none is idle or fresh
// is set, a new one. The caller holds a slot. On an error the connection
// is closed already.
func (h *wireHost) send(ctx context.Context, r *Request, fresh bool) (wc *wireConn, reused bool, err error) {
	wc, reused, err = h.conn(ctx, fresh)
	if err != nil {
		return nil, false, err
	}
	if err := wc.send(ctx, r); err != nil {
		h.discard(wc)
		if reused && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			// The server closed the connection and reset it on our write.
			err = fmt.Errorf("%w: %w", errNothingReceived, err)
		}
		return nil, reused, err
	}
	return wc, reused, nil
}

// receive reads the response's head to r, sent on wc with the error
// sendErr. A kept-alive connection that turns out to be closed is replaced
// by a new one once: the request is idempotent and was not answered. On
// success the caller reads the body and then calls done; on an error the
// slot is released.
func (h *wireHost) receive(ctx context.Context, r *Request, wc *wireConn, reused bool, sendErr error) (*http.Response, *wireConn, error) {
	err := sendErr
	for {
		if err == nil {
			var resp *http.Response
			if resp, err = wc.receive(ctx, r); err == nil {
				return resp, wc, nil
			}
			h.discard(wc)
		}
		if !reused || !errors.Is(err, errNothingReceived) || ctx.Err() != nil {
			<-h.slots
			return nil, nil, err
		}
		// The server closed this idle connection, and likely the other
		// idle ones too.
		h.closeIdle()
		wc, reused, err = h.send(ctx, r, true)
	}
}

// conn returns the most recently used idle connection or, if there is
// none or fresh is set, a new one.
func (h *wireHost) conn(ctx context.Context, fresh bool) (*wireConn, bool, error) {
	if !fresh {
		now := time.Now()
		h.mu.Lock()
		for len(h.idle) > 0 && now.Sub(h.idle[0].since) > idleConnTimeout {
			h.idle[0].Close()
			h.idle = h.idle[1:]
		}
		if n := len(h.idle); n > 0 {
			wc := h.idle[n-1]
			h.idle[n-1] = nil
			h.idle = h.idle[:n-1]
			h.mu.Unlock()
			return wc, true, nil
		}
		h.mu.Unlock()
	}
	c, err := h.pool.dial(ctx, "tcp", h.addr)
	if err != nil {
		return nil, false, err
	}
	return &wireConn{Conn: c, br: bufio.NewReaderSize(c, readBufferSize)}, false, nil
}

// done ends a request on wc and releases its slot: the connection is kept
// for the next request if reusable (the body was read to its end, the
// server keeps it open) and the request's context did not end while it
// was in use.
func (h *wireHost) done(wc *wireConn, reusable bool) {
	if wc.stop() && reusable {
		wc.since = time.Now()
		h.mu.Lock()
		if !h.closed {
			h.idle = append(h.idle, wc)
			wc = nil
		}
		h.mu.Unlock()
	}
	if wc != nil {
		h.discard(wc)
	}
	<-h.slots
}

func (h *wireHost) discard(wc *wireConn) {
	if wc.stop != nil {
		wc.stop()
	}
	wc.Close()
}

func (h *wireHost) closeIdle() {
	h.mu.Lock()
	idle := h.idle
	h.idle = nil
	h.mu.Unlock()
	for _, wc := range idle {
		wc.Close()
	}
}

// past is a deadline that has passed: setting it ends a read or write in
// progress.
var past = time.Unix(1, 0)

// send writes r under ctx, whose end (deadline or cancellation) from now
// on ends the connection's reads and writes.
func (wc *wireConn) send(ctx context.Context, r *Request) error {
	deadline, _ := ctx.Deadline()
	wc.SetDeadline(deadline)
	wc.stop = context.AfterFunc(ctx, func() { wc.SetDeadline(past) })
	if _, err := wc.Write(r.wire); err != nil {
		return wireError(ctx, err)
	}
	return nil
}

// receive reads the head of the response to r.
func (wc *wireConn) receive(ctx context.Context, r *Request) (*http.Response, error) {
	if _, err := wc.br.Peek(1); err != nil {
		if ctx.Err() == nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("%w: %w", errNothingReceived, err)
		}
		return nil, wireError(ctx, err)
	}
	for {
		var req *http.Request // nil: a GET, as far as the response's body goes
		if r.method == http.MethodHead {
			req = r.template()
		}
		resp, err := http.ReadResponse(wc.br, req)
		if err != nil {
			return nil, wireError(ctx, err)
		}
		// Informational answers (100 Continue, 103 Early Hints) come
		// before the response, as net/http skips them.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

// wireError says a request ran out of time as net/http does (its context's
// error), since the connection's deadline may pass a moment before the
// context's own timer does.
func wireError(ctx context.Context, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return context.DeadlineExceeded
	}
	return err
}

// prepareWire makes r, to u, go the direct path if it qualifies, and
// reports whether it does.
func (c *Client) prepareWire(r *Request, u *url.URL) bool {
	if c.wire == nil || u.Scheme != "http" || u.User != nil || r.body != nil || !idempotent(r.method) || !validHeader(r.header) {
		return false
	}
	t := newTemplate(r.method, u, r.header)
	if proxy, err := http.ProxyFromEnvironment(t); err != nil || proxy != nil {
		return false
	}
	var b bytes.Buffer
	if err := t.Write(&b); err != nil {
		return false // net/http will say what is wrong
	}
	r.wire = bytes.Clone(b.Bytes())
	r.host = c.wireHost(hostPort(u))
	return true
}

// wireHost returns the pool of the host and port addr, taken from the
// client's wire pool once per client (see Close).
func (c *Client) wireHost(addr string) *wireHost {
	c.hostsMu.Lock()
	defer c.hostsMu.Unlock()
	for _, h := range c.hosts {
		if h.addr == addr {
			return h
		}
	}
	h := c.wire.acquire(addr)
	c.hosts = append(c.hosts, h)
	return h
}

func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

// validHeader reports whether net/http would send h as it is: field names
// are tokens and values hold no control characters but tabs.
func validHeader(h http.Header) bool {
	for k, vs := range h {
		if k == "" {
			return false
		}
		for i := 0; i < len(k); i++ {
			if !isTokenByte(k[i]) {
				return false
			}
		}
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
					return false
				}
			}
		}
	}
	return true
}

func isTokenByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	switch b {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
