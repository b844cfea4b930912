// Package memnet is a network in memory, for tests that run in virtual time
// (testing/synctest): listeners and connections made of net.Pipe, whose
// reads, writes and deadlines block on channels and timers of the bubble,
// where a real socket's would hold the clock still. An http.Server serves on
// a Listener; an HTTP client dials through Dial.
package memnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// Network is a set of listeners, by address.
type Network struct {
	mu        sync.Mutex
	listeners map[string]*Listener
	next      int
}

// Listen listens on a new address of the network, 127.0.0.1:<n>.
func (n *Network) Listen() *Listener {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.listeners == nil {
		n.listeners = map[string]*Listener{}
	}
	n.next++
	l := &Listener{addr: addr(fmt.Sprintf("127.0.0.1:%d", 10000+n.next)), conns: make(chan net.Conn), done: make(chan struct{})}
	n.listeners[string(l.addr)] = l
	return l
}

// Dial connects to the listener at address, as net.Dialer.DialContext does.
func (n *Network) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	n.mu.Lock()
	l := n.listeners[address]
	n.mu.Unlock()
	if l == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
	}
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Listener accepts the connections dialled to its address.
type Listener struct {
	addr  addr
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the listener's address.
func (l *Listener) Addr() net.Addr { return l.addr }

// URL is the listener's address as an http:// URL.
func (l *Listener) URL() string { return "http://" + string(l.addr) }

type addr string

func (a addr) Network() string { return "memnet" }
func (a addr) String() string  { return string(a) }
