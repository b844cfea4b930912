package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/format"
	"github.com/http-connector/http-connector/internal/plan"
)

// ActionCall is one call of a management action, as the Hooks hear it:
// the payloads (for the schemas) and the outcome (for the health).
type ActionCall struct {
	Asset   string
	Action  *plan.Action
	Request []byte // the call's payload
	Reply   []byte // the reply's payload, if the call succeeded
	Err     error  // why it failed: the device's refusal, a mapping, the network
}

// serveActions starts the RPC executors of a's management actions, each
// calling the device through ep's client.
func (rt *Runtime) serveActions(a *plan.Asset, ep *endpoint) ([]*aiorpc.Executor, error) {
	if !rt.setup.ServeActions || len(a.Actions) == 0 {
		return nil, nil
	}
	var out []*aiorpc.Executor
	for _, act := range a.Actions {
		ex, err := aiorpc.NewExecutor(rt.srcCtx, rt.client, rt.setup.MQTT.ClientID, rt.clock, aiorpc.ExecutorOptions{
			RequestTopic: act.Topic,
			CommandName:  act.Command,
			Timeout:      act.Timeout,
			Handle: func(ctx context.Context, req aiorpc.CommandRequest) (aiorpc.CommandResponse, error) {
				return rt.callAction(ctx, a.Name, ep, act, req)
			},
		}, rt.log.With().Str("asset", a.Name).Str("action", act.Command).Logger())
		if err != nil {
			closeExecutors(out)
			return nil, fmt.Errorf("asset %q action %q: %w", a.Name, act.Command, err)
		}
		out = append(out, ex)
	}
	rt.log.Debug().Str("asset", a.Name).Int("actions", len(out)).Msg("management actions served")
	return out, nil
}

// closeActions stops serving every asset's actions, at the end of a run.
func (rt *Runtime) closeActions() {
	rt.mu.Lock()
	var all []*aiorpc.Executor
	for _, r := range rt.assets {
		all = append(all, r.actions...)
		r.actions = nil
	}
	rt.mu.Unlock()
	closeExecutors(all)
}

func closeExecutors(exs []*aiorpc.Executor) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ex := range exs {
		_ = ex.Close(ctx)
	}
}

// callAction makes the HTTP request of one call and builds its reply. The
// device's non-2xx answer is an application error (AppErrCode: the HTTP
// status; AppErrPayload: {"status", "message"}), as the caller can act on it;
// other failures are execution failures.
func (rt *Runtime) callAction(ctx context.Context, asset string, ep *endpoint, act *plan.Action, req aiorpc.CommandRequest) (resp aiorpc.CommandResponse, err error) {
	call := ActionCall{Asset: asset, Action: act, Request: req.Payload}
	defer func() {
		call.Reply, call.Err = resp.Payload, err
		if f := rt.setup.Hooks.ActionCalled; f != nil {
			f(call)
		}
	}()
	p, err := actionRequest(ctx, asset, act, req)
	if err != nil {
		return aiorpc.CommandResponse{}, err
	}
	r, err := ep.client.PrepareWith(p, nil)
	if err != nil {
		return aiorpc.CommandResponse{}, err
	}
	answer, err := ep.client.Do(ctx, r)
	var se *fetch.StatusError
	if errors.As(err, &se) {
		detail, _ := json.Marshal(map[string]any{"status": se.Code, "message": se.Error()})
		return aiorpc.CommandResponse{}, &aiorpc.ApplicationError{Code: strconv.Itoa(se.Code), Payload: string(detail)}
	}
	if err != nil {
		return aiorpc.CommandResponse{}, err
	}
	defer answer.Release()
	return actionReply(ctx, asset, act, answer)
}

// actionRequest is the device request of a call: the action's, with the
// body its jq builds from the payload (or the payload as it is).
func actionRequest(ctx context.Context, asset string, act *plan.Action, req aiorpc.CommandRequest) (*plan.Request, error) {
	p := *act.Request
	body := req.Payload
	if act.Body != nil {
		in := decodePayload(req.Payload)
		out, err := act.Body.One(ctx, in, asset, act.Group, act.Name)
		if err != nil {
			return nil, fmt.Errorf("%w: body jq: %v", aiorpc.ErrInvalidPayload, err)
		}
		if s, ok := out.(string); ok {
			body = []byte(s)
		} else if body, err = json.Marshal(out); err != nil {
			return nil, fmt.Errorf("body jq output: %w", err)
		}
	}
	if act.Type == "Read" || len(body) == 0 {
		return &p, nil
	}
	p.Body = body
	if p.Header.Get("Content-Type") == "" && json.Valid(body) {
		p.Header = p.Header.Clone()
		if p.Header == nil {
			p.Header = http.Header{}
		}
		p.Header.Set("Content-Type", "application/json")
	}
	return &p, nil
}

// actionReply is the reply of a call: what the response jq builds from the
// answer, or the answer as it is.
func actionReply(ctx context.Context, asset string, act *plan.Action, answer *fetch.Response) (aiorpc.CommandResponse, error) {
	if act.Response == nil {
		return aiorpc.CommandResponse{Payload: bytes.Clone(answer.Body), ContentType: answer.ContentType}, nil
	}
	parser := act.Request.Parse.Parser
	if parser == nil {
		parser, _ = format.New(format.Auto, format.Options{})
	}
	in, err := parser.Parse(answer.Body, answer.ContentType)
	if err != nil {
		return aiorpc.CommandResponse{}, fmt.Errorf("the device's answer: %w", err)
	}
	out, err := act.Response.One(ctx, in, asset, act.Group, act.Name, answer.Status)
	if err != nil {
		return aiorpc.CommandResponse{}, fmt.Errorf("response jq: %w", err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return aiorpc.CommandResponse{}, fmt.Errorf("response jq output: %w", err)
	}
	return aiorpc.CommandResponse{Payload: b, ContentType: "application/json", UTF8Payload: true}, nil
}

// decodePayload is a call's payload as jq sees it: its JSON value, else
// its text; nil when empty.
func decodePayload(b []byte) any {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err == nil {
		return v
	}
	return string(b)
}
