package akri

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/adrclient"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/akrimount"
	"github.com/http-connector/http-connector/internal/connector"
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
	evAuth
	evSchemaRegistered
	evSchemaFailed
	evActionCalled
	evActionSchemas
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
	schemaRef   adr.MessageSchemaReference
	schemaText  string
	decor       *datasetDecor
	call        connector.ActionCall
	actionRefs  [2]*adr.MessageSchemaReference // request, reply
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
	// library is planner's mapping library, for other goroutines (the
	// status page).
	library atomic.Pointer[plan.Library]

	endpoints map[akrimount.EndpointRef]*endpointState
	assets    map[string]*assetState // asset names are unique in a namespace
}

func newWorker(o Options, log zerolog.Logger) *worker {
	w := &worker{
		opts: o, log: log,
		signal:    make(chan struct{}, 1),
		decor:     map[string]*datasetDecor{},
		endpoints: map[akrimount.EndpointRef]*endpointState{},
		assets:    map[string]*assetState{},
	}
	w.setPlanner(o.Planner)
	return w
}

// setPlanner plans with p from now on.
func (w *worker) setPlanner(p *plan.Planner) {
	w.planner = p
	if p != nil {
		lib := p.Library()
		w.library.Store(&lib)
	}
}

// mappings is the library of the planner, from any goroutine.
func (w *worker) mappings() plan.Library {
	if lib := w.library.Load(); lib != nil {
		return *lib
	}
	return nil
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
		w.registerSchema(ctx, e.asset, e.dataset, e.payload, e.schemaText)
	case evSchemaRegistered:
		w.schemaRegistered(ctx, e)
	case evSchemaFailed:
		w.schemaFailed(ctx, e)
	case evActionCalled:
		w.actionCalled(ctx, e.call)
	case evActionSchemas:
		w.actionSchemas(ctx, e)
	case evMappings:
		w.reloadMappings(ctx)
	case evCredentials:
		w.credentialsChanged(ctx, e.ref, e.err)
	case evAuth:
		w.authChanged(ctx, e.ref, e.err)
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
