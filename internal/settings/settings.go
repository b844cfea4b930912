// Package settings loads the connector's own settings (not the devices and
// assets: those are the ADR resources) with koanf, from defaults, an
// optional YAML settings file, HTTP_CONNECTOR_* environment variables and
// command-line flags, each overriding the one before. Unknown keys are
// errors.
package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/v2"

	"github.com/http-connector/http-connector/internal/publish"
	"github.com/http-connector/http-connector/internal/yamlfile"
)

// EnvPrefix starts every environment variable the connector reads.
const EnvPrefix = "HTTP_CONNECTOR_"

// delim separates nested keys inside koanf; secret names may hold dots.
const delim = "|"

// Settings are the connector's settings.
type Settings struct {
	// Config is the folder of Device and Asset resource files (standalone).
	Config string `koanf:"config"`
	// Mappings are mapping files, or folders of them, besides the shipped
	// ones; comma-separated in flags and the environment. Empty: the
	// mappings folder of Config, if there is one.
	Mappings []string `koanf:"mappings"`
	// Broker is the MQTT broker URL (mqtt://host:port or mqtts://host:port).
	// Empty: start the embedded broker on EmbeddedBroker.
	Broker string `koanf:"broker"`
	// EmbeddedBroker is where the embedded broker listens.
	EmbeddedBroker string `koanf:"embeddedBroker"`
	// ClientID is the MQTT client id.
	ClientID string `koanf:"clientId"`
	// BrokerUsername and BrokerPasswordFile authenticate to an external broker.
	BrokerUsername     string `koanf:"brokerUsername"`
	BrokerPasswordFile string `koanf:"brokerPasswordFile"`
	// BrokerCAFile is a PEM bundle to trust for mqtts:// brokers.
	BrokerCAFile string `koanf:"brokerCaFile"`
	// LogLevel is trace, debug, info, warn or error.
	LogLevel LogLevel `koanf:"logLevel"`
	// LogFormat is console or json; empty: console standalone, json in
	// Akri mode.
	LogFormat LogFormat `koanf:"logFormat"`
	// DefaultSamplingInterval applies when neither dataset nor asset sets one.
	DefaultSamplingInterval time.Duration `koanf:"defaultSamplingInterval"`
	// RequestTimeout bounds every HTTP request.
	RequestTimeout time.Duration `koanf:"requestTimeout"`
	// MaxResponseBytes bounds a response body.
	MaxResponseBytes int64 `koanf:"maxResponseBytes"`
	// MaxConnsPerDevice caps the connections to one device endpoint.
	MaxConnsPerDevice int `koanf:"maxConnsPerDevice"`
	// PublishQueueSize bounds the QoS 1 messages waiting for the broker.
	PublishQueueSize int `koanf:"publishQueueSize"`
	// PublishOverflow is what a full queue drops: dropOldest or dropNewest.
	PublishOverflow publish.Overflow `koanf:"publishOverflow"`
	// PublishInflight bounds the QoS 1 messages awaiting the broker's
	// acknowledgement at once (never two of one topic); 1 sends the queue
	// in order, one message at a time.
	PublishInflight int `koanf:"publishInflight"`
	// SpoolDir, if set, keeps queued QoS 1 messages on disk too, so that a
	// restart loses none.
	SpoolDir string `koanf:"spoolDir"`
	// StateDir, if set, keeps what datasets' samples carry over (a window,
	// a cursor, deduplication keys, the last published values) across
	// restarts, standalone; in Akri mode the broker state store does.
	StateDir string `koanf:"stateDir"`
	// ReadyFile, if set, is kept while the connector is ready (connected,
	// assets applied) for a readiness probe (http-connector ready); in Akri
	// mode it defaults to DefaultAkriReadyFile.
	ReadyFile string `koanf:"readyFile"`
	// ShutdownTimeout bounds the flush of queued messages at shutdown.
	ShutdownTimeout time.Duration `koanf:"shutdownTimeout"`
	// Secrets says where device credentials come from in standalone mode.
	Secrets Secrets `koanf:"secrets"`
	// Pprof, if set, serves net/http/pprof on this loopback address.
	Pprof string `koanf:"pprof"`
	// MetricsAddr, if set, is where /metrics, /healthz and /readyz are
	// served: host:port, or a port of the loopback interface.
	MetricsAddr string `koanf:"metricsAddr"`
	// StatusPage also serves the status page and its mapping playground
	// on MetricsAddr.
	StatusPage bool `koanf:"statusPage"`
	// StatusPageHosts are the host names (besides localhost and IP
	// addresses) the status page answers to; comma-separated in flags and
	// the environment.
	StatusPageHosts []string `koanf:"statusPageHosts"`
	// MetricsPerDataset exports the per-dataset metrics with asset and
	// dataset labels (33 series per dataset); off, they are summed into
	// one series each, for fleets of many thousand datasets.
	MetricsPerDataset bool `koanf:"metricsPerDataset"`
}

// DefaultAkriReadyFile is the ready file of Akri mode, which the readiness
// probe of the connector metadata checks.
const DefaultAkriReadyFile = "/tmp/http-connector-ready"

// LogLevel is how much is logged.
type LogLevel string

// Log levels.
const (
	LogTrace LogLevel = "trace"
	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogWarn  LogLevel = "warn"
	LogError LogLevel = "error"
)

// LogFormat is how logs are written.
type LogFormat string

// Log formats.
const (
	LogConsole LogFormat = "console"
	LogJSON    LogFormat = "json"
)

// Secrets map the secret names in Device resources
// (usernameSecretName: creds/username) to their values. A name is looked up
// in Env, then Files, then as a path below Dir.
type Secrets struct {
	Dir   string            `koanf:"dir"`
	Env   map[string]string `koanf:"env"`   // secret name → environment variable
	Files map[string]string `koanf:"files"` // secret name → file
}

// Defaults are the settings when nothing overrides them.
func Defaults() Settings {
	return Settings{
		EmbeddedBroker:          "127.0.0.1:1883",
		ClientID:                "http-connector",
		LogLevel:                LogInfo,
		DefaultSamplingInterval: time.Second,
		RequestTimeout:          10 * time.Second,
		MaxResponseBytes:        4 << 20,
		MaxConnsPerDevice:       4,
		PublishQueueSize:        10000,
		PublishOverflow:         publish.DropOldest,
		PublishInflight:         64,
		ShutdownTimeout:         10 * time.Second,
		MetricsPerDataset:       true,
	}
}

// Sources are where settings come from, lowest priority first.
type Sources struct {
	File string // optional YAML file
	// Template is the connector template's additionalConfiguration in Akri
	// mode (ADDITIONAL_CONNECTOR_CONFIGURATION): a JSON object of
	// settings, over the file's.
	Template string
	Environ  []string       // KEY=value pairs; HTTP_CONNECTOR_* are read
	Flags    map[string]any // flag name (= key) → value, only flags set
}

// Load merges the sources over the defaults and checks the result.
func Load(src Sources) (*Settings, error) {
	k := koanf.New(delim)
	if err := k.Load(confmap.Provider(toMap(Defaults()), delim), nil); err != nil {
		return nil, fmt.Errorf("settings defaults: %w", err)
	}
	if src.File != "" {
		b, err := os.ReadFile(src.File)
		if err != nil {
			return nil, fmt.Errorf("settings file: %w", err)
		}
		docs, errs := yamlfile.Read(src.File, b)
		if len(errs) > 0 {
			return nil, fmt.Errorf("settings file %w", errors.Join(errs...))
		}
		m := map[string]any{}
		switch {
		case len(docs) > 1:
			return nil, fmt.Errorf("settings file %s:%d: a settings file holds one YAML document", src.File, docs[1].Line)
		case len(docs) == 1:
			var ok bool
			if m, ok = docs[0].Value.(map[string]any); !ok {
				return nil, fmt.Errorf("settings file %s:%d: expected a mapping of settings", src.File, docs[0].Line)
			}
		}
		if err := k.Load(confmap.Provider(m, ""), nil); err != nil {
			return nil, fmt.Errorf("settings file %s: %w", src.File, err)
		}
	}
	if src.Template != "" {
		var m map[string]any
		if err := json.Unmarshal([]byte(src.Template), &m); err != nil {
			return nil, fmt.Errorf("settings from the connector template's additionalConfiguration: want a JSON object of settings: %w", err)
		}
		if err := k.Load(confmap.Provider(m, ""), nil); err != nil {
			return nil, fmt.Errorf("settings from the connector template's additionalConfiguration: %w", err)
		}
	}
	envKeys := EnvNames()
	var unknown []string
	err := k.Load(env.Provider(delim, env.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return src.Environ },
		TransformFunc: func(name, v string) (string, any) {
			key, ok := envKeys[name]
			if !ok {
				if name != EnvPrefix+"SETTINGS" {
					unknown = append(unknown, name)
				}
				return "", nil
			}
			return key, v
		},
	}), nil)
	if err != nil {
		return nil, fmt.Errorf("settings from environment: %w", err)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("environment variable %s is not a setting (known: %s)", strings.Join(unknown, ", "), strings.Join(sortedKeys(envKeys), ", "))
	}
	if len(src.Flags) > 0 {
		if err := k.Load(confmap.Provider(src.Flags, delim), nil); err != nil {
			return nil, fmt.Errorf("settings from flags: %w", err)
		}
	}
	var s Settings
	dc := &mapstructure.DecoderConfig{
		Result:           &s,
		TagName:          "koanf",
		ErrorUnused:      true,
		WeaklyTypedInput: true,
		DecodeHook:       mapstructure.ComposeDecodeHookFunc(mapstructure.StringToTimeDurationHookFunc(), mapstructure.StringToSliceHookFunc(",")),
	}
	if err := k.UnmarshalWithConf("", &s, koanf.UnmarshalConf{Tag: "koanf", DecoderConfig: dc}); err != nil {
		return nil, decodeError(err)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Settings) check() error {
	var errs []error
	if s.Broker != "" {
		u, err := url.Parse(s.Broker)
		switch {
		case err != nil || u.Host == "" || u.Port() == "":
			errs = append(errs, fmt.Errorf("settings: broker: %q needs a scheme, host and port, like mqtt://127.0.0.1:1883", s.Broker))
		case u.Scheme != "mqtt" && u.Scheme != "mqtts" && u.Scheme != "tcp" && u.Scheme != "ssl" && u.Scheme != "tls":
			errs = append(errs, fmt.Errorf("settings: broker: scheme %q is not mqtt:// or mqtts://", u.Scheme))
		}
	}
	if s.DefaultSamplingInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("settings: defaultSamplingInterval: %v is below 10ms", s.DefaultSamplingInterval))
	}
	if s.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("settings: requestTimeout: must be positive"))
	}
	if s.MaxResponseBytes <= 0 {
		errs = append(errs, fmt.Errorf("settings: maxResponseBytes: must be positive"))
	}
	if s.MaxConnsPerDevice <= 0 {
		errs = append(errs, fmt.Errorf("settings: maxConnsPerDevice: must be positive"))
	}
	if s.PublishQueueSize <= 0 {
		errs = append(errs, fmt.Errorf("settings: publishQueueSize: must be positive"))
	}
	if s.PublishInflight <= 0 {
		errs = append(errs, fmt.Errorf("settings: publishInflight: must be positive"))
	}
	if s.PublishOverflow != publish.DropOldest && s.PublishOverflow != publish.DropNewest {
		errs = append(errs, fmt.Errorf("settings: publishOverflow: %q is not %s or %s", s.PublishOverflow, publish.DropOldest, publish.DropNewest))
	}
	if s.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("settings: shutdownTimeout: must be positive"))
	}
	if s.MetricsAddr != "" {
		if _, err := ListenAddress(s.MetricsAddr); err != nil {
			errs = append(errs, err)
		}
	}
	if s.StatusPage && s.MetricsAddr == "" {
		errs = append(errs, fmt.Errorf("settings: statusPage: it is served on metricsAddr, which is not set"))
	}
	switch s.LogLevel {
	case LogTrace, LogDebug, LogInfo, LogWarn, LogError:
	default:
		errs = append(errs, fmt.Errorf("settings: logLevel: %q is not one of trace, debug, info, warn, error", s.LogLevel))
	}
	switch s.LogFormat {
	case "", LogConsole, LogJSON:
	default:
		errs = append(errs, fmt.Errorf("settings: logFormat: %q is not console or json", s.LogFormat))
	}
	return errors.Join(errs...)
}

// ListenAddress is the address the operations listener binds for a
// metricsAddr setting: a bare port is a port of the loopback interface, so
// that nothing is reachable from the network unless a host says so.
func ListenAddress(setting string) (string, error) {
	if _, err := strconv.ParseUint(setting, 10, 16); err == nil {
		return net.JoinHostPort("127.0.0.1", setting), nil
	}
	if _, _, err := net.SplitHostPort(setting); err != nil {
		return "", fmt.Errorf("settings: metricsAddr: %q is neither host:port nor a port", setting)
	}
	return setting, nil
}

// Shown are the settings as the status page shows them, by key: every
// one, with the password of a broker URL redacted. (The settings hold no
// secret themselves, only the names and files of secrets.)
func (s *Settings) Shown() map[string]any {
	out := map[string]any{}
	var walk func(v reflect.Value, into map[string]any)
	walk = func(v reflect.Value, into map[string]any) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			key, f := t.Field(i).Tag.Get("koanf"), v.Field(i)
			switch {
			case f.Kind() == reflect.Struct:
				sub := map[string]any{}
				walk(f, sub)
				into[key] = sub
			case f.Type() == reflect.TypeOf(time.Duration(0)):
				into[key] = f.Interface().(time.Duration).String()
			default:
				into[key] = f.Interface()
			}
		}
	}
	walk(reflect.ValueOf(*s), out)
	if u, err := url.Parse(s.Broker); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
		out["broker"] = u.String()
	}
	return out
}

// EnvNames maps each scalar setting's environment variable to its key:
// HTTP_CONNECTOR_DEFAULT_SAMPLING_INTERVAL → defaultSamplingInterval.
func EnvNames() map[string]string {
	out := map[string]string{}
	var walk func(t reflect.Type, prefix, envPrefix string)
	walk = func(t reflect.Type, prefix, envPrefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("koanf")
			switch f.Type.Kind() {
			case reflect.Struct:
				walk(f.Type, prefix+tag+delim, envPrefix+snake(tag)+"_")
			case reflect.Map:
				// maps are set in the settings file only
			default:
				out[envPrefix+snake(tag)] = prefix + tag
			}
		}
	}
	walk(reflect.TypeOf(Settings{}), "", EnvPrefix)
	return out
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func toMap(s Settings) map[string]any {
	return map[string]any{
		"embeddedBroker":          s.EmbeddedBroker,
		"clientId":                s.ClientID,
		"logLevel":                string(s.LogLevel),
		"defaultSamplingInterval": s.DefaultSamplingInterval.String(),
		"requestTimeout":          s.RequestTimeout.String(),
		"maxResponseBytes":        s.MaxResponseBytes,
		"maxConnsPerDevice":       s.MaxConnsPerDevice,
		"publishQueueSize":        s.PublishQueueSize,
		"publishOverflow":         string(s.PublishOverflow),
		"publishInflight":         s.PublishInflight,
		"shutdownTimeout":         s.ShutdownTimeout.String(),
		"metricsPerDataset":       s.MetricsPerDataset,
	}
}

// Lookup returns a secret's value: from the environment variable Env names
// for it, else from the file Files names, else from Dir/<name>.
func (s Secrets) Lookup(name string, getenv func(string) (string, bool)) ([]byte, error) {
	if v, ok := s.Env[name]; ok {
		val, ok := getenv(v)
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", v)
		}
		return []byte(val), nil
	}
	if f, ok := s.Files[name]; ok {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read secret file: %w", err)
		}
		return bytes.TrimRight(b, "\r\n"), nil
	}
	if s.Dir != "" {
		if filepath.IsAbs(name) || slices.Contains(strings.Split(filepath.ToSlash(name), "/"), "..") {
			return nil, errors.New(`a secret name must be a relative path without ".." components`)
		}
		b, err := os.ReadFile(filepath.Join(s.Dir, filepath.FromSlash(name)))
		if err != nil {
			return nil, fmt.Errorf("read secret file: %w", err)
		}
		return bytes.TrimRight(b, "\r\n"), nil
	}
	return nil, errors.New("not configured: set secrets.env, secrets.files or secrets.dir in the connector settings")
}

// decodeError rewrites mapstructure's report as one line per setting.
func decodeError(err error) error {
	var out []error
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "* "))
		if line == "" || strings.HasPrefix(line, "decoding failed") {
			continue
		}
		// "'' has invalid keys: k" (mapstructure 2.4), "settings.Settings:
		// has invalid keys: k" (2.5).
		if _, keys, ok := strings.Cut(line, " has invalid keys: "); ok {
			out = append(out, fmt.Errorf("settings: unknown setting %s", keys))
			continue
		}
		if rest, ok := strings.CutPrefix(line, "'"); ok {
			if key, msg, ok := strings.Cut(rest, "' "); ok {
				out = append(out, fmt.Errorf("settings: %s: %s", strings.ReplaceAll(key, delim, "."), msg))
				continue
			}
		}
		out = append(out, fmt.Errorf("settings: %s", line))
	}
	if len(out) == 0 {
		return fmt.Errorf("settings: %w", err)
	}
	return errors.Join(out...)
}
