// Package connector wires the engine together and owns its goroutines: one
// scheduler with its worker pool, one HTTP client per device endpoint (their
// connection pools shared where TLS settings allow), one sampler per
// dataset.
// Assets can be set, replaced and removed while it runs; that is how file
// reloads and Akri allocation changes reach the samplers.
package connector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/sampling"
	"github.com/http-connector/http-connector/internal/schedule"
)

// Options configure a Connector.
type Options struct {
	Logger    zerolog.Logger
	Publisher sampling.Publisher
	// Credentials resolves an endpoint's secrets; nil means anonymous.
	Credentials func(ep *plan.Endpoint) (fetch.Credentials, error)
	// Fetch holds the HTTP limits; Credentials and Shared in it are
	// ignored.
	Fetch fetch.Options
	// Decorator, if set, gives the function that completes each message of
	// a dataset before it is published (CloudEvents properties in Akri mode).
	Decorator func(a *plan.Asset, d *plan.Dataset) func(*mqttclient.Message)
	// OnDatasetState, if set, is called when a dataset starts failing or
	// recovers (err nil).
	OnDatasetState func(asset, dataset string, err error)
	// Observe, if set, is told the start lateness of every sample.
	Observe schedule.Observer
}

// Connector runs samplers for a changing set of assets.
type Connector struct {
	opts     Options
	log      zerolog.Logger
	sched    *schedule.Scheduler
	counters sampling.Counters
	shared   fetch.Transports    // connection pools of the endpoints' clients
	work     sampling.Workspaces // memory of the samples running

	mu        sync.Mutex
	endpoints map[string]*endpoint
	assets    map[string]*running
}

type endpoint struct {
	plan   *plan.Endpoint
	client *fetch.Client
	users  int
}

type running struct {
	plan     *plan.Asset
	endpoint *endpoint
	jobs     []*schedule.Job
	samplers []*sampling.Sampler
}

// New returns a connector with no assets.
func New(opts Options) *Connector {
	return &Connector{
		opts:      opts,
		log:       opts.Logger,
		sched:     schedule.New(opts.Observe),
		endpoints: map[string]*endpoint{},
		assets:    map[string]*running{},
	}
}

// Counters are the connector's running totals.
func (c *Connector) Counters() *sampling.Counters { return &c.counters }

// MissedTicks is the total of skipped ticks.
func (c *Connector) MissedTicks() int64 { return c.sched.Missed() }

// Run samples until ctx ends, then stops every sampler and waits for them.
func (c *Connector) Run(ctx context.Context) {
	c.sched.Run(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ep := range c.endpoints {
		ep.client.Close()
	}
	c.shared.Close()
}

// Apply makes the running assets exactly the active ones of assets:
// new ones start, missing ones stop, changed ones restart. It returns the
// errors of assets that could not start; the others run regardless.
func (c *Connector) Apply(ctx context.Context, assets []*plan.Asset) error {
	want := map[string]*plan.Asset{}
	for _, a := range assets {
		if a.Enabled && a.Endpoint != nil && a.Endpoint.Enabled {
			want[a.Name] = a
		}
	}
	c.mu.Lock()
	var stale []string
	for name := range c.assets {
		if _, ok := want[name]; !ok {
			stale = append(stale, name)
		}
	}
	c.mu.Unlock()
	var errs []error
	for _, name := range stale {
		if err := c.Remove(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range assets {
		if want[a.Name] != a {
			continue
		}
		if err := c.Set(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Set starts a's samplers, replacing the running asset of that name if its
// definition changed.
func (c *Connector) Set(ctx context.Context, a *plan.Asset) error {
	c.mu.Lock()
	old := c.assets[a.Name]
	c.mu.Unlock()
	if old != nil {
		if old.plan.Fingerprint == a.Fingerprint {
			return nil
		}
		if err := c.Remove(ctx, a.Name); err != nil {
			return err
		}
		c.log.Info().Str("asset", a.Name).Msg("asset changed; restarting its datasets")
	}
	ep, err := c.acquire(a.Endpoint)
	if err != nil {
		return fmt.Errorf("asset %q: %w", a.Name, err)
	}
	r := &running{plan: a, endpoint: ep}
	for _, d := range a.Datasets {
		opts := sampling.Options{Logger: c.log, Counters: &c.counters, Go: c.sched.Go, Workspaces: &c.work}
		if c.opts.Decorator != nil {
			opts.Decorate = c.opts.Decorator(a, d)
		}
		if f := c.opts.OnDatasetState; f != nil {
			asset, dataset := a.Name, d.Name
			opts.OnStateChange = func(err error) { f(asset, dataset, err) }
		}
		s, err := sampling.New(d, ep.client, c.opts.Publisher, opts)
		if err != nil {
			c.stop(ctx, r)
			return err
		}
		r.samplers = append(r.samplers, s)
		r.jobs = append(r.jobs, c.sched.Add(a.Name+"/"+d.Name, d.Interval, s.Sample))
	}
	c.mu.Lock()
	c.assets[a.Name] = r
	c.mu.Unlock()
	c.log.Debug().Str("asset", a.Name).Int("datasets", len(a.Datasets)).Msg("asset started")
	return nil
}

// Remove stops an asset's samplers and waits for running samples to end.
func (c *Connector) Remove(ctx context.Context, name string) error {
	c.mu.Lock()
	r := c.assets[name]
	delete(c.assets, name)
	c.mu.Unlock()
	if r == nil {
		return nil
	}
	c.log.Debug().Str("asset", name).Msg("asset stopped")
	return c.stop(ctx, r)
}

func (c *Connector) stop(ctx context.Context, r *running) error {
	var errs []error
	for _, j := range r.jobs {
		if err := c.sched.Remove(ctx, j); err != nil {
			errs = append(errs, err)
		}
	}
	c.release(r.endpoint)
	return errors.Join(errs...)
}

// acquire returns the shared client of an endpoint, building it on first
// use or when the endpoint's definition changed.
func (c *Connector) acquire(p *plan.Endpoint) (*endpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := p.Key()
	if ep, ok := c.endpoints[key]; ok && sameEndpoint(ep.plan, p) {
		ep.users++
		return ep, nil
	}
	opts := c.opts.Fetch
	opts.Credentials = fetch.Credentials{}
	opts.Shared = &c.shared
	if c.opts.Credentials != nil {
		cr, err := c.opts.Credentials(p)
		if err != nil {
			return nil, fmt.Errorf("device %q endpoint %q: credentials: %w", p.Device, p.Name, err)
		}
		opts.Credentials = cr
	}
	ep := &endpoint{plan: p, client: fetch.New(opts), users: 1}
	c.endpoints[key] = ep
	return ep, nil
}

func (c *Connector) release(ep *endpoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ep.users--
	if ep.users > 0 {
		return
	}
	ep.client.Close()
	if c.endpoints[ep.plan.Key()] == ep {
		delete(c.endpoints, ep.plan.Key())
	}
}

func sameEndpoint(a, b *plan.Endpoint) bool {
	return a.Address.String() == b.Address.String() && a.Auth == b.Auth && a.Trust == b.Trust
}

// Samplers returns the samplers of a running asset.
func (c *Connector) Samplers(asset string) []*sampling.Sampler {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.assets[asset]; r != nil {
		return append([]*sampling.Sampler(nil), r.samplers...)
	}
	return nil
}

// Assets is the number of running assets.
func (c *Connector) Assets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.assets)
}

// Stats is a snapshot of the connector's totals.
type Stats struct {
	Assets, Samples, Failures, Messages, PublishErrors, Requests, Missed int64
	At                                                                   time.Time
}

// Snapshot reads the totals.
func (c *Connector) Snapshot() Stats {
	return Stats{
		Assets:        int64(c.Assets()),
		Samples:       c.counters.Samples.Load(),
		Failures:      c.counters.Failures.Load(),
		Messages:      c.counters.Messages.Load(),
		PublishErrors: c.counters.PublishErrors.Load(),
		Requests:      c.counters.Requests.Load(),
		Missed:        c.sched.Missed(),
		At:            time.Now(),
	}
}
