package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/http-connector/http-connector/internal/mapping"
	"github.com/http-connector/http-connector/internal/metrics"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/sampling"
	"github.com/http-connector/http-connector/internal/schedule"
	"github.com/http-connector/http-connector/internal/statuspage"
)

// statusBackend is the runtime as the status page sees it.
type statusBackend struct{ rt *Runtime }

// runningDataset is a dataset the runtime samples, as the status page and
// the metrics see it.
type runningDataset struct {
	asset   *plan.Asset
	sampler *sampling.Sampler
	job     *schedule.Job
	latency *metrics.Histogram // nil while metrics are off
}

// eachDataset calls f for every running dataset, in no order, outside the
// runtime's lock.
func (rt *Runtime) eachDataset(f func(runningDataset)) {
	rt.mu.Lock()
	runs := make([]*running, 0, len(rt.assets))
	for _, r := range rt.assets {
		runs = append(runs, r)
	}
	rt.mu.Unlock()
	for _, r := range runs {
		for i, s := range r.samplers {
			f(runningDataset{asset: r.plan, sampler: s, job: r.jobs[i], latency: r.latency[i]})
		}
	}
}

func (b statusBackend) Datasets() []statuspage.Dataset {
	var out []statuspage.Dataset
	b.rt.eachDataset(func(rd runningDataset) {
		out = append(out, datasetRow(rd))
	})
	b.rt.mu.Lock()
	for _, a := range b.rt.disabled {
		for _, d := range a.Datasets {
			row := statuspage.Dataset{Asset: a.Name, Dataset: d.Name, State: statuspage.StateDisabled, Interval: d.Interval, MappingName: d.MappingName}
			if a.Endpoint != nil {
				row.Device, row.Endpoint = a.Endpoint.Device, a.Endpoint.Name
			}
			out = append(out, row)
		}
	}
	b.rt.mu.Unlock()
	return out
}

// datasetRow is a running dataset as the page lists it.
func datasetRow(rd runningDataset) statuspage.Dataset {
	a, d, st := rd.asset, rd.sampler.Dataset(), rd.sampler.Stats()
	row := statuspage.Dataset{
		Asset: a.Name, Dataset: d.Name, Device: a.Endpoint.Device, Endpoint: a.Endpoint.Name,
		State: statuspage.StateSampling, LastSample: st.LastSample, LastPublish: st.LastPublish,
		Interval: d.Interval, Samples: st.Samples, Failures: st.Failures, Messages: st.Messages,
		Suppressed: st.Suppressed, Filtered: st.Filtered, MissedTicks: rd.job.Missed(), SkippedTicks: st.SkippedTicks,
		MappingName: d.MappingName, LastMessageBytes: len(st.LastMessage),
	}
	row.LastMessage = st.LastMessage[:min(len(st.LastMessage), statuspage.MaxPayloadBytes)]
	if len(d.Targets) > 0 {
		row.Topic = d.Targets[0].Topic
	}
	if d.Mapping != nil && d.MappingName == "" {
		row.Jq = d.Mapping.Source()
	}
	switch {
	case st.LastError != nil && st.BackingOff:
		row.State, row.LastError = statuspage.StateBackingOff, st.LastError.Error()
	case st.LastError != nil:
		row.State, row.LastError = statuspage.StateFailing, st.LastError.Error()
	case st.Suppressed > 0 && st.LastPublish.Before(st.LastSample):
		row.State = statuspage.StateSuppressed
	}
	return row
}

func (b statusBackend) Connector() statuspage.Connector {
	rt := b.rt
	c := statuspage.Connector{
		Version: rt.opts.Build.Version, Commit: rt.opts.Build.Revision, Started: rt.began,
		BrokerURL: rt.brokerURL(), Connected: rt.client.Connected(), Assets: rt.Assets(),
		Settings: rt.opts.Settings,
	}
	if pub := rt.publisher(); pub != nil {
		c.QueueDepth = pub.Len()
	}
	return c
}

// sampler finds a running dataset's sampler.
func (rt *Runtime) sampler(asset, dataset string) (*running, *sampling.Sampler, error) {
	rt.mu.Lock()
	r := rt.assets[asset]
	rt.mu.Unlock()
	if r == nil {
		return nil, nil, fmt.Errorf("asset %q: %w", asset, statuspage.ErrNotFound)
	}
	for _, s := range r.samplers {
		if s.Dataset().Name == dataset {
			return r, s, nil
		}
	}
	return nil, nil, fmt.Errorf("asset %q dataset %q: %w", asset, dataset, statuspage.ErrNotFound)
}

// Try samples a dataset once with a sampler of its own (the running one
// keeps its state to itself), publishing nothing.
func (b statusBackend) Try(ctx context.Context, asset, dataset string) (*statuspage.Trial, error) {
	r, running, err := b.rt.sampler(asset, dataset)
	if err != nil {
		return nil, err
	}
	opts := sampling.Options{Logger: b.rt.log, Secrets: r.lookup}
	if d := b.rt.setup.Hooks.Decorate; d != nil {
		opts.Decorate = d(r.plan, running.Dataset())
	}
	s, err := sampling.New(running.Dataset(), r.endpoint.client, nil, opts)
	if err != nil {
		return nil, err
	}
	t, err := s.Try(ctx)
	return trial(t, err), nil
}

// trial is a traced sample as the page shows it.
func trial(t *sampling.Trace, err error) *statuspage.Trial {
	out := &statuspage.Trial{Time: t.Time}
	if err != nil {
		out.Err = err.Error()
	}
	for _, r := range t.Requests {
		method, url, _ := strings.Cut(r.Request, " ")
		req := statuspage.Request{Method: method, URL: url, Status: r.Status, Elapsed: r.Elapsed, ContentType: r.ContentType,
			Body: r.Body[:min(len(r.Body), statuspage.MaxPayloadBytes)], BodyBytes: len(r.Body)}
		if r.Err != nil {
			req.Err = r.Err.Error()
		}
		out.Requests = append(out.Requests, req)
	}
	obj := map[string]any{}
	for _, v := range t.Values {
		val := statuspage.Value{Name: v.Name, Value: v.Value}
		if v.Err != nil {
			val.Err = v.Err.Error()
		}
		out.Values = append(out.Values, val)
		obj[v.Name] = v.Value
	}
	if len(t.Values) > 0 {
		out.Input = obj
	} else if len(t.Requests) == 1 && t.Requests[len(t.Requests)-1].Err == nil {
		out.Input = decodeJSON(t.Requests[0].Body)
	}
	for _, m := range t.Messages {
		out.Messages = append(out.Messages, message(m))
	}
	return out
}

func decodeJSON(b []byte) any {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return string(b)
	}
	return v
}

func message(m *mqttclient.Message) statuspage.Message {
	out := statuspage.Message{Topic: m.Topic, Payload: m.Payload[:min(len(m.Payload), statuspage.MaxPayloadBytes)], PayloadBytes: len(m.Payload),
		Properties: statuspage.Properties{QoS: int(m.QoS), Retain: m.Retain, ExpirySeconds: m.MessageExpiry, ContentType: m.ContentType}}
	for _, p := range m.UserProperties {
		out.Properties.UserProperties = append(out.Properties.UserProperties, statuspage.UserProperty{Key: p.Key, Value: p.Value})
	}
	return out
}

// Map runs a program on an input as the dataset would, publishing nothing.
func (b statusBackend) Map(ctx context.Context, req statuspage.MapRequest) (*statuspage.MapResult, error) {
	_, s, err := b.rt.sampler(req.Asset, req.Dataset)
	if err != nil {
		return nil, err
	}
	d := s.Dataset()
	prog, err := b.program(d, req)
	if err != nil {
		return nil, err
	}
	stamp := time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	res := &statuspage.MapResult{Variables: statuspage.Variables{Asset: d.Asset, Dataset: d.Name, Timestamp: stamp}}
	if prog == nil {
		res.Err, res.CompileError = "no program: give jq or a mapping", true
		return res, nil
	}
	in := decodeJSON(req.Input)
	attrs := d.AssetAttributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	mctx, cancel := context.WithTimeout(ctx, sampling.DefaultMappingTimeout)
	defer cancel()
	outs, err := prog.Run(mctx, in, d.Asset, d.Name, stamp, attrs)
	if err != nil {
		res.Err = err.Error()
		return res, nil
	}
	for _, o := range outs {
		p, err := json.Marshal(o)
		if err != nil {
			res.Err = err.Error()
			return res, nil
		}
		res.Outputs = append(res.Outputs, p)
		for _, t := range d.Targets {
			res.Messages = append(res.Messages, message(&mqttclient.Message{Topic: t.Topic, Payload: p, QoS: t.QoS, Retain: t.Retain, MessageExpiry: t.Expiry, ContentType: "application/json"}))
		}
	}
	return res, nil
}

// program is the program a map request names: its jq, a library mapping,
// or the dataset's own.
func (b statusBackend) program(d *plan.Dataset, req statuspage.MapRequest) (*mapping.Program, error) {
	switch {
	case req.Jq != "":
		p, err := mapping.Compile(req.Jq, mapping.Options{Variables: plan.DatasetVariables})
		if err != nil {
			return nil, nil // reported as a compile error by the caller
		}
		return p, nil
	case req.Mapping != "":
		m := b.rt.library()[req.Mapping]
		switch {
		case m == nil:
			return nil, fmt.Errorf("mapping %q: %w", req.Mapping, statuspage.ErrNotFound)
		case m.Kind != plan.DatasetMapping:
			return nil, fmt.Errorf("mapping %q is a %s mapping, not a dataset's: %w", req.Mapping, m.Kind, statuspage.ErrInvalid)
		}
		return m.Program, nil
	}
	return d.Mapping, nil
}

func (b statusBackend) Mappings() []statuspage.Mapping {
	var out []statuspage.Mapping
	for name, m := range b.rt.library() {
		sm := statuspage.Mapping{Name: name, Kind: string(m.Kind)}
		if m.Program != nil {
			sm.Jq = m.Program.Source()
		}
		out = append(out, sm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// library is the source's mapping library, if it gives one.
func (rt *Runtime) library() plan.Library {
	if rt.setup.Library == nil {
		return nil
	}
	return rt.setup.Library()
}
