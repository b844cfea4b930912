package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/http-connector/http-connector/examples/thermostat"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/source/folder"
)

const demoThermostatAddr = "127.0.0.1:3000"

func cmdDemo(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("demo", "Starts the embedded MQTT broker, the example REST thermostat and the connector on the\nwalkthrough's device and asset (examples/thermostat/config) in one process, and prints\nevery published message with its topic until interrupted.", e)
	sf := addSettingFlags(fs, false)
	thermostatAddr := fs.String("thermostat", demoThermostatAddr, "`address` of the example thermostat server")
	s, code, done := sf.parseSettings(fs, args, e)
	if done {
		return code
	}
	log := newLogger(e.stderr, s)

	ln, err := net.Listen("tcp", *thermostatAddr)
	if err != nil {
		log.Warn().Err(err).Msg("thermostat address in use; taking a free port")
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			fmt.Fprintln(e.stderr, "demo: thermostat server:", err)
			return exitFailure
		}
	}
	srv := &http.Server{Handler: thermostat.New(uint64(time.Now().UnixNano())).Handler(), ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("thermostat server")
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		wg.Wait()
	}()
	log.Info().Str("address", ln.Addr().String()).Msg("example thermostat serving")

	cfg, err := thermostat.ConfigAt(ln.Addr().String())
	if err != nil {
		fmt.Fprintln(e.stderr, "demo:", err)
		return exitFailure
	}
	var sub *mqttclient.Client
	defer func() {
		if sub != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			_ = sub.Close(sctx)
		}
	}()
	var out sync.Mutex
	err = folder.Run(ctx, folder.Options{
		Settings:           s,
		Config:             cfg,
		Display:            "examples/thermostat/config",
		Logger:             log,
		Getenv:             e.getenv,
		FallbackBrokerPort: true,
		Ready: func(brokerURL string) {
			u, _ := url.Parse(brokerURL)
			c, err := mqttclient.Connect(ctx, mqttclient.Options{Servers: []*url.URL{u}, ClientID: "http-connector-demo-printer", KeepAlive: 30, CleanStart: true, Logger: log})
			if err != nil {
				log.Error().Err(err).Msg("demo subscriber")
				return
			}
			sub = c
			_ = c.Subscribe(ctx, "#", 1, func(m mqttclient.Message) {
				out.Lock()
				defer out.Unlock()
				fmt.Fprintf(e.stdout, "%s %s\n", m.Topic, m.Payload)
			})
			fmt.Fprintf(e.stderr, "Printing every message published on %s; Ctrl-C stops.\n", brokerURL)
		},
	})
	if err != nil {
		printErrors(e.stderr, err)
		return exitFailure
	}
	return exitOK
}
