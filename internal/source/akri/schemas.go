package akri

import (
	"context"
	"sync/atomic"

	"github.com/http-connector/http-connector/internal/adr"
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
	declared   string // schema text declared in the configuration, if any
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
