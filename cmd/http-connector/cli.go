package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/version"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // runtime or validation failure
	exitUsage   = 2
)

// env is the process environment as the commands see it.
type env struct {
	environ []string
	stdout  io.Writer
	stderr  io.Writer
	// abort, if set, ends on a second interrupt: a shutdown stops waiting.
	abort context.Context
}

// getenvString is getenv without the presence flag, as akrimount reads it.
func (e *env) getenvString(name string) string {
	v, _ := e.getenv(name)
	return v
}

func (e *env) getenv(name string) (string, bool) {
	for _, kv := range e.environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

func commands() []command {
	return []command{
		{"run", "sample the configured devices and publish to MQTT", cmdRun},
		{"validate", "check a configuration folder and report every problem", cmdValidate},
		{"demo", "run the thermostat walkthrough on an embedded broker and print its messages", cmdDemo},
		{"test", "run the test cases of mapping files", cmdTest},
		{"try", "sample one asset once and show requests, values and messages, without publishing", cmdTry},
		{"ready", "exit 0 when a running connector is ready (the readiness probe)", cmdReady},
		{"version", "print the version", cmdVersion},
	}
}

// release is the version of a release build, which sets it with -ldflags
// "-X main.release=…"; otherwise the version comes from the build info.
var release string

// run runs the command of args until ctx ends, with no second interrupt.
func run(ctx context.Context, args []string, environ []string, stdout, stderr io.Writer) int {
	e := &env{environ: environ, stdout: stdout, stderr: stderr}
	return e.run(ctx, args)
}

func (e *env) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		usage(e.stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "http-connector: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: http-connector <command> [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'http-connector <command> --help' for a command's flags.")
}

func cmdVersion(_ context.Context, e *env, args []string) int {
	fs := newFlagSet("version", "Prints the version, the commit and the time it was built from, as the build recorded them.", e)
	if code, done := parse(fs, args, e); done {
		return code
	}
	fmt.Fprint(e.stdout, version.Read(release))
	return exitOK
}

// newFlagSet makes a flag set whose usage names the command.
func newFlagSet(name, synopsis string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: http-connector %s [flags]\n", name)
		if synopsis != "" {
			fmt.Fprintf(fs.Output(), "\n%s\n", synopsis)
		}
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; done is true when the command should return code.
// Help goes to stdout (exit 0); a usage error to stderr, in one line with
// where to find the usage (exit 2).
func parse(fs *flag.FlagSet, args []string, e *env) (code int, done bool) {
	if code, done := parseFlags(fs, args, e); done {
		return code, true
	}
	if fs.NArg() > 0 {
		return usageError(e, fs.Name(), fmt.Sprintf("unexpected argument %q", fs.Arg(0))), true
	}
	return 0, false
}

// parseFlags parses the flags of args up to the first other argument.
func parseFlags(fs *flag.FlagSet, args []string, e *env) (code int, done bool) {
	out := fs.Output()
	fs.SetOutput(io.Discard) // the flag package would print the error and the usage
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(e.stdout)
		fs.Usage()
		return exitOK, true
	case err != nil:
		return usageError(e, fs.Name(), err.Error()), true
	}
	return 0, false
}

// usageError reports a mistake on the command line and returns exitUsage.
func usageError(e *env, command, msg string) int {
	fmt.Fprintf(e.stderr, "http-connector %s: %s\nRun 'http-connector %s --help' for its flags.\n", command, msg, command)
	return exitUsage
}

// settingFlags are the flags that set connector settings.
type settingFlags struct {
	file string
	keys map[string]string // flag name → settings key
}

// Which setting flags a command has.
const (
	withConfig = 1 << iota // --config
	withBroker             // --broker, --client-id
	withOps                // --metrics-addr, --status-page
)

func addSettingFlags(fs *flag.FlagSet, which int) *settingFlags {
	sf := &settingFlags{keys: map[string]string{}}
	fs.StringVar(&sf.file, "settings", "", "connector settings `file` (YAML); also "+settings.EnvPrefix+"SETTINGS")
	def := settings.Defaults()
	add := func(name, key, value, help string) {
		fs.String(name, value, help)
		sf.keys[name] = key
	}
	if which&withConfig != 0 {
		add("config", "config", "", "`folder` of Device and Asset resource files")
	}
	mappings := "mapping `files or folders`, comma-separated, besides the shipped mappings"
	if which&withConfig != 0 {
		mappings += " (default: the mappings folder of --config)"
	}
	add("mappings", "mappings", "", mappings)
	if which&withBroker != 0 {
		add("broker", "broker", "", "MQTT broker `URL` (mqtt://host:port, mqtts://host:port); empty starts the embedded broker on "+def.EmbeddedBroker)
		add("client-id", "clientId", def.ClientID, "MQTT client `id`")
	}
	if which&withOps != 0 {
		add("metrics-addr", "metricsAddr", "", "serve /metrics, /healthz and /readyz on this `address` (host:port, or a port on loopback); off unless set")
		fs.Bool("status-page", false, "also serve the status page and mapping playground on --metrics-addr")
		sf.keys["status-page"] = "statusPage"
	}
	add("log-level", "logLevel", string(def.LogLevel), "log `level`: trace, debug, info, warn, error")
	add("log-format", "logFormat", "", "log `format`: console or json (default console)")
	return sf
}

// parseSettings parses args and loads the settings; done is true when the
// command should return code (help, a usage error or bad settings).
func (sf *settingFlags) parseSettings(fs *flag.FlagSet, args []string, e *env) (s *settings.Settings, code int, done bool) {
	if code, done := parse(fs, args, e); done {
		return nil, code, true
	}
	s, err := sf.load(fs, e, nil)
	if err == nil {
		return s, 0, false
	}
	// A bad settings file or environment variable is not a usage error;
	// a bad flag value is, and is named.
	if _, without := sf.load(fs, e, map[string]bool{}); without != nil {
		fmt.Fprintln(e.stderr, err)
		return nil, exitFailure, true
	}
	bad := ""
	fs.Visit(func(f *flag.Flag) {
		if _, ok := sf.keys[f.Name]; ok && bad == "" {
			if _, err := sf.load(fs, e, map[string]bool{f.Name: true}); err != nil {
				bad = f.Name
			}
		}
	})
	msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "settings from flags: "), "settings: ")
	if bad != "" {
		msg = "-" + bad + ": " + msg
	}
	return nil, usageError(e, fs.Name(), msg), true
}

// loadConfig loads the configuration folder of the settings through the
// one load path, printing every problem; done is true when the command
// should return code.
func loadConfig(e *env, s *settings.Settings) (cfg *config.Config, code int, done bool) {
	if err := dirExists(s.Config); err != nil {
		fmt.Fprintln(e.stderr, err)
		return nil, exitFailure, true
	}
	loader, err := config.ForSettings(s)
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return nil, exitFailure, true
	}
	cfg, err = loader.LoadDir(os.DirFS(s.Config), ".", s.Config)
	if err != nil {
		printErrors(e.stderr, err)
		return nil, exitFailure, true
	}
	return cfg, 0, false
}

// load loads the settings with the flags set on the command line, or with
// only those in only when it is not nil.
func (sf *settingFlags) load(fs *flag.FlagSet, e *env, only map[string]bool) (*settings.Settings, error) {
	return sf.loadWith(fs, e, only, "")
}

// loadWith loads the settings with the connector template's
// additionalConfiguration (Akri mode) over the settings file.
func (sf *settingFlags) loadWith(fs *flag.FlagSet, e *env, only map[string]bool, template string) (*settings.Settings, error) {
	flags := map[string]any{}
	fs.Visit(func(f *flag.Flag) {
		if key, ok := sf.keys[f.Name]; ok && (only == nil || only[f.Name]) {
			flags[key] = f.Value.String()
		}
	})
	file := sf.file
	if file == "" {
		file, _ = e.getenv(settings.EnvPrefix + "SETTINGS")
	}
	return settings.Load(settings.Sources{File: file, Template: template, Environ: e.environ, Flags: flags})
}

func newLogger(w io.Writer, s *settings.Settings) zerolog.Logger {
	level, err := zerolog.ParseLevel(string(s.LogLevel))
	if err != nil {
		level = zerolog.InfoLevel
	}
	if s.LogFormat == settings.LogJSON {
		return zerolog.New(w).Level(level).With().Timestamp().Logger()
	}
	cw := zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05", NoColor: true}
	return zerolog.New(cw).Level(level).With().Timestamp().Logger()
}

// printErrors writes a load error: every problem on its own line(s).
func printErrors(w io.Writer, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(w, e)
		}
		fmt.Fprintf(w, "%d %s\n", len(errs), plural(len(errs), "problem", "problems"))
		return
	}
	fmt.Fprintln(w, err)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func dirExists(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("configuration folder: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("configuration folder %s: not a folder", path)
	}
	return nil
}
