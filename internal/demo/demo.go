// Package demo runs the thermostat walkthrough in one process: the example
// REST thermostat, the embedded MQTT broker, the connector on the
// walkthrough's device and asset (examples/thermostat/config) and a
// subscriber that prints every published message with its topic.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/examples/thermostat"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/source/folder"
	"github.com/http-connector/http-connector/internal/version"
)

// DefaultThermostatAddr is where the example thermostat listens, as in the
// walkthrough's device.
const DefaultThermostatAddr = "127.0.0.1:3000"

// DefaultStatusAddr is where the demo serves the status page, /metrics,
// /healthz and /readyz unless the metricsAddr setting says otherwise.
const DefaultStatusAddr = "127.0.0.1:9464"

// Options configure the demo.
type Options struct {
	Settings *settings.Settings
	// ThermostatAddr is where the thermostat listens; if it is in use, a
	// free port is taken.
	ThermostatAddr string
	Logger         zerolog.Logger
	Getenv         func(string) (string, bool)
	// Build is the connector's build, for the logs and the status page.
	Build version.Info
	// Messages receives "topic payload" lines; Notes a line for the user.
	Messages, Notes io.Writer
}

// Run runs the walkthrough until ctx ends.
func Run(ctx context.Context, o Options) error {
	log := o.Logger
	ln, err := net.Listen("tcp", o.ThermostatAddr)
	if err != nil {
		log.Warn().Err(err).Msg("thermostat address in use; taking a free port")
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("demo: thermostat server: %w", err)
		}
	}
	srv := &http.Server{Handler: thermostat.New(uint64(time.Now().UnixNano())).Handler(), ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("thermostat server")
		}
	})
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info().Str("address", ln.Addr().String()).Msg("example thermostat serving")

	cfg, err := thermostat.ConfigAt(ln.Addr().String())
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	p := &printer{out: o.Messages}
	defer p.close(ctx)
	src := folder.New(folder.Options{
		Settings:           o.Settings,
		Config:             cfg,
		Display:            "examples/thermostat/config",
		Logger:             log,
		Getenv:             o.Getenv,
		FallbackBrokerPort: true,
	})
	var ops net.Listener
	if o.Settings.MetricsAddr == "" {
		if ops, err = listenOrFree(DefaultStatusAddr, log); err != nil {
			return fmt.Errorf("demo: status page: %w", err)
		}
		defer ops.Close() // if the run ends before serving it
		s := *o.Settings
		s.MetricsAddr, s.StatusPage = ops.Addr().String(), true
		o.Settings = &s
	}
	opts := connector.FromSettings(o.Settings, log)
	opts.OpsListener = ops
	opts.Build = o.Build
	opts.Ready = func(brokerURL string) {
		if err := p.start(ctx, brokerURL, log); err != nil {
			log.Error().Err(err).Msg("demo subscriber")
			return
		}
		if opts.StatusPage {
			fmt.Fprintf(o.Notes, "Status page and mapping playground: http://%s/\n", opts.MetricsAddr)
		}
		fmt.Fprintf(o.Notes, "Printing every message published on %s; Ctrl-C stops.\n", brokerURL)
	}
	return connector.Run(ctx, src, opts)
}

// listenOrFree listens on addr, or on a free loopback port if addr is in
// use.
func listenOrFree(addr string, log zerolog.Logger) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Warn().Err(err).Msg("status page address in use; taking a free port")
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	return ln, err
}

// printer prints every message of the broker.
type printer struct {
	out    io.Writer
	mu     sync.Mutex
	client *mqttclient.Client
}

func (p *printer) start(ctx context.Context, brokerURL string, log zerolog.Logger) error {
	u, err := url.Parse(brokerURL)
	if err != nil {
		return err
	}
	c, err := mqttclient.Connect(ctx, mqttclient.Options{Servers: []*url.URL{u}, ClientID: "http-connector-demo-printer", KeepAlive: 30, CleanStart: true, Logger: log})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.client = c
	p.mu.Unlock()
	return c.Subscribe(ctx, "#", 1, func(m mqttclient.Message) {
		p.mu.Lock()
		defer p.mu.Unlock()
		fmt.Fprintf(p.out, "%s %s\n", m.Topic, m.Payload)
	})
}

func (p *printer) close(ctx context.Context) {
	p.mu.Lock()
	c := p.client
	p.mu.Unlock()
	if c == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = c.Close(sctx)
}
