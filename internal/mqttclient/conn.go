package mqttclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// conn is the network connection under paho, with buffering both ways.
//
// Reading: paho reads each packet from the connection in two or three
// small reads (the first byte, the length, the rest); through a buffer a
// burst of acknowledgements is one read.
//
// Writing: paho writes each packet while holding the connection's Lock
// (sync.Locker). Unlock makes the caller the flusher if no other is: it
// writes what is pending and, as long as other packets arrive meanwhile,
// those too, each time in one write. A packet written while another
// goroutine flushes is left for that flusher, and its writer goes on at
// once. So nothing waits (one writer alone writes its packet at once, as
// without the buffer), and packets written together, a burst of QoS 1
// messages from the publisher's senders, go out in one system call (and
// one TLS record) instead of one each. A failed write closes the
// connection, which paho sees on its next read, and fails later writes.
type conn struct {
	net.Conn
	r *bufio.Reader

	mu       sync.Mutex // held by paho from Lock to Unlock: one packet at a time
	pending  []byte     // written, not yet flushed
	spare    []byte     // the other buffer
	flushing bool
	err      error // of a failed flush
}

// readBufferSize is the connection's read buffer: many acknowledgements
// or a few messages.
const readBufferSize = 4 << 10

func newConn(c net.Conn) *conn {
	return &conn{Conn: c, r: bufio.NewReaderSize(c, readBufferSize)}
}

// Read is only called by paho's one reading goroutine.
func (c *conn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Lock starts a packet.
func (c *conn) Lock() { c.mu.Lock() }

// Write adds to the packet; it is called between Lock and Unlock.
func (c *conn) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	c.pending = append(c.pending, p...)
	return len(p), nil
}

// Unlock ends the packet and, unless another goroutine is flushing,
// flushes it and whatever else is written meanwhile.
func (c *conn) Unlock() {
	if c.flushing || c.err != nil {
		c.mu.Unlock()
		return
	}
	c.flushing = true
	for len(c.pending) > 0 {
		out := c.pending
		c.pending, c.spare = c.spare[:0], nil
		c.mu.Unlock()
		_, err := c.Conn.Write(out)
		c.mu.Lock()
		c.spare = out[:0]
		if err != nil {
			c.err = err
			c.pending = nil
			c.Conn.Close()
			break
		}
	}
	// A burst's buffers are not kept for the next.
	if cap(c.spare) > 64<<10 {
		c.spare = nil
	}
	c.flushing = false
	c.mu.Unlock()
}

// dialer returns the function autopaho connects with, for TCP and TLS
// broker URLs; nil (autopaho's own, unbuffered) if some URL is neither
// (WebSocket) or a proxy is configured for all connections, which
// autopaho handles.
func dialer(servers []*url.URL, timeout time.Duration) func(context.Context, *url.URL, *tls.Config) (net.Conn, error) {
	for _, u := range servers {
		if _, ok := urlTLS(u); !ok {
			return nil
		}
	}
	if proxyConfigured() {
		return nil
	}
	return func(ctx context.Context, u *url.URL, cfg *tls.Config) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		useTLS, _ := urlTLS(u)
		nd := &net.Dialer{}
		var (
			c   net.Conn
			err error
		)
		if useTLS {
			c, err = (&tls.Dialer{NetDialer: nd, Config: cfg}).DialContext(ctx, "tcp", u.Host)
		} else {
			c, err = nd.DialContext(ctx, "tcp", u.Host)
		}
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", u.Host, err)
		}
		return newConn(c), nil
	}
}

// urlTLS tells whether a broker URL's scheme is TLS; false for its second
// result if it is neither TCP nor TLS, as autopaho reads schemes.
func urlTLS(u *url.URL) (useTLS, ok bool) {
	switch strings.ToLower(u.Scheme) {
	case "mqtt", "tcp", "":
		return false, true
	case "ssl", "tls", "mqtts", "mqtt+ssl", "tcps":
		return true, true
	}
	return false, false
}

// proxyConfigured tells whether autopaho would dial through a proxy (it
// reads all_proxy).
func proxyConfigured() bool { return os.Getenv("all_proxy") != "" }
