package akri

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/adrclient"
	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/plan"
)

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
	reasons map[string]string // dataset → reason code of that error
	// unregistered are the datasets whose message schema the registry
	// refused: dataset → why.
	unregistered map[string]string
	actions      *actionState // once the asset has management actions
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
	if len(a.ManagementGroups) > 0 && as.actions == nil {
		h := w.adr.NewActionHealth(ref.Device, ref.Endpoint, as.name, w.opts.HealthPeriod)
		as.actions = &actionState{health: h, stop: w.goHealth(h.Run), registered: map[string]bool{}}
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
	actionErrs := map[string]string{}
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
			} else if gi, ai, ok := actionIndex(pr.Path); ok && gi < len(as.def.ManagementGroups) && ai < len(as.def.ManagementGroups[gi].Actions) {
				key := as.def.ManagementGroups[gi].Name + "::" + as.def.ManagementGroups[gi].Actions[ai].Name
				actionErrs[key] = joinLine(actionErrs[key], msg)
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
	case p != nil && !p.Active():
		if err := w.rt.Set(ctx, p); err != nil { // stops it, listed as disabled
			log.Warn().Err(err).Msg("stopping the asset")
		}
		as.running = nil
	case p == nil || len(p.Datasets)+len(p.Actions) == 0:
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
		unsupported(s, as.def)
		s.ManagementGroups = actionStatuses(s.ManagementGroups, as.def, actionErrs)
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
	if as.actions != nil {
		as.actions.stop()
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
		w.setPlanner(p)
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

// Errors of what an asset defines that the connector does not serve: said
// in the status, never ignored in silence.
const (
	errEventGroups = "event groups are not supported by this connector: it samples datasets (and serves management actions)"
	errStreams     = "streams are not supported by this connector: it samples datasets (and serves management actions)"
)

// unsupported reports the asset's event groups and streams as not
// supported, each event and stream with its error.
func unsupported(s *adr.AssetStatus, a *adr.Asset) {
	s.EventGroups, s.Streams = nil, nil
	for _, g := range a.EventGroups {
		gs := adr.EventGroupStatus{Name: g.Name}
		for _, e := range g.Events {
			gs.Events = append(gs.Events, adr.DatasetStatus{Name: e.Name, Error: &adr.ConfigError{Message: errEventGroups}})
		}
		if len(g.Events) == 0 {
			s.Config.Error = joinError(s.Config.Error, fmt.Sprintf("event group %q: %s", g.Name, errEventGroups))
		}
		s.EventGroups = append(s.EventGroups, gs)
	}
	for _, st := range a.Streams {
		s.Streams = append(s.Streams, adr.DatasetStatus{Name: st.Name, Error: &adr.ConfigError{Message: errStreams}})
	}
}

func joinError(e *adr.ConfigError, msg string) *adr.ConfigError {
	if e == nil {
		return &adr.ConfigError{Message: msg}
	}
	e.Message = joinLine(e.Message, msg)
	return e
}
