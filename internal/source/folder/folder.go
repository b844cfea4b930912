// Package folder is the source of a standalone run: the devices and assets
// of a folder of resource files, loaded again when they or the mapping
// files change; the MQTT broker of the settings, or the embedded one; the
// secrets of device endpoints from the connector settings.
package folder

import (
	"context"
	"crypto/tls"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/broker"
	"github.com/http-connector/http-connector/internal/certbundle"
	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/statefile"
)

// Options configure the source.
type Options struct {
	Settings *settings.Settings
	Config   fs.FS  // the configuration folder
	Display  string // how the folder is named in messages
	Logger   zerolog.Logger
	Getenv   func(string) (string, bool)
	// FallbackBrokerPort lets the embedded broker take a free port when
	// its address is in use (the demo does; run does not).
	FallbackBrokerPort bool
	// Reload watches Settings.Config and the mapping files: changes are
	// loaded and applied while running (see reload.go).
	Reload bool
	// ReloadDelay is the quiet time after a change before it is loaded;
	// default watch.DefaultDelay.
	ReloadDelay time.Duration
	// Watching, if set, is told once the files are watched (tests).
	Watching func()
}

// Source is a folder of resource files.
type Source struct {
	opts   Options
	log    zerolog.Logger
	loader *config.Loader
	cfg    *config.Config
	// library is the mapping library of the configuration running, for
	// the status page.
	library atomic.Pointer[plan.Library]
}

// New returns the source of a folder; nothing is read before Prepare.
func New(o Options) *Source {
	if o.Getenv == nil {
		o.Getenv = os.LookupEnv
	}
	return &Source{opts: o, log: o.Logger}
}

// Prepare loads the configuration, a config.Errors if it has problems, and
// starts the embedded broker when no broker is configured.
func (s *Source) Prepare(ctx context.Context) (connector.Setup, error) {
	began := time.Now()
	loader, err := config.ForSettings(s.opts.Settings)
	if err != nil {
		return connector.Setup{}, err
	}
	cfg, err := loader.LoadDir(s.opts.Config, ".", s.opts.Display)
	if err != nil {
		return connector.Setup{}, err
	}
	s.loader, s.cfg = loader, cfg
	s.keepLibrary(cfg)
	if cfg.Empty() {
		s.log.Warn().Str("folder", s.opts.Display).Strs("skipped_subfolders", cfg.Skipped).
			Msg("no Device or Asset resources in the configuration folder (only its own *.yaml, *.yml and *.json files are read); nothing is sampled until some are added")
	}
	for _, d := range cfg.Disabled {
		s.log.Info().Msg("not sampled: " + d)
	}
	for _, n := range cfg.Notes {
		s.log.Info().Msg(n)
	}
	setup := connector.Setup{Secrets: Secrets(s.opts.Settings, s.opts.Getenv), LoadTime: time.Since(began), Library: s.mappings}
	var closers []func()
	if dir := s.opts.Settings.StateDir; dir != "" {
		st, err := statefile.Open(dir, s.log)
		if err != nil {
			return connector.Setup{}, err
		}
		setup.State = st
		closers = append(closers, st.Close)
	}
	brokerURL := s.opts.Settings.Broker
	if brokerURL == "" {
		b, err := broker.Start(broker.Options{Address: s.opts.Settings.EmbeddedBroker})
		if err != nil && s.opts.FallbackBrokerPort {
			s.log.Warn().Err(err).Msg("embedded broker address in use; taking a free port")
			b, err = broker.Start(broker.Options{Address: "127.0.0.1:0"})
		}
		if err != nil {
			for _, c := range closers {
				c()
			}
			return connector.Setup{}, fmt.Errorf("no broker configured and the embedded one could not start: %w", err)
		}
		closers = append(closers, func() { _ = b.Close() })
		brokerURL = b.URL()
		s.log.Info().Str("address", b.Address()).Msg("no broker configured: started the embedded MQTT broker")
	}
	setup.Close = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if setup.MQTT, err = ClientOptions(s.opts.Settings, brokerURL, s.log); err != nil {
		setup.Close()
		return connector.Setup{}, err
	}
	return setup, nil
}

// Run applies the configuration and, with Reload, every good change of it
// until ctx ends.
func (s *Source) Run(ctx context.Context, rt *connector.Runtime) error {
	if err := rt.Apply(ctx, s.cfg.Assets); err != nil {
		s.log.Error().Err(err).Msg("some assets could not start")
	}
	rt.Ready()
	if s.opts.Reload && s.opts.Settings.Config != "" {
		s.watch(ctx, rt)
		return nil
	}
	<-ctx.Done()
	return nil
}

// keepLibrary keeps the mapping library of cfg for mappings.
func (s *Source) keepLibrary(cfg *config.Config) {
	if cfg.Mappings != nil {
		lib := cfg.Mappings.Plan()
		s.library.Store(&lib)
	}
}

// mappings is the mapping library of the configuration running.
func (s *Source) mappings() plan.Library {
	if lib := s.library.Load(); lib != nil {
		return *lib
	}
	return nil
}

// Goodbye has nothing to say: a folder has no one to tell.
func (s *Source) Goodbye(context.Context) {}

// ClientOptions are the MQTT connection the settings describe, to the
// broker at brokerURL.
func ClientOptions(s *settings.Settings, brokerURL string, log zerolog.Logger) (mqttclient.Options, error) {
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
		o.Password = []byte(strings.TrimRight(string(b), "\r\n"))
	}
	switch u.Scheme {
	case "mqtts", "ssl", "tls":
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
		if s.BrokerCAFile != "" {
			bundle, err := certbundle.ReadFile(s.BrokerCAFile)
			if err == nil {
				o.TLS.RootCAs, err = certbundle.Pool(bundle)
			}
			if err != nil {
				return o, fmt.Errorf("settings: brokerCaFile: %w", err)
			}
		}
	}
	return o, nil
}

// Secrets are the device endpoint secrets the connector settings name
// (secrets.env, secrets.files, secrets.dir); a trust list is one of them,
// holding a PEM bundle.
func Secrets(s *settings.Settings, getenv func(string) (string, bool)) SettingsSecrets {
	return SettingsSecrets{secrets: s.Secrets, getenv: getenv}
}

// SettingsSecrets reads secrets as the settings say.
type SettingsSecrets struct {
	secrets settings.Secrets
	getenv  func(string) (string, bool)
}

// Secret looks a secret up.
func (s SettingsSecrets) Secret(name string) ([]byte, error) {
	return s.secrets.Lookup(name, s.getenv)
}

// TrustList is the secret the endpoint's trust list names, if any.
func (s SettingsSecrets) TrustList(ep *plan.Endpoint) ([]byte, error) {
	if ep.Trust == "" {
		return nil, nil
	}
	b, err := s.Secret(ep.Trust)
	if err != nil {
		return nil, fmt.Errorf("trust list %q: %w", ep.Trust, err)
	}
	return b, nil
}
