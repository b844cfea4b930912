package akri

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/adrclient"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/akrimount"
	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/messageschema"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/plan"
)

type (
	adrDevice = adr.Device
	adrAsset  = adr.Asset
)

type eventKind int

const (
	evAssignments eventKind = iota
	evDeviceUpdate
	evAssetUpdate
	evDatasetState
	evSchema
	evReconnected
	evMappings
	evCredentials
)

type event struct {
	kind        eventKind
	assignments akrimount.Assignments
	ref         akrimount.EndpointRef
	device      *adr.Device
	asset       string
	assetDef    *adr.Asset
	dataset     string
	err         error
	payload     []byte
}

// worker owns the ADR side: it is the only goroutine that touches the
// endpoint and asset state below.
type worker struct {
	opts     Options
	log      zerolog.Logger
	clock    *aiorpc.Clock
	adr      *adrclient.Client
	registry *adrclient.SchemaRegistry
	status   *adrclient.StatusReporter
	rt       *connector.Runtime

	mu     sync.Mutex
	queue  []event
	signal chan struct{}
	decor  map[string]*datasetDecor // by asset/dataset; read by samplers
	ctx    context.Context          // the source's, for health runners
	ready  bool

	planner      *plan.Planner
	mappingError string // why the mapping files could not be reloaded

	endpoints map[akrimount.EndpointRef]*endpointState
	assets    map[string]*assetState // asset names are unique in a namespace
}

type endpointState struct {
	ref     akrimount.EndpointRef
	device  *adr.Device
	plan    *plan.Endpoint // nil while the endpoint is unusable
	problem string         // why it is unusable
	notifOn bool
	pending bool // setup failed: retried on the next rescan
	health  *adrclient.EndpointHealth
	stop    context.CancelFunc
	assets  map[string]*assetState
}

type assetState struct {
	name    string
	ep      *endpointState
	def     *adr.Asset
	running *plan.Asset
	notifOn bool
	pending bool
	health  *adrclient.DatasetHealth
	stop    context.CancelFunc
	failing map[string]string // dataset → last sampling error
}

// datasetDecor completes a dataset's messages and notices the first one,
// whose shape becomes the registered schema.
type datasetDecor struct {
	ce         *cloudEvents
	registered atomic.Bool
	trying     atomic.Bool
	declared   string // schema text declared in the configuration, if any
}

func newWorker(o Options, log zerolog.Logger) *worker {
	return &worker{
		opts: o, log: log,
		signal:    make(chan struct{}, 1),
		planner:   o.Planner,
		decor:     map[string]*datasetDecor{},
		endpoints: map[akrimount.EndpointRef]*endpointState{},
		assets:    map[string]*assetState{},
	}
}

// post queues an event; it never blocks (callers are MQTT and sampler
// goroutines).
func (w *worker) post(e event) {
	w.mu.Lock()
	if e.kind == evAssignments {
		// Only the newest assignment list matters.
		kept := w.queue[:0]
		for _, q := range w.queue {
			if q.kind != evAssignments {
				kept = append(kept, q)
			}
		}
		w.queue = kept
	}
	w.queue = append(w.queue, e)
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// start gives the worker what it works with, once the connection is up.
func (w *worker) start(ctx context.Context, rt *connector.Runtime, clock *aiorpc.Clock, adrc *adrclient.Client, reg *adrclient.SchemaRegistry, st *adrclient.StatusReporter) {
	w.rt, w.clock, w.adr, w.registry, w.status, w.ctx = rt, clock, adrc, reg, st, ctx
}

// goHealth runs a health reporter until it is cancelled or the run ends.
func (w *worker) goHealth(run func(context.Context)) context.CancelFunc {
	hctx, cancel := context.WithCancel(w.ctx)
	w.rt.Go(func(context.Context) { run(hctx) })
	return cancel
}

func (w *worker) run(ctx context.Context) {
	rescan := time.NewTicker(w.opts.RescanPeriod)
	defer rescan.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-rescan.C:
			w.retry(ctx)
		case <-w.signal:
		}
		for {
			w.mu.Lock()
			if len(w.queue) == 0 {
				w.mu.Unlock()
				break
			}
			e := w.queue[0]
			w.queue = w.queue[1:]
			w.mu.Unlock()
			if ctx.Err() != nil {
				return
			}
			w.handle(ctx, e)
		}
	}
}

func (w *worker) handle(ctx context.Context, e event) {
	switch e.kind {
	case evAssignments:
		w.applyAssignments(ctx, e.assignments)
		if !w.ready {
			w.ready = true
			w.rt.Ready()
		}
	case evDeviceUpdate:
		es := w.endpoints[e.ref]
		if es == nil {
			return // not ours (any more)
		}
		w.log.Info().Str("device", e.ref.Device).Str("endpoint", e.ref.Endpoint).Msg("device updated")
		es.device = e.device
		if es.health != nil {
			es.health.Pause()
		}
		w.planEndpoint(ctx, es)
		for _, as := range es.assets {
			w.planAsset(ctx, as)
		}
	case evAssetUpdate:
		as := w.assets[e.asset]
		if as == nil || as.ep.ref != e.ref {
			return
		}
		w.log.Info().Str("asset", e.asset).Msg("asset updated")
		as.def = e.assetDef
		if as.health != nil {
			as.health.Pause()
		}
		w.status.ForgetAsset(as.ep.ref.Device, as.ep.ref.Endpoint, as.name)
		w.planAsset(ctx, as)
	case evDatasetState:
		w.datasetState(ctx, e.asset, e.dataset, e.err)
	case evSchema:
		w.registerSchema(ctx, e.asset, e.dataset, e.payload)
	case evMappings:
		w.reloadMappings(ctx)
	case evCredentials:
		w.credentialsChanged(ctx, e.ref, e.err)
	case evReconnected:
		w.log.Info().Msg("mqtt session was lost; setting ADR notifications again")
		for _, es := range w.endpoints {
			es.notifOn = false
			w.setupEndpoint(ctx, es)
			for _, as := range es.assets {
				as.notifOn = false
				w.setupAsset(ctx, as)
			}
		}
	}
}

// applyAssignments makes the endpoints and assets we serve equal to a.
func (w *worker) applyAssignments(ctx context.Context, a akrimount.Assignments) {
	for ref, es := range w.endpoints {
		if _, ok := a[ref]; !ok {
			w.removeEndpoint(ctx, es)
		}
	}
	refs := a.Endpoints()
	for _, ref := range refs {
		es := w.endpoints[ref]
		if es == nil {
			es = &endpointState{ref: ref, assets: map[string]*assetState{}}
			w.endpoints[ref] = es
			w.setupEndpoint(ctx, es)
		}
		want := map[string]bool{}
		for _, name := range a[ref] {
			want[name] = true
		}
		for name, as := range es.assets {
			if !want[name] {
				w.removeAsset(ctx, as)
			}
		}
		for _, name := range a[ref] {
			if es.assets[name] != nil {
				continue
			}
			if other := w.assets[name]; other != nil {
				w.log.Warn().Str("asset", name).Str("endpoint", ref.String()).Str("also", other.ep.ref.String()).Msg("asset listed under two endpoints; keeping the first")
				continue
			}
			as := &assetState{name: name, ep: es, failing: map[string]string{}}
			es.assets[name] = as
			w.assets[name] = as
			w.setupAsset(ctx, as)
		}
	}
}

func (w *worker) setupEndpoint(ctx context.Context, es *endpointState) {
	log := w.log.With().Str("device", es.ref.Device).Str("endpoint", es.ref.Endpoint).Logger()
	if !es.notifOn {
		if err := w.adr.SetDeviceNotifications(ctx, es.ref.Device, es.ref.Endpoint, true); err != nil {
			log.Warn().Err(err).Msg("turning device notifications on failed; retrying later")
			es.pending = true
			return
		}
		es.notifOn = true
	}
	d, err := w.adr.GetDevice(ctx, es.ref.Device, es.ref.Endpoint)
	if err != nil {
		log.Warn().Err(err).Msg("getting the device failed; retrying later")
		es.pending = true
		return
	}
	es.pending = false
	es.device = &d
	if es.health == nil {
		es.health = w.adr.NewEndpointHealth(es.ref.Device, es.ref.Endpoint, w.opts.HealthPeriod)
		es.stop = w.goHealth(es.health.Run)
	}
	log.Info().Msg("device endpoint assigned")
	w.planEndpoint(ctx, es)
}

// planEndpoint plans the endpoint and reports the device status.
func (w *worker) planEndpoint(ctx context.Context, es *endpointState) {
	es.plan, es.problem = nil, ""
	if !es.device.IsEnabled() {
		es.problem = "the device is disabled"
	} else {
		p, probs := w.planner.Endpoint(es.ref.Device, es.device, es.ref.Endpoint)
		if len(probs) > 0 {
			es.problem = joinProblems(probs)
		} else if _, err := w.rt.Resolve(p); err != nil {
			es.problem = "credentials: " + err.Error()
		} else {
			es.plan = p
		}
	}
	w.reportDevice(ctx, es)
}

// reportDevice reports the endpoint's state in the device status.
func (w *worker) reportDevice(ctx context.Context, es *endpointState) {
	version := es.device.Version
	now := time.Now().UTC()
	_, err := w.status.UpdateDevice(ctx, es.ref.Device, es.ref.Endpoint, func(s *adr.DeviceStatus) {
		if es.plan != nil || es.problem == "the device is disabled" {
			s.SetEndpointHealthy(es.ref.Endpoint, version, now)
		} else {
			s.SetEndpointError(es.ref.Endpoint, version, now, es.problem)
		}
	})
	if err != nil {
		w.log.Warn().Err(err).Str("device", es.ref.Device).Str("endpoint", es.ref.Endpoint).Msg("reporting device status failed")
	}
	if es.problem != "" && es.problem != "the device is disabled" {
		w.log.Error().Str("device", es.ref.Device).Str("endpoint", es.ref.Endpoint).Str("problem", es.problem).Msg("device endpoint cannot be used")
	}
}

func (w *worker) removeEndpoint(ctx context.Context, es *endpointState) {
	for _, as := range es.assets {
		w.removeAsset(ctx, as)
	}
	if es.stop != nil {
		es.stop()
	}
	delete(w.endpoints, es.ref)
	w.log.Info().Str("device", es.ref.Device).Str("endpoint", es.ref.Endpoint).Msg("device endpoint unassigned")
}

func (w *worker) setupAsset(ctx context.Context, as *assetState) {
	ref := as.ep.ref
	log := w.log.With().Str("asset", as.name).Logger()
	if as.ep.device == nil {
		as.pending = true // the endpoint is not set up yet
		return
	}
	if !as.notifOn {
		if err := w.adr.SetAssetNotifications(ctx, ref.Device, ref.Endpoint, as.name, true); err != nil {
			log.Warn().Err(err).Msg("turning asset notifications on failed; retrying later")
			as.pending = true
			return
		}
		as.notifOn = true
	}
	a, err := w.adr.GetAsset(ctx, ref.Device, ref.Endpoint, as.name)
	if err != nil {
		log.Warn().Err(err).Msg("getting the asset failed; retrying later")
		as.pending = true
		return
	}
	as.pending = false
	as.def = &a
	if as.health == nil {
		as.health = w.adr.NewDatasetHealth(ref.Device, ref.Endpoint, as.name, w.opts.HealthPeriod)
		as.stop = w.goHealth(as.health.Run)
	}
	log.Info().Msg("asset assigned")
	w.planAsset(ctx, as)
}

// planAsset plans the asset, reports its status and (re)starts the
// datasets that are valid.
func (w *worker) planAsset(ctx context.Context, as *assetState) {
	if as.def == nil {
		return
	}
	ref := as.ep.ref
	log := w.log.With().Str("asset", as.name).Logger()
	var assetErr string
	datasetErrs := map[string]string{}
	var p *plan.Asset
	switch {
	case as.ep.plan == nil && as.ep.problem != "":
		assetErr = fmt.Sprintf("device %q endpoint %q cannot be used: %s", ref.Device, ref.Endpoint, as.ep.problem)
	case as.ep.plan == nil:
		assetErr = fmt.Sprintf("device %q endpoint %q is not available yet", ref.Device, ref.Endpoint)
	default:
		var probs plan.Problems
		p, probs = w.planner.Asset(as.name, as.def, as.ep.plan)
		for _, pr := range probs {
			msg := config.AssetContext(as.name, as.def, pr.Path) + ": " + pr.Error()
			if i, ok := datasetIndex(pr.Path); ok && i < len(as.def.Datasets) {
				name := as.def.Datasets[i].Name
				datasetErrs[name] = joinLine(datasetErrs[name], msg)
			} else {
				assetErr = joinLine(assetErr, msg)
			}
		}
		if len(probs) > 0 {
			log.Error().Str("problems", joinProblems(probs)).Msg("asset configuration has problems; its valid datasets run")
		}
	}

	if w.mappingError != "" && p != nil && usesNamedMappings(p) {
		assetErr = joinLine(assetErr, "the mapping files could not be reloaded, the last good version keeps running: "+w.mappingError)
	}

	// Start or stop sampling.
	switch {
	case p == nil || !p.Enabled || !p.Endpoint.Enabled || len(p.Datasets) == 0:
		if err := w.rt.Remove(ctx, as.name); err != nil {
			log.Warn().Err(err).Msg("stopping the asset")
		}
		as.running = nil
	default:
		w.prepareDecor(as, p)
		if err := w.rt.Set(ctx, p); err != nil {
			assetErr = joinLine(assetErr, err.Error())
			as.running = nil
		} else {
			as.running = p
		}
	}

	// Report the configuration status: errors on datasets and asset.
	version := as.def.Version
	now := time.Now().UTC()
	_, err := w.status.UpdateAsset(ctx, ref.Device, ref.Endpoint, as.name, func(s *adr.AssetStatus) {
		var ce *adr.ConfigError
		if assetErr != "" {
			ce = &adr.ConfigError{Message: assetErr}
		}
		s.SetConfig(version, now, ce)
		defined := map[string]bool{}
		for _, d := range as.def.Datasets {
			defined[d.Name] = true
			entry := adr.DatasetStatus{Name: d.Name}
			if old := s.Dataset(d.Name); old != nil {
				entry.MessageSchemaReference = old.MessageSchemaReference
			}
			if msg, bad := datasetErrs[d.Name]; bad {
				entry.Error = &adr.ConfigError{Message: msg}
			}
			s.SetDataset(entry)
		}
		kept := s.Datasets[:0]
		for _, d := range s.Datasets {
			if defined[d.Name] {
				kept = append(kept, d)
			}
		}
		s.Datasets = kept
	})
	if err != nil {
		log.Warn().Err(err).Msg("reporting asset status failed")
	}
}

func (w *worker) removeAsset(ctx context.Context, as *assetState) {
	if err := w.rt.Remove(ctx, as.name); err != nil {
		w.log.Warn().Err(err).Str("asset", as.name).Msg("stopping the asset")
	}
	if as.stop != nil {
		as.stop()
	}
	w.status.ForgetAsset(as.ep.ref.Device, as.ep.ref.Endpoint, as.name)
	delete(as.ep.assets, as.name)
	delete(w.assets, as.name)
	w.mu.Lock()
	for key := range w.decor {
		if strings.HasPrefix(key, as.name+"/") {
			delete(w.decor, key)
		}
	}
	w.mu.Unlock()
	w.log.Info().Str("asset", as.name).Msg("asset unassigned")
}

// retry runs on every rescan: setups that failed are tried again.
func (w *worker) retry(ctx context.Context) {
	for _, es := range w.endpoints {
		if es.pending {
			w.setupEndpoint(ctx, es)
		}
		for _, as := range es.assets {
			if as.pending {
				w.setupAsset(ctx, as)
			}
		}
	}
}

// credentialsChanged takes what the runtime found when it read an
// endpoint's secrets again: err when they cannot be read any more (the
// device status says so), nil when they changed and its assets restarted
// with them, or can be read again.
func (w *worker) credentialsChanged(ctx context.Context, ref akrimount.EndpointRef, err error) {
	es := w.endpoints[ref]
	if es == nil || es.device == nil {
		return
	}
	w.planEndpoint(ctx, es)
	if err != nil && es.problem == "" {
		es.problem = "credentials: " + err.Error()
		w.reportDevice(ctx, es)
	}
	for _, as := range es.assets {
		w.planAsset(ctx, as)
	}
}

// datasetState reports a dataset's sampling state change as runtime health,
// and the endpoint's health from its datasets.
func (w *worker) datasetState(ctx context.Context, asset, dataset string, err error) {
	as := w.assets[asset]
	if as == nil || as.health == nil {
		return
	}
	rh := adr.RuntimeHealth{Status: "Available", LastUpdateTime: time.Now().UTC()}
	if as.def != nil && as.def.Version != nil {
		rh.Version = *as.def.Version
	}
	if err != nil {
		rh.Status, rh.Message, rh.ReasonCode = "Unavailable", "Failed to sample the dataset: "+err.Error(), "SamplingFailed"
		as.failing[dataset] = err.Error()
	} else {
		delete(as.failing, dataset)
	}
	if herr := as.health.Report(ctx, dataset, rh); herr != nil {
		w.log.Warn().Err(herr).Str("asset", asset).Msg("reporting dataset health failed")
	}
	w.endpointHealth(ctx, as.ep)
}

func (w *worker) endpointHealth(ctx context.Context, es *endpointState) {
	if es.health == nil {
		return
	}
	total, failing := 0, 0
	last := ""
	for _, as := range es.assets {
		if as.running == nil {
			continue
		}
		total += len(as.running.Datasets)
		for _, msg := range as.failing {
			failing++
			last = msg
		}
	}
	rh := adr.RuntimeHealth{Status: "Available", LastUpdateTime: time.Now().UTC()}
	if es.device != nil && es.device.Version != nil {
		rh.Version = *es.device.Version
	}
	if total > 0 && failing == total {
		rh.Status, rh.Message, rh.ReasonCode = "Unavailable", "Every dataset fails: "+last, "SamplingFailed"
	}
	if err := es.health.Report(ctx, rh); err != nil {
		w.log.Warn().Err(err).Str("device", es.ref.Device).Msg("reporting endpoint health failed")
	}
}

// goodbye turns notifications off, as the SDKs do when they stop.
func (w *worker) goodbye(ctx context.Context) {
	for _, es := range w.endpoints {
		for _, as := range es.assets {
			if as.notifOn {
				if err := w.adr.SetAssetNotifications(ctx, es.ref.Device, es.ref.Endpoint, as.name, false); err != nil {
					w.log.Debug().Err(err).Str("asset", as.name).Msg("turning asset notifications off")
				}
			}
		}
		if es.notifOn {
			if err := w.adr.SetDeviceNotifications(ctx, es.ref.Device, es.ref.Endpoint, false); err != nil {
				w.log.Debug().Err(err).Str("device", es.ref.Device).Msg("turning device notifications off")
			}
		}
	}
}

// prepareDecor makes the message decorations of a plan's datasets.
func (w *worker) prepareDecor(as *assetState, p *plan.Asset) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, d := range p.Datasets {
		key := as.name + "/" + d.Name
		dd := &datasetDecor{ce: newCloudEvents(w.clock, w.opts.Env.ConnectorID, p.Endpoint, p, d), declared: d.MessageSchema}
		if old := w.decor[key]; old != nil && old.registered.Load() && old.declared == dd.declared {
			if s := old.ce.schema.Load(); s != nil {
				dd.ce.schema.Store(s)
				dd.registered.Store(true)
			}
		}
		w.decor[key] = dd
	}
}

// decorator is the connector's hook: it returns the function that
// completes each message of a dataset.
func (w *worker) decorator(a *plan.Asset, d *plan.Dataset) func(*mqttclient.Message) {
	key := a.Name + "/" + d.Name
	w.mu.Lock()
	dd := w.decor[key]
	w.mu.Unlock()
	if dd == nil {
		return nil
	}
	asset, dataset := a.Name, d.Name
	return func(m *mqttclient.Message) {
		dd.ce.decorate(m)
		if !dd.registered.Load() && dd.trying.CompareAndSwap(false, true) {
			w.post(event{kind: evSchema, asset: asset, dataset: dataset, payload: append([]byte(nil), m.Payload...)})
		}
	}
}

// registerSchema registers the schema of a dataset's messages, derived from
// its first message, and reports the reference in the asset status.
func (w *worker) registerSchema(ctx context.Context, asset, dataset string, payload []byte) {
	w.mu.Lock()
	dd := w.decor[asset+"/"+dataset]
	w.mu.Unlock()
	as := w.assets[asset]
	if dd == nil || as == nil {
		return
	}
	log := w.log.With().Str("asset", asset).Str("dataset", dataset).Logger()
	schema := dd.declared
	if schema == "" {
		var err error
		if schema, err = messageschema.Derive(payload); err != nil {
			log.Warn().Err(err).Msg("no message schema: the message is not JSON")
			return // stays "trying": no retry for non-JSON output
		}
	}
	ref, err := w.registry.Put(ctx, schema, "1.0")
	if err != nil {
		log.Warn().Err(err).Msg("registering the message schema failed; trying again with a later message")
		dd.trying.Store(false)
		return
	}
	dd.ce.setSchema(ref)
	dd.registered.Store(true)
	_, err = w.status.UpdateAsset(ctx, as.ep.ref.Device, as.ep.ref.Endpoint, asset, func(s *adr.AssetStatus) {
		entry := adr.DatasetStatus{Name: dataset}
		if old := s.Dataset(dataset); old != nil {
			entry = *old
		}
		r := ref
		entry.MessageSchemaReference = &r
		s.SetDataset(entry)
	})
	if err != nil {
		log.Warn().Err(err).Msg("reporting the message schema failed")
		return
	}
	log.Info().Str("schema", ref.SchemaName).Msg("message schema registered")
}

func datasetIndex(path string) (int, bool) {
	var i int
	if n, _ := fmt.Sscanf(path, "spec.datasets[%d]", &i); n == 1 {
		return i, true
	}
	return 0, false
}

func joinProblems(probs plan.Problems) string {
	var lines []string
	for _, p := range probs {
		lines = append(lines, p.Error())
	}
	sort.Strings(lines)
	return strings.Join(lines, "; ")
}

func joinLine(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// reloadMappings takes changed mapping files: the assets re-plan with the
// new library and restart where it changed what they run. A broken edit
// keeps the last good library running and is reported on the assets that
// use named mappings.
func (w *worker) reloadMappings(ctx context.Context) {
	p, err := w.opts.ReloadPlanner()
	if err != nil {
		if msg := err.Error(); msg != w.mappingError {
			w.mappingError = msg
			w.log.Error().Str("problems", msg).Msg("mapping files changed but cannot be used; the last good version keeps running")
		}
	} else {
		if w.mappingError != "" {
			w.log.Info().Msg("mapping files fixed")
		} else {
			w.log.Info().Msg("mapping files changed")
		}
		w.mappingError = ""
		w.planner = p
	}
	for _, as := range w.assets {
		w.planAsset(ctx, as)
	}
}

func usesNamedMappings(p *plan.Asset) bool {
	for _, d := range p.Datasets {
		if d.MappingName != "" {
			return true
		}
		for _, pt := range d.Points {
			if pt.MappingName != "" {
				return true
			}
		}
	}
	return false
}
