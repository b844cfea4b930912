// Package standalone runs the connector without a cluster: devices and
// assets from a folder of resource files, an external MQTT broker or the
// embedded one, credentials from the connector settings.
package folder

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/broker"
	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/publish"
	"github.com/http-connector/http-connector/internal/settings"
)

// Options configure a standalone run.
type Options struct {
	Settings *settings.Settings
	Config   fs.FS  // the configuration folder
	Display  string // how the folder is named in messages
	Logger   zerolog.Logger
	Getenv   func(string) (string, bool)
	// FallbackBrokerPort lets the embedded broker take a free port when
	// its address is in use (the demo does; run does not).
	FallbackBrokerPort bool
	// Ready, if set, is called once the connector samples, with the broker
	// URL it publishes to.
	Ready func(brokerURL string)
	// ShutdownTimeout bounds the flush and disconnect at the end.
	ShutdownTimeout time.Duration
	// StatsFile, if set, receives the running totals and the start
	// lateness of samples as one JSON line (StatsLine) every StatsInterval
	// and a final one at the end: what the benchmark reads.
	StatsFile string
	// Reload watches Settings.Config and the mapping files: changes are
	// loaded and applied while running (see watchConfig).
	Reload bool
	// ReloadDelay is the quiet time after a change before it is loaded;
	// default watch.DefaultDelay.
	ReloadDelay time.Duration
}

// Loader builds the configuration loader the settings call for.
func Loader(s *settings.Settings) (*config.Loader, error) {
	l, err := config.NewLoader(plan.Defaults{SamplingInterval: s.DefaultSamplingInterval, RequestTimeout: s.RequestTimeout})
	if err != nil {
		return nil, err
	}
	return l.WithMappings(s.Mappings), nil
}

// Run loads the configuration, connects and samples until ctx ends. A
// configuration problem is returned as config.Errors before anything is
// dialled.
func Run(ctx context.Context, o Options) error {
	began := time.Now()
	s := o.Settings
	log := o.Logger
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = s.ShutdownTimeout
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	loader, err := Loader(s)
	if err != nil {
		return err
	}
	cfg, err := loader.LoadDir(o.Config, ".", o.Display)
	if err != nil {
		return err
	}
	for _, d := range cfg.Disabled {
		log.Info().Msg("not sampled: " + d)
	}
	loaded := time.Since(began)
	if s.Pprof != "" {
		stopPprof, err := servePprof(s.Pprof, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}

	brokerURL := s.Broker
	if brokerURL == "" {
		b, err := broker.Start(broker.Options{Address: s.EmbeddedBroker})
		if err != nil && o.FallbackBrokerPort {
			log.Warn().Err(err).Msg("embedded broker address in use; taking a free port")
			b, err = broker.Start(broker.Options{Address: "127.0.0.1:0"})
		}
		if err != nil {
			return fmt.Errorf("no broker configured and the embedded one could not start: %w", err)
		}
		defer b.Close()
		brokerURL = b.URL()
		log.Info().Str("address", b.Address()).Msg("no broker configured: started the embedded MQTT broker")
	}
	mqttOpts, err := clientOptions(s, brokerURL, log)
	if err != nil {
		return err
	}
	// The connection outlives ctx until Close, so that the messages queued
	// when ctx ends can still be flushed.
	client, err := mqttclient.Connect(context.WithoutCancel(ctx), mqttOpts)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
		defer cancel()
		if err := client.Close(sctx); err != nil {
			log.Warn().Err(err).Msg("mqtt disconnect")
		}
	}()
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := client.AwaitConnection(waitCtx); err != nil && ctx.Err() == nil {
		log.Warn().Str("broker", brokerURL).Msg("broker not reachable yet; sampling starts anyway and publishing follows the connection")
	}
	cancel()
	pub, err := publish.Start(ctx, client, publish.Options{
		QueueSize: s.PublishQueueSize,
		Inflight:  s.PublishInflight,
		Overflow:  publish.Overflow(s.PublishOverflow),
		SpoolDir:  s.SpoolDir,
		Logger:    log,
	})
	if err != nil {
		return err
	}
	defer func() {
		// The samplers have stopped: flush the queue, then disconnect.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
		defer cancel()
		if err := pub.Close(fctx); err != nil {
			log.Warn().Err(err).Msg("publish queue not flushed")
		}
		pc := pub.Counters()
		log.Info().Int64("queued", pc.Queued.Load()).Int64("delivered", pc.Delivered.Load()).
			Int64("dropped", pc.Dropped.Load()).Int64("expired", pc.Expired.Load()).
			Int64("replayed", pc.Replayed.Load()).Int64("sent_qos0", pc.Sent.Load()).
			Int64("dropped_qos0", pc.DroppedQoS0.Load()).Int("left", pub.Len()).Msg("publisher stopped")
	}()

	getenv := o.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	stats, err := newStatsWriter(o.StatsFile, began, loaded)
	if err != nil {
		return err
	}
	conn := connector.New(connector.Options{
		Logger:      log,
		Publisher:   pub,
		Observe:     stats.observer(),
		Fetch:       fetch.Options{MaxResponseBytes: s.MaxResponseBytes, MaxConns: s.MaxConnsPerDevice},
		Credentials: Credentials(s, getenv),
	})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn.Run(runCtx)
	}()
	if err := conn.Apply(ctx, cfg.Assets); err != nil {
		log.Error().Err(err).Msg("some assets could not start")
	}
	waitReload := func() {}
	if o.Reload && s.Config != "" {
		waitReload = watchConfig(ctx, o, loader, conn, cfg)
	}
	log.Info().Int("assets", conn.Assets()).Str("broker", brokerURL).Msg("sampling")
	stats.run(runCtx, conn, pub)
	if o.Ready != nil {
		o.Ready(brokerURL)
	}
	<-ctx.Done()
	waitReload()
	stop()
	<-done
	stats.close(conn, log)
	st := conn.Snapshot()
	log.Info().Int64("samples", st.Samples).Int64("messages", st.Messages).Int64("failed_samples", st.Failures).Int64("filtered_samples", conn.Counters().Filtered.Load()).Int64("missed_ticks", st.Missed).Int64("retries", conn.Counters().Retries.Load()).Int64("skipped_ticks", conn.Counters().Skipped.Load()).Msg("stopped")
	return nil
}

func clientOptions(s *settings.Settings, brokerURL string, log zerolog.Logger) (mqttclient.Options, error) {
	u, err := url.Parse(brokerURL)
	if err != nil {
		return mqttclient.Options{}, fmt.Errorf("broker: %w", err)
	}
	o := mqttclient.Options{
		Servers:       []*url.URL{u},
		ClientID:      s.ClientID,
		KeepAlive:     30,
		SessionExpiry: 3600,
		Logger:        log,
		Username:      s.BrokerUsername,
	}
	if s.BrokerPasswordFile != "" {
		b, err := os.ReadFile(s.BrokerPasswordFile)
		if err != nil {
			return o, fmt.Errorf("settings: brokerPasswordFile: %w", err)
		}
		o.Password = []byte(trimNewline(string(b)))
	}
	switch u.Scheme {
	case "mqtts", "ssl", "tls":
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
		if s.BrokerCAFile != "" {
			pem, err := os.ReadFile(s.BrokerCAFile)
			if err != nil {
				return o, fmt.Errorf("settings: brokerCaFile: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return o, errors.New("settings: brokerCaFile: no PEM certificates")
			}
			o.TLS.RootCAs = pool
		}
	}
	return o, nil
}

func trimNewline(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
