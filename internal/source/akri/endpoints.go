package akri

import (
	"context"
	"time"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/adrclient"
	"github.com/http-connector/http-connector/internal/akrimount"
	"github.com/http-connector/http-connector/internal/plan"
)

type endpointState struct {
	ref     akrimount.EndpointRef
	device  *adr.Device
	plan    *plan.Endpoint // nil while the endpoint is unusable
	problem string         // why it is unusable
	refused string         // why the device refuses its credentials, while it does
	notifOn bool
	pending bool // setup failed: retried on the next rescan
	health  *adrclient.EndpointHealth
	stop    context.CancelFunc
	assets  map[string]*assetState
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
			as := &assetState{name: name, ep: es, failing: map[string]string{}, reasons: map[string]string{}, unregistered: map[string]string{}}
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
	es.plan, es.problem, es.refused = nil, "", ""
	if !es.device.IsEnabled() {
		es.problem = "the device is disabled"
	} else {
		p, probs := w.planner.Endpoint(es.ref.Device, es.device, es.ref.Endpoint)
		if p != nil && len(p.Config.Ignored) > 0 {
			w.log.Info().Str("device", es.ref.Device).Str("endpoint", es.ref.Endpoint).Strs("members", p.Config.Ignored).
				Msg("additionalConfiguration members not used by http-connector")
		}
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
		switch {
		case es.plan != nil && es.refused != "":
			s.SetEndpointError(es.ref.Endpoint, version, now, "authentication refused: "+es.refused)
		case es.plan != nil || es.problem == "the device is disabled":
			s.SetEndpointHealthy(es.ref.Endpoint, version, now)
		default:
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

// authChanged takes the runtime's word that the device refuses the
// endpoint's credentials (err set) or accepts them again: the device status
// says so.
func (w *worker) authChanged(ctx context.Context, ref akrimount.EndpointRef, err error) {
	es := w.endpoints[ref]
	if es == nil || es.device == nil {
		return
	}
	refused := ""
	if err != nil {
		refused = err.Error()
	}
	if refused == es.refused {
		return
	}
	es.refused = refused
	w.reportDevice(ctx, es)
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
