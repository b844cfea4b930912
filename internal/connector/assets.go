package connector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/credentials"
	"github.com/http-connector/http-connector/internal/endpointclient"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/httpauth"
	"github.com/http-connector/http-connector/internal/metrics"
	"github.com/http-connector/http-connector/internal/placeholder"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/sampling"
	"github.com/http-connector/http-connector/internal/schedule"
)

// endpoint is the HTTP client of a device endpoint, shared by its assets.
type endpoint struct {
	plan        *plan.Endpoint
	client      *fetch.Client
	fingerprint string // of the secrets the client was built with
	failing     string // why its secrets cannot be read again, if they cannot
	users       int

	authMu  sync.Mutex
	refused map[string]bool // the datasets whose requests the device refuses
}

// running is an asset being sampled.
type running struct {
	plan     *plan.Asset
	endpoint *endpoint
	jobs     []*schedule.Job
	samplers []*sampling.Sampler
	latency  []*metrics.Histogram // of each sampler; nil while metrics are off
	actions  []*aiorpc.Executor   // of its management actions
	secrets  []string             // names of the secrets of its requests' placeholders
	print    string               // of their content when it started
	// lookup reads the secrets of its placeholders; nil without any.
	lookup func(placeholder.Ref) (string, error)
}

// Apply makes the running assets exactly the active ones of assets: new
// ones start, missing ones stop, changed ones restart. It returns the
// errors of assets that could not start; the others run regardless.
func (rt *Runtime) Apply(ctx context.Context, assets []*plan.Asset) error {
	want := map[string]*plan.Asset{}
	disabled := map[string]*plan.Asset{}
	for _, a := range assets {
		if a.Active() {
			want[a.Name] = a
		} else {
			disabled[a.Name] = a
		}
	}
	rt.mu.Lock()
	rt.disabled = disabled
	var stale []string
	for name := range rt.assets {
		if _, ok := want[name]; !ok {
			stale = append(stale, name)
		}
	}
	rt.mu.Unlock()
	var errs []error
	for _, name := range stale {
		if err := rt.Remove(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range assets {
		if want[a.Name] != a {
			continue
		}
		if err := rt.Set(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Set starts a's samplers, replacing the running asset of that name if its
// definition changed. An asset that is not active (it or its device is
// disabled) stops, and is listed as disabled.
func (rt *Runtime) Set(ctx context.Context, a *plan.Asset) error {
	if !a.Active() {
		err := rt.Remove(ctx, a.Name)
		rt.mu.Lock()
		rt.disabled[a.Name] = a
		rt.mu.Unlock()
		return err
	}
	rt.mu.Lock()
	old := rt.assets[a.Name]
	delete(rt.disabled, a.Name)
	rt.mu.Unlock()
	if old != nil {
		if old.plan.Fingerprint == a.Fingerprint {
			return nil
		}
		if err := rt.Remove(ctx, a.Name); err != nil {
			return err
		}
		rt.log.Info().Str("asset", a.Name).Msg("asset changed; restarting its datasets")
	}
	return rt.start(a)
}

func (rt *Runtime) start(a *plan.Asset) error {
	ep, err := rt.acquire(a.Endpoint)
	if err != nil {
		return fmt.Errorf("asset %q: %w", a.Name, err)
	}
	r := &running{plan: a, endpoint: ep, secrets: a.SecretNames()}
	var lookup func(placeholder.Ref) (string, error)
	if len(r.secrets) > 0 {
		values, print, err := credentials.Named(r.secrets, rt.setup.Secrets)
		if err != nil {
			rt.release(ep)
			return fmt.Errorf("asset %q: request secrets: %w", a.Name, err)
		}
		r.print = print
		lookup = credentials.Lookup(values)
		r.lookup = lookup
	}
	hooks := rt.setup.Hooks
	for _, d := range a.Datasets {
		opts := sampling.Options{Logger: rt.log, Counters: &rt.counters, Go: rt.sched.Go, Workspaces: &rt.work, Secrets: lookup, State: rt.setup.State, StateStore: rt.setup.StateStore}
		if hooks.Decorate != nil {
			opts.Decorate = hooks.Decorate(a, d)
		}
		opts.OnStateChange = rt.datasetState(ep, a.Name, d.Name)
		latency := rt.metrics.newLatency()
		if latency != nil {
			opts.Latency = latency
		}
		s, err := sampling.New(d, ep.client, rt.pub, opts)
		if err != nil {
			rt.stop(context.Background(), r)
			return err
		}
		r.samplers = append(r.samplers, s)
		r.latency = append(r.latency, latency)
		r.jobs = append(r.jobs, rt.sched.Add(a.Name+"/"+d.Name, d.Interval, s.Sample))
	}
	if r.actions, err = rt.serveActions(a, ep); err != nil {
		rt.stop(context.Background(), r)
		return err
	}
	rt.mu.Lock()
	rt.assets[a.Name] = r
	rt.mu.Unlock()
	rt.log.Debug().Str("asset", a.Name).Int("datasets", len(a.Datasets)).Msg("asset started")
	return nil
}

// Remove stops an asset's samplers and waits for running samples to end.
func (rt *Runtime) Remove(ctx context.Context, name string) error {
	rt.mu.Lock()
	r := rt.assets[name]
	delete(rt.assets, name)
	delete(rt.disabled, name)
	rt.mu.Unlock()
	if r == nil {
		return nil
	}
	rt.log.Debug().Str("asset", name).Msg("asset stopped")
	return rt.stop(ctx, r)
}

func (rt *Runtime) stop(ctx context.Context, r *running) error {
	closeExecutors(r.actions)
	var errs []error
	for _, j := range r.jobs {
		if err := rt.sched.Remove(ctx, j); err != nil {
			errs = append(errs, err)
		}
	}
	rt.metrics.stop(r)
	rt.release(r.endpoint)
	return errors.Join(errs...)
}

// acquire returns the shared client of an endpoint, building it on first
// use or when the endpoint's definition changed.
func (rt *Runtime) acquire(p *plan.Endpoint) (*endpoint, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	key := p.Key()
	if ep, ok := rt.endpoints[key]; ok && ep.plan.SameConnection(p) {
		ep.users++
		return ep, nil
	}
	ep, err := rt.newEndpoint(p)
	if err != nil {
		return nil, err
	}
	ep.users = 1
	rt.endpoints[key] = ep
	return ep, nil
}

// datasetState passes a dataset's state changes to the hooks, and tells
// EndpointAuth when the device starts or stops refusing the endpoint's
// credentials in any of its datasets.
func (rt *Runtime) datasetState(ep *endpoint, asset, dataset string) func(error) {
	hooks := rt.setup.Hooks
	key := asset + "/" + dataset
	return func(err error) {
		if hooks.DatasetState != nil {
			hooks.DatasetState(asset, dataset, err)
		}
		ep.authMu.Lock()
		was := len(ep.refused) > 0
		if sampling.Kind(err) == sampling.FailAuth {
			if ep.refused == nil {
				ep.refused = map[string]bool{}
			}
			ep.refused[key] = true
		} else {
			delete(ep.refused, key)
		}
		now := len(ep.refused) > 0
		ep.authMu.Unlock()
		if was == now {
			return
		}
		log := rt.log.With().Str("device", ep.plan.Device).Str("endpoint", ep.plan.Name).Logger()
		if now {
			log.Warn().Err(err).Msg("the device refuses the endpoint's credentials")
		} else {
			log.Info().Msg("the device accepts the endpoint's credentials again")
			err = nil
		}
		if hooks.EndpointAuth != nil {
			hooks.EndpointAuth(ep.plan, err)
		}
	}
}

// newEndpoint resolves an endpoint's secrets and builds its client.
func (rt *Runtime) newEndpoint(p *plan.Endpoint) (*endpoint, error) {
	cr, err := rt.Resolve(p)
	if err != nil {
		return nil, fmt.Errorf("device %q endpoint %q: credentials: %w", p.Device, p.Name, err)
	}
	opts := rt.opts.Fetch
	opts.Shared = &rt.shared
	log := rt.log.With().Str("device", p.Device).Str("endpoint", p.Name).Logger()
	client, err := endpointclient.Build(p, cr, endpointclient.Options{Fetch: opts, Observer: func(e httpauth.Event) {
		ev := log.Debug()
		if e.Err != nil {
			ev = ev.Err(e.Err)
		}
		ev.Str("step", e.Step).Str("request", e.Method+" "+e.URL).Int("status", e.Status).Dur("elapsed", e.Elapsed).Msg("authentication request")
	}})
	if err != nil {
		return nil, err
	}
	return &endpoint{plan: p, client: client, fingerprint: cr.Fingerprint}, nil
}

func (rt *Runtime) release(ep *endpoint) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	ep.users--
	if ep.users > 0 {
		return
	}
	ep.client.Close()
	if rt.endpoints[ep.plan.Key()] == ep {
		delete(rt.endpoints, ep.plan.Key())
	}
}

// closeEndpoints closes every client once sampling has stopped.
func (rt *Runtime) closeEndpoints() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, ep := range rt.endpoints {
		ep.client.Close()
	}
	rt.shared.Close()
}

// watchSecrets reads the secrets of every endpoint again every
// SecretsPeriod, until ctx ends, and renews the endpoints whose content
// changed.
func (rt *Runtime) watchSecrets(ctx context.Context) {
	t := time.NewTicker(rt.opts.SecretsPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rt.checkSecrets(ctx)
		}
	}
}

// checkSecrets renews the endpoints whose secrets changed: their assets
// restart with a client built from the new secrets. An endpoint whose
// secrets cannot be read keeps the client it has, and is reported once.
func (rt *Runtime) checkSecrets(ctx context.Context) {
	rt.mu.Lock()
	eps := make([]*endpoint, 0, len(rt.endpoints))
	for _, ep := range rt.endpoints {
		eps = append(eps, ep)
	}
	rt.mu.Unlock()
	for _, ep := range eps {
		cr, err := rt.Resolve(ep.plan)
		log := rt.log.With().Str("device", ep.plan.Device).Str("endpoint", ep.plan.Name).Logger()
		switch {
		case err != nil:
			if msg := err.Error(); msg != ep.failing {
				ep.failing = msg
				log.Error().Err(err).Msg("device credentials cannot be read; its assets keep the ones they have")
				if f := rt.setup.Hooks.EndpointCredentials; f != nil {
					f(ep.plan, err)
				}
			}
		case cr.Fingerprint != ep.fingerprint:
			log.Info().Msg("device credentials changed; reconnecting its assets")
			rt.renew(ctx, ep)
			if f := rt.setup.Hooks.EndpointCredentials; f != nil {
				f(ep.plan, nil)
			}
		case ep.failing != "":
			ep.failing = ""
			log.Info().Msg("device credentials can be read again")
			if f := rt.setup.Hooks.EndpointCredentials; f != nil {
				f(ep.plan, nil)
			}
		}
	}
	rt.checkRequestSecrets(ctx)
}

// checkRequestSecrets restarts the assets whose requests' secrets changed.
// An asset whose secrets cannot be read keeps the values it has.
func (rt *Runtime) checkRequestSecrets(ctx context.Context) {
	rt.mu.Lock()
	var withSecrets []*running
	for _, r := range rt.assets {
		if len(r.secrets) > 0 {
			withSecrets = append(withSecrets, r)
		}
	}
	rt.mu.Unlock()
	var changed []*plan.Asset
	for _, r := range withSecrets {
		if _, print, err := credentials.Named(r.secrets, rt.setup.Secrets); err == nil && print != r.print {
			changed = append(changed, r.plan)
		}
	}
	for _, a := range changed {
		rt.log.Info().Str("asset", a.Name).Msg("request secrets changed; restarting the asset")
		if err := rt.Remove(ctx, a.Name); err != nil {
			rt.log.Warn().Err(err).Str("asset", a.Name).Msg("stopping the asset")
		}
		if err := rt.start(a); err != nil {
			rt.log.Error().Err(err).Msg("some assets could not start")
		}
	}
}

// renew restarts the assets of ep on a new client.
func (rt *Runtime) renew(ctx context.Context, ep *endpoint) {
	rt.mu.Lock()
	var plans []*plan.Asset
	for _, r := range rt.assets {
		if r.endpoint == ep {
			plans = append(plans, r.plan)
		}
	}
	if rt.endpoints[ep.plan.Key()] == ep {
		delete(rt.endpoints, ep.plan.Key()) // the next acquire builds a new one
	}
	rt.mu.Unlock()
	for _, a := range plans {
		if err := rt.Remove(ctx, a.Name); err != nil {
			rt.log.Warn().Err(err).Str("asset", a.Name).Msg("stopping the asset")
		}
		if err := rt.start(a); err != nil {
			rt.log.Error().Err(err).Msg("some assets could not start")
		}
	}
}

// Samplers returns the samplers of a running asset.
func (rt *Runtime) Samplers(asset string) []*sampling.Sampler {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if r := rt.assets[asset]; r != nil {
		return append([]*sampling.Sampler(nil), r.samplers...)
	}
	return nil
}

// Assets is the number of running assets.
func (rt *Runtime) Assets() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return len(rt.assets)
}

// Counters are the samplers' running totals.
func (rt *Runtime) Counters() *sampling.Counters { return &rt.counters }

// Stats is a snapshot of the runtime's totals.
type Stats struct {
	Assets, Samples, Failures, Messages, PublishErrors, Requests, Missed int64
	At                                                                   time.Time
}

// Snapshot reads the totals.
func (rt *Runtime) Snapshot() Stats {
	return Stats{
		Assets:        int64(rt.Assets()),
		Samples:       rt.counters.Samples.Load(),
		Failures:      rt.counters.Failures.Load(),
		Messages:      rt.counters.Messages.Load(),
		PublishErrors: rt.counters.PublishErrors.Load(),
		Requests:      rt.counters.Requests.Load(),
		Missed:        rt.sched.Missed(),
		At:            time.Now(),
	}
}
