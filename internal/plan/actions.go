package plan

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/mapping"
)

// Action is a management action's plan: the RPC command it serves and the
// HTTP request each call makes.
type Action struct {
	Asset, Group, Name string
	Type               adr.ActionType
	TypeRef            string
	Topic              string // the request topic of the command
	Command            string // "<group>::<action>"
	Timeout            time.Duration
	Request            *Request         // the device request, without its body
	Body               *mapping.Program // builds the body from the call's payload; nil: the payload as it is
	Response           *mapping.Program // builds the reply from the answer; nil: the answer as it is
}

// DefaultActionTimeout bounds a call when neither the action nor its group
// says: 30 s, as the SDKs.
const DefaultActionTimeout = 30 * time.Second

// Variables of an action's body and response jq, in the order Run takes
// them.
var (
	ActionBodyVariables     = []string{"asset", "group", "action"}
	ActionResponseVariables = []string{"asset", "group", "action", "status"}
)

// actionConfig is an action's configuration, over its group's and the
// asset's defaults.
type actionConfig struct {
	requestConfig
	BodyJQ     *string `json:"body"`
	ResponseJQ *string `json:"response"`
	formatConfig
}

// actions plans an asset's management actions.
func (pl *Planner) actions(name string, a *adr.Asset, ep *Endpoint, probs *Problems) []*Action {
	if len(a.ManagementGroups) == 0 {
		return nil
	}
	defaults := pl.actionDefaults(a.DefaultManagementGroupsConfiguration, "spec.defaultManagementGroupsConfiguration", probs)
	var out []*Action
	topics := map[string]string{}
	defer func() {
		for _, act := range out {
			topic := strings.ReplaceAll(act.Topic, "{commandName}", act.Command)
			if other, dup := topics[topic]; dup && other != act.Command {
				probs.add("spec.managementGroups", "actions %s and %s share the request topic %q: give each its own (a topic may hold {commandName})", other, act.Command, act.Topic)
			}
			topics[topic] = act.Command
		}
	}()
	groups := map[string]int{}
	for i := range a.ManagementGroups {
		g := &a.ManagementGroups[i]
		gpath := fmt.Sprintf("spec.managementGroups[%d]", i)
		if j, dup := groups[g.Name]; dup {
			probs.add(gpath+".name", "duplicate management group name %q (also spec.managementGroups[%d])", g.Name, j)
			continue
		}
		groups[g.Name] = i
		gdefaults := merge(defaults, pl.actionDefaults(g.ManagementGroupConfiguration, gpath+".managementGroupConfiguration", probs))
		names := map[string]int{}
		for j := range g.Actions {
			act := &g.Actions[j]
			path := fmt.Sprintf("%s.actions[%d]", gpath, j)
			if k, dup := names[act.Name]; dup {
				probs.add(path+".name", "duplicate action name %q (also actions[%d])", act.Name, k)
				continue
			}
			names[act.Name] = j
			if p := pl.action(name, a, g, act, gdefaults, ep, path, probs); p != nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// actionDefaults decodes and checks one level of action configuration.
func (pl *Planner) actionDefaults(text, path string, probs *Problems) map[string]any {
	m, err := decodeConfig(text)
	if err != nil {
		probs.add(path, "%v", err)
		return nil
	}
	if vp := pl.validate(pl.actionV, m, path); len(vp) > 0 {
		*probs = append(*probs, vp...)
		return nil
	}
	return m
}

func merge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// action plans one management action.
func (pl *Planner) action(asset string, a *adr.Asset, g *adr.ManagementGroup, act *adr.ManagementAction, defaults map[string]any, ep *Endpoint, path string, probs *Problems) *Action {
	before := len(*probs)
	cfgPath := path + ".actionConfiguration"
	own := pl.actionDefaults(act.ActionConfiguration, cfgPath, probs)
	var cfg actionConfig
	if len(*probs) == before {
		if err := remarshal(merge(defaults, own), &cfg); err != nil {
			probs.add(cfgPath, "%v", err)
		}
	}
	out := &Action{Asset: asset, Group: g.Name, Name: act.Name, Type: act.ActionType, TypeRef: act.TypeRef,
		Topic: act.Topic, Command: g.Name + "::" + act.Name, Timeout: DefaultActionTimeout}
	switch act.ActionType {
	case adr.ActionCall, adr.ActionWrite, adr.ActionRead:
	default:
		probs.add(path+".actionType", "%q is not one of %q, %q, %q", act.ActionType, adr.ActionCall, adr.ActionWrite, adr.ActionRead)
	}
	if out.Topic == "" {
		out.Topic = g.DefaultTopic
	}
	if out.Topic == "" {
		probs.add(path+".topic", "required (or the management group's defaultTopic): the request topic of the action's command")
	} else if err := checkTopic(out.Topic); err != nil {
		probs.add(path+".topic", "%v", err)
	}
	switch {
	case act.TimeoutInSeconds != nil && *act.TimeoutInSeconds > 0:
		out.Timeout = time.Duration(*act.TimeoutInSeconds) * time.Second
	case g.DefaultTimeoutInSeconds != nil && *g.DefaultTimeoutInSeconds > 0:
		out.Timeout = time.Duration(*g.DefaultTimeoutInSeconds) * time.Second
	}
	if act.TargetURI == "" {
		probs.add(path+".targetUri", "required: the path (or URL) the action's request goes to")
		return nil
	}
	rc := cfg.requestConfig
	if rc.Method == "" {
		rc.Method = map[adr.ActionType]string{adr.ActionCall: http.MethodPost, adr.ActionWrite: http.MethodPut, adr.ActionRead: http.MethodGet}[act.ActionType]
	}
	rc.Body = nil // built from each call's payload
	out.Request = pl.request(ep, act.TargetURI, rc, a.Attributes, path+".targetUri", cfgPath, probs)
	if out.Request != nil && out.Request.Template != nil {
		probs.add(path+".targetUri", "the request of an action cannot use ${now}, ${previous} or ${cursor}")
	}
	if out.Request != nil {
		out.Request.Parse = cfg.parser(cfgPath, probs)
	}
	b := configBuilder{probs: probs}
	out.Body = b.jqWith(cfg.BodyJQ, ActionBodyVariables, cfgPath+".body")
	out.Response = b.jqWith(cfg.ResponseJQ, ActionResponseVariables, cfgPath+".response")
	if len(*probs) > before || out.Request == nil {
		return nil
	}
	return out
}

// jqWith compiles src with variables, if it is set.
func (b configBuilder) jqWith(src *string, vars []string, path string) *mapping.Program {
	if src == nil {
		return nil
	}
	prog, err := mapping.Compile(*src, mapping.Options{Variables: vars})
	if err != nil {
		*b.probs = append(*b.probs, jqProblem(path, err))
	}
	return prog
}
