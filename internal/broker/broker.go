// Package broker runs the embedded MQTT v5 broker (mochi-mqtt) that the
// connector starts in standalone mode and that tests use.
package broker

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// DefaultAddress is where the standalone connector's broker listens.
const DefaultAddress = "127.0.0.1:1883"

// Options configure an embedded broker.
type Options struct {
	Address string      // host:port; ":0" style ports pick a free port
	TLS     *tls.Config // optional: serve MQTT over TLS
	// Hooks are added after the allow-all authentication hook; tests use them
	// to check or refuse clients.
	Hooks []mqtt.Hook
}

// Broker is a running embedded broker.
type Broker struct {
	server   *mqtt.Server
	listener *listeners.TCP
	tls      bool
	close    sync.Once
	closeErr error
}

// Start listens on opts.Address and serves until Close.
func Start(opts Options) (*Broker, error) {
	if opts.Address == "" {
		opts.Address = DefaultAddress
	}
	server := mqtt.New(&mqtt.Options{
		InlineClient: false,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	server.Options.Capabilities.MaximumClientWritesPending = 8192
	// No cap: a message without an expiry keeps having none (mochi would
	// give it one day), as with Mosquitto.
	server.Options.Capabilities.MaximumMessageExpiryInterval = 0
	if err := server.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	for _, h := range opts.Hooks {
		if err := server.AddHook(h, nil); err != nil {
			return nil, fmt.Errorf("embedded broker: %w", err)
		}
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: opts.Address, TLSConfig: opts.TLS})
	if err := server.AddListener(l); err != nil {
		return nil, fmt.Errorf("embedded broker: listen on %s: %w", opts.Address, err)
	}
	if err := server.Serve(); err != nil {
		_ = server.Close()
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	return &Broker{server: server, listener: l, tls: opts.TLS != nil}, nil
}

// Address is the host:port the broker listens on.
func (b *Broker) Address() string { return b.listener.Address() }

// URL is the broker's address as an mqtt:// URL.
func (b *Broker) URL() string {
	if b.tls {
		return "mqtts://" + b.Address()
	}
	return "mqtt://" + b.Address()
}

// Close stops the broker and disconnects its clients; later calls do nothing.
// mochi v2.7.9 can deadlock in Close when a client disconnects at the same
// moment (a recursive read lock); Close gives up waiting after closeTimeout
// rather than hang the process.
func (b *Broker) Close() error {
	b.close.Do(func() {
		done := make(chan error, 1)
		go func() { done <- b.server.Close() }()
		select {
		case b.closeErr = <-done:
		case <-time.After(closeTimeout):
			b.closeErr = fmt.Errorf("embedded broker: close did not finish within %v", closeTimeout)
		}
	})
	return b.closeErr
}

const closeTimeout = 5 * time.Second
