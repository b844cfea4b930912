package akri

import (
	"context"
	"time"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/sampling"
)

// goHealth runs a health reporter until it is cancelled or the run ends.
func (w *worker) goHealth(run func(context.Context)) context.CancelFunc {
	hctx, cancel := context.WithCancel(w.ctx)
	w.rt.Go(func(context.Context) { run(hctx) })
	return cancel
}

// datasetState reports a dataset's sampling state change as runtime health,
// and the endpoint's health from its datasets.
func (w *worker) datasetState(ctx context.Context, asset, dataset string, err error) {
	as := w.assets[asset]
	if as == nil || as.health == nil {
		return
	}
	if err != nil {
		as.failing[dataset] = err.Error()
		as.reasons[dataset] = reasonCode(err)
	} else {
		delete(as.failing, dataset)
	}
	w.reportDataset(ctx, as, dataset)
	w.endpointHealth(ctx, as.ep)
}

// reportDataset reports a dataset's runtime health: unavailable while its
// samples fail, or while the registry refuses its message schema.
func (w *worker) reportDataset(ctx context.Context, as *assetState, dataset string) {
	if as.health == nil {
		return
	}
	rh := adr.RuntimeHealth{Status: "Available", LastUpdateTime: time.Now().UTC()}
	if as.def != nil && as.def.Version != nil {
		rh.Version = *as.def.Version
	}
	if msg, failing := as.failing[dataset]; failing {
		rh.Status, rh.Message, rh.ReasonCode = "Unavailable", "Failed to sample the dataset: "+msg, as.reasons[dataset]
	} else if msg, refused := as.unregistered[dataset]; refused {
		rh.Status, rh.Message, rh.ReasonCode = "Unavailable", "Failed to register the message schema: "+msg, "SchemaRegistrationFailed"
	}
	if herr := as.health.Report(ctx, dataset, rh); herr != nil {
		w.log.Warn().Err(herr).Str("asset", as.name).Msg("reporting dataset health failed")
	}
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

// reasonCode is the runtime health reason code of a sample's failure, by
// the step that failed, as Microsoft's connectors give theirs.
func reasonCode(err error) string {
	switch sampling.Kind(err) {
	case sampling.FailRequest:
		return "HttpRequestFailed"
	case sampling.FailAuth:
		return "HttpAuthenticationFailed"
	case sampling.FailParse:
		return "PayloadParsingFailed"
	case sampling.FailMapping:
		return "MappingFailed"
	case sampling.FailPublish:
		return "PublishFailed"
	}
	return "SamplingFailed"
}
