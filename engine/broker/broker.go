// Package broker runs the embedded MQTT v5 broker (mochi-mqtt) that the
// connector starts in standalone mode and that tests use.
package broker

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"

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

// Close stops the broker and disconnects its clients.
func (b *Broker) Close() error { return b.server.Close() }
