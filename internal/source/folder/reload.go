package folder

import (
	"context"
	"errors"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/watch"
)

// watch loads the configuration again whenever the configuration folder or
// the mapping files change, until ctx ends, and applies it: only assets
// whose fingerprint changed restart (a mapping's change changes the
// fingerprint of the assets using it). A load with problems changes
// nothing: the last good configuration keeps running and the problems are
// logged, once for as long as they stay the same.
func (s *Source) watch(ctx context.Context, rt *connector.Runtime) {
	r := &reloader{
		load:    func() (*config.Config, error) { return s.loader.LoadDir(s.opts.Config, ".", s.opts.Display) },
		apply:   rt.Apply,
		loaded:  s.keepLibrary,
		log:     s.log,
		running: fingerprints(s.cfg.Active()),
	}
	paths := append([]string{s.opts.Settings.Config}, s.loader.MappingPaths(s.opts.Settings.Config)...)
	s.log.Debug().Strs("paths", paths).Msg("watching the configuration for changes")
	err := watch.Run(ctx, watch.Options{
		Paths:    paths,
		Delay:    s.opts.ReloadDelay,
		OnChange: r.reload,
		OnError:  func(err error) { r.log.Warn().Err(err).Msg("watching the configuration files") },
		Ready:    s.opts.Watching,
	})
	if err != nil {
		r.log.Warn().Err(err).Msg("configuration changes are not watched; restart to apply them")
		<-ctx.Done()
	}
}

// reloader loads and applies configurations; it runs on one goroutine.
type reloader struct {
	load    func() (*config.Config, error)
	apply   func(ctx context.Context, assets []*plan.Asset) error
	loaded  func(*config.Config) // a good configuration is applied
	log     zerolog.Logger
	running map[string]string // active asset → fingerprint
	failed  string            // the problems of the last rejected load
}

func (r *reloader) reload(ctx context.Context) {
	cfg, err := r.load()
	if err != nil {
		if text := err.Error(); text != r.failed {
			r.failed = text
			var errs config.Errors
			if !errors.As(err, &errs) {
				errs = config.Errors{err}
			}
			r.log.Error().Int("problems", len(errs)).Msg("configuration change not applied; the last good configuration keeps running")
			for _, e := range errs {
				r.log.Error().Str("problem", e.Error()).Msg("configuration problem")
			}
		}
		return
	}
	next := fingerprints(cfg.Active())
	var started, stopped, restarted int
	for name, fp := range next {
		switch old, ok := r.running[name]; {
		case !ok:
			started++
		case old != fp:
			restarted++
		}
	}
	for name := range r.running {
		if _, ok := next[name]; !ok {
			stopped++
		}
	}
	recovered := r.failed != ""
	r.failed = ""
	r.running = next
	if r.loaded != nil {
		r.loaded(cfg)
	}
	if err := r.apply(ctx, cfg.Assets); err != nil {
		r.log.Error().Err(err).Msg("some assets could not start")
	}
	if started+stopped+restarted > 0 || recovered {
		r.log.Info().Int("started", started).Int("stopped", stopped).Int("restarted", restarted).Msg("configuration reloaded")
	}
}

func fingerprints(assets []*plan.Asset) map[string]string {
	out := make(map[string]string, len(assets))
	for _, a := range assets {
		out[a.Name] = a.Fingerprint
	}
	return out
}
