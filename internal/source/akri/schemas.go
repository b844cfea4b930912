package akri

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/adrclient"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/messageschema"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/plan"
)

// datasetDecor completes a dataset's messages and notices the first one,
// whose shape becomes the registered schema.
type datasetDecor struct {
	ce         *cloudEvents
	registered atomic.Bool
	trying     atomic.Bool
	declared   string                 // schema text declared in the configuration, if any
	derived    atomic.Pointer[string] // the schema derived from the messages, once registered
	checks     atomic.Int64           // messages checked against it (see widenChecks)
}

// widenChecks is how many messages after a derived schema's registration
// are checked for a wider shape (an integer member with a fraction): the
// first message may have been 72 where the next is 72.5.
const widenChecks = 100

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
		switch {
		case !dd.registered.Load():
			if dd.trying.CompareAndSwap(false, true) {
				w.post(event{kind: evSchema, asset: asset, dataset: dataset, payload: append([]byte(nil), m.Payload...)})
			}
		case dd.declared == "" && dd.checks.Add(1) <= widenChecks:
			s := dd.derived.Load()
			if s == nil {
				return
			}
			if wide, changed, err := messageschema.Widen(*s, m.Payload); err == nil && changed && dd.trying.CompareAndSwap(false, true) {
				w.post(event{kind: evSchema, asset: asset, dataset: dataset, schemaText: wide})
			}
		}
	}
}

// registerSchema registers the schema of a dataset's messages, derived from
// its first message, on a goroutine of its own: the schema registry may
// take long to answer (its put is throttled at scale), and neither the
// worker nor sampling waits for it. The reference is reported in the asset
// status when it comes (evSchemaRegistered).
func (w *worker) registerSchema(ctx context.Context, asset, dataset string, payload []byte, widened string) {
	w.mu.Lock()
	dd := w.decor[asset+"/"+dataset]
	w.mu.Unlock()
	if dd == nil || w.assets[asset] == nil {
		return
	}
	log := w.log.With().Str("asset", asset).Str("dataset", dataset).Logger()
	schema := dd.declared
	if widened != "" {
		schema = widened
	}
	if schema == "" {
		var err error
		if schema, err = messageschema.Derive(payload); err != nil {
			log.Warn().Err(err).Msg("no message schema: the message is not JSON")
			return // stays "trying": no retry for non-JSON output
		}
	}
	w.rt.Go(func(ctx context.Context) {
		ref, err := w.putSchema(ctx, schema)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn().Err(err).Msg("registering the message schema failed; trying again with a later message")
				w.post(event{kind: evSchemaFailed, asset: asset, dataset: dataset, err: err, decor: dd})
			}
			dd.trying.Store(false)
			return
		}
		w.post(event{kind: evSchemaRegistered, asset: asset, dataset: dataset, schemaRef: ref, schemaText: schema, decor: dd})
	})
}

// schemaAttempts bounds the attempts of one registration: each waits up to
// the registry's timeout (90 s), transient and internal errors are tried
// again after a growing pause.
const schemaAttempts = 5

// putSchema puts a schema, trying again on transient RPC errors and on the
// registry's internal errors (5xx), as the Rust SDK does.
func (w *worker) putSchema(ctx context.Context, schema string) (adr.MessageSchemaReference, error) {
	var err error
	for attempt := 1; attempt <= schemaAttempts; attempt++ {
		var ref adr.MessageSchemaReference
		ref, err = w.registry.Put(ctx, schema, "1.0")
		var re *adrclient.SchemaRegistryError
		retryable := aiorpc.IsTransient(err) || (errors.As(err, &re) && re.Code >= 500)
		if err == nil || !retryable || attempt == schemaAttempts {
			return ref, err
		}
		select {
		case <-ctx.Done():
			return ref, ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Second):
		}
	}
	return adr.MessageSchemaReference{}, err
}

// schemaRegistered takes a registered schema: messages name it, the asset
// status reports it.
func (w *worker) schemaRegistered(ctx context.Context, e event) {
	as := w.assets[e.asset]
	dd := e.decor
	w.mu.Lock()
	current := w.decor[e.asset+"/"+e.dataset] == dd
	w.mu.Unlock()
	if as == nil || !current {
		return // the dataset changed meanwhile: its new decoration registers anew
	}
	ref := e.schemaRef
	dd.ce.setSchema(ref)
	if dd.declared == "" {
		text := e.schemaText
		dd.derived.Store(&text)
	}
	dd.registered.Store(true)
	dd.trying.Store(false)
	if _, was := as.unregistered[e.dataset]; was {
		delete(as.unregistered, e.dataset)
		w.reportDataset(ctx, as, e.dataset)
	}
	log := w.log.With().Str("asset", e.asset).Str("dataset", e.dataset).Logger()
	_, err := w.status.UpdateAsset(ctx, as.ep.ref.Device, as.ep.ref.Endpoint, e.asset, func(s *adr.AssetStatus) {
		entry := adr.DatasetStatus{Name: e.dataset}
		if old := s.Dataset(e.dataset); old != nil {
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

// schemaFailed takes a registration the registry refused: the dataset's
// runtime health says so (SchemaRegistrationFailed) while it samples well,
// since its messages go out without a schema, until a later message's
// registration succeeds.
func (w *worker) schemaFailed(ctx context.Context, e event) {
	as := w.assets[e.asset]
	w.mu.Lock()
	current := w.decor[e.asset+"/"+e.dataset] == e.decor
	w.mu.Unlock()
	if as == nil || !current {
		return
	}
	as.unregistered[e.dataset] = e.err.Error()
	w.reportDataset(ctx, as, e.dataset)
}
