package akri

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/adrclient"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/messageschema"
)

// actionState is what the worker keeps of an asset's management actions:
// their health reporter and which had their schemas registered.
type actionState struct {
	health     *adrclient.ActionHealth
	stop       context.CancelFunc
	registered map[string]bool // by command, once its schemas are
}

// actionIndex reads "spec.managementGroups[i].actions[j]…".
func actionIndex(path string) (group, action int, ok bool) {
	if n, _ := fmt.Sscanf(path, "spec.managementGroups[%d].actions[%d]", &group, &action); n == 2 {
		return group, action, true
	}
	return 0, 0, false
}

// actionStatuses are the management groups' statuses: each action with its
// configuration error, if any, and the schema references it has.
func actionStatuses(old []adr.ManagementGroupStatus, a *adr.Asset, errs map[string]string) []adr.ManagementGroupStatus {
	refs := map[string]adr.ManagementActionStatus{}
	for _, g := range old {
		for _, act := range g.Actions {
			refs[g.Name+"::"+act.Name] = act
		}
	}
	var out []adr.ManagementGroupStatus
	for _, g := range a.ManagementGroups {
		gs := adr.ManagementGroupStatus{Name: g.Name}
		for _, act := range g.Actions {
			key := g.Name + "::" + act.Name
			st := adr.ManagementActionStatus{Name: act.Name}
			if prev, ok := refs[key]; ok {
				st.RequestMessageSchemaReference, st.ResponseMessageSchemaReference = prev.RequestMessageSchemaReference, prev.ResponseMessageSchemaReference
			}
			if msg, bad := errs[key]; bad {
				st.Error = &adr.ConfigError{Message: msg}
			}
			gs.Actions = append(gs.Actions, st)
		}
		out = append(out, gs)
	}
	return out
}

// actionCalled takes a call of a management action: its health, and the
// schemas of its first successful call.
func (w *worker) actionCalled(ctx context.Context, call connector.ActionCall) {
	as := w.assets[call.Asset]
	if as == nil || as.actions == nil {
		return
	}
	act := call.Action
	rh := adr.RuntimeHealth{Status: "Available", LastUpdateTime: time.Now().UTC()}
	if as.def != nil && as.def.Version != nil {
		rh.Version = *as.def.Version
	}
	if call.Err != nil {
		rh.Status, rh.Message, rh.ReasonCode = "Unavailable", "The action failed: "+call.Err.Error(), actionReason(call.Err)
	}
	if err := as.actions.health.Report(ctx, act.Command, rh); err != nil {
		w.log.Warn().Err(err).Str("asset", call.Asset).Str("action", act.Command).Msg("reporting action health failed")
	}
	if call.Err != nil || as.actions.registered[act.Command] {
		return
	}
	as.actions.registered[act.Command] = true
	req, reply := call.Request, call.Reply
	w.rt.Go(func(ctx context.Context) { w.registerActionSchemas(ctx, call.Asset, act.Group, act.Name, req, reply) })
}

func actionReason(err error) string {
	var ae *aiorpc.ApplicationError
	if errors.As(err, &ae) {
		return "DeviceRefusedAction"
	}
	return "ActionFailed"
}

// registerActionSchemas registers the schemas of an action's request and
// reply, derived from a successful call, and reports them in the asset's
// status (JSON payloads only).
func (w *worker) registerActionSchemas(ctx context.Context, asset, group, action string, req, reply []byte) {
	var refs [2]*adr.MessageSchemaReference
	for i, payload := range [][]byte{req, reply} {
		schema, err := messageschema.Derive(payload)
		if err != nil {
			continue // not JSON: no schema
		}
		ref, err := w.putSchema(ctx, schema)
		if err != nil {
			w.log.Warn().Err(err).Str("asset", asset).Str("action", group+"::"+action).Msg("registering the action's schema failed")
			continue
		}
		refs[i] = &ref
	}
	w.post(event{kind: evActionSchemas, asset: asset, dataset: group + "::" + action, actionRefs: refs})
}

// actionSchemas reports an action's schema references.
func (w *worker) actionSchemas(ctx context.Context, e event) {
	as := w.assets[e.asset]
	if as == nil {
		return
	}
	_, err := w.status.UpdateAsset(ctx, as.ep.ref.Device, as.ep.ref.Endpoint, e.asset, func(s *adr.AssetStatus) {
		for gi := range s.ManagementGroups {
			g := &s.ManagementGroups[gi]
			for ai := range g.Actions {
				if g.Name+"::"+g.Actions[ai].Name == e.dataset {
					g.Actions[ai].RequestMessageSchemaReference, g.Actions[ai].ResponseMessageSchemaReference = e.actionRefs[0], e.actionRefs[1]
				}
			}
		}
	})
	if err != nil {
		w.log.Warn().Err(err).Str("asset", e.asset).Msg("reporting the action's schemas failed")
	}
}
