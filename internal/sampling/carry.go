package sampling

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strconv"
	"time"

	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/plan"
)

// State keeps what a dataset's samples carry over across restarts: the
// window, the cursor, the keys of deduplication and the last published
// values. The connector's is a folder standalone (internal/statefile) and
// the broker state store in Akri mode.
type State interface {
	// Load returns what Save last kept under key, nil when nothing was.
	Load(ctx context.Context, key string) ([]byte, error)
	// Save keeps value under key. It may keep it later, in the order of
	// the calls: the last value of a key wins.
	Save(key string, value []byte)
}

// carried is what a dataset's samples carry from one to the next. Its JSON
// is what State keeps.
type carried struct {
	Previous    time.Time      `json:"previous,omitzero"` // the last successful sample's time
	Cursor      *string        `json:"cursor,omitempty"`
	Keys        []string       `json:"keys,omitempty"` // of deduplication, oldest first
	Last        map[string]any `json:"last,omitempty"` // last published values by data point ("" for a whole message)
	LastPublish time.Time      `json:"lastPublish,omitzero"`

	seen map[string]bool // Keys, as a set
}

// stateKey names a dataset's state.
func stateKey(ds *plan.Dataset) string { return ds.Asset + "/" + ds.Name }

// loadState reads the dataset's state once, at the first sample. A state
// that cannot be read or decoded is reported and ignored.
func (s *Sampler) loadState(ctx context.Context) {
	s.stateOnce.Do(func() {
		if s.opts.State == nil || !s.ds.Stateful() {
			return
		}
		b, err := s.opts.State.Load(ctx, stateKey(s.ds))
		if err == nil && b != nil {
			var c carried
			if err = json.Unmarshal(b, &c); err == nil {
				c.index()
				s.carry = c
				return
			}
		}
		if err != nil {
			s.logger().Warn().Err(err).Msg("dataset state cannot be read; starting afresh")
		}
	})
}

func (c *carried) index() {
	c.seen = make(map[string]bool, len(c.Keys))
	for _, k := range c.Keys {
		c.seen[k] = true
	}
}

// outcome is what a sample would carry over if its messages are accepted.
// A sampler has one, reused by each sample (samples of a dataset never
// overlap).
type outcome struct {
	now     time.Time
	cursor  *string
	keys    []string       // new deduplication keys
	values  map[string]any // the values compared by report by exception (the sampler's scratch)
	publish bool           // report by exception lets the sample through
}

// outcome is the sampler's outcome, reset for a sample at now.
func (s *Sampler) outcome(now time.Time, publish bool) *outcome {
	s.out = outcome{now: now, publish: publish, values: s.out.values}
	return &s.out
}

// decidesEarly reports whether report by exception can decide before the
// messages are built: on the data points' values, without a dataset
// mapping between them and the message.
func (s *Sampler) decidesEarly() bool {
	return s.reports() && len(s.ds.Points) > 0 && s.ds.Mapping == nil && s.ds.Cursor == nil
}

// commit keeps what a sample whose messages were accepted carries over.
func (s *Sampler) commit(o *outcome) {
	if o == nil {
		return
	}
	c := &s.carry
	c.Previous = o.now
	if o.cursor != nil {
		c.Cursor = o.cursor
	}
	if d := s.ds.Dedup; d != nil && len(o.keys) > 0 {
		if c.seen == nil {
			c.index()
		}
		for _, k := range o.keys {
			c.Keys = append(c.Keys, k)
			c.seen[k] = true
		}
		if extra := len(c.Keys) - d.Keep; extra > 0 {
			for _, k := range c.Keys[:extra] {
				delete(c.seen, k)
			}
			c.Keys = append([]string(nil), c.Keys[extra:]...)
		}
	}
	if o.publish && o.values != nil {
		c.Last, c.LastPublish = maps.Clone(o.values), o.now
	}
	if s.opts.State != nil && s.ds.Stateful() {
		b, err := json.Marshal(c)
		if err == nil {
			s.opts.State.Save(stateKey(s.ds), b)
		}
	}
}

// dedup drops the messages whose key was published before, and returns the
// keys of those it keeps. Messages are in destination order, so that each
// payload comes len(targets) times in a row.
func (s *Sampler) dedup(ctx context.Context, msgs []*mqttclient.Message) ([]*mqttclient.Message, []string, error) {
	d := s.ds.Dedup
	if d == nil || len(msgs) == 0 {
		return msgs, nil, nil
	}
	step := max(len(s.ds.Targets), 1)
	var keep []*mqttclient.Message
	var keys []string
	batch := map[string]bool{}
	for i := 0; i < len(msgs); i += step {
		var v any
		if err := json.Unmarshal(msgs[i].Payload, &v); err != nil {
			return nil, nil, fmt.Errorf("dedup: %w", err)
		}
		out, err := d.Key.One(ctx, v)
		if err != nil {
			return nil, nil, &mappingError{fmt.Errorf("dedup key: %w", err)}
		}
		k := keyText(out)
		if s.carry.seen[k] || batch[k] {
			s.c.Duplicates.Add(1)
			s.st.duplicates.Add(1)
			continue
		}
		batch[k] = true
		keys = append(keys, k)
		keep = append(keep, msgs[i:min(i+step, len(msgs))]...)
	}
	return keep, keys, nil
}

func keyText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// reported decides whether a sample is published under report by
// exception: values are the sample's (by data point, or "" for the whole
// message of a dataset without data points).
func (s *Sampler) reported(values map[string]any, now time.Time) bool {
	c := &s.carry
	if c.Last == nil {
		return true // nothing published yet
	}
	if hb := s.heartbeat(); hb > 0 && now.Sub(c.LastPublish) >= hb {
		return true
	}
	for name, v := range values {
		rule := s.rule(name)
		if rule == nil {
			continue
		}
		if moved(c.Last[name], v, rule) {
			return true
		}
	}
	return false
}

// rule is a data point's report rule, or the dataset's.
func (s *Sampler) rule(name string) *plan.Report {
	for _, p := range s.ds.Points {
		if p.Name == name && p.Report != nil {
			return p.Report
		}
	}
	return s.ds.Report
}

// heartbeat is the shortest heartbeat of the dataset's rules.
func (s *Sampler) heartbeat() time.Duration {
	hb := time.Duration(0)
	take := func(r *plan.Report) {
		if r != nil && r.Heartbeat > 0 && (hb == 0 || r.Heartbeat < hb) {
			hb = r.Heartbeat
		}
	}
	take(s.ds.Report)
	for _, p := range s.ds.Points {
		take(p.Report)
	}
	return hb
}

// reports reports whether the dataset has report by exception.
func (s *Sampler) reports() bool {
	if s.ds.Report.Active() {
		return true
	}
	for _, p := range s.ds.Points {
		if p.Report.Active() {
			return true
		}
	}
	return false
}

// moved reports whether v differs from last as the rule says: numbers by
// their deadbands, anything else by any change; objects and arrays member
// by member.
func moved(last, v any, r *plan.Report) bool {
	if !r.Active() {
		return false
	}
	a, aok := number(last)
	b, bok := number(v)
	if aok && bok {
		switch {
		case r.Deadband > 0 && math.Abs(b-a) > r.Deadband:
			return true
		case r.Percent > 0 && math.Abs(b-a) > math.Abs(a)*r.Percent/100:
			return true
		case r.OnChange && a != b:
			return true
		}
		return false
	}
	switch lv := last.(type) {
	case map[string]any:
		vm, ok := v.(map[string]any)
		if !ok || len(vm) != len(lv) {
			return true
		}
		for k, x := range lv {
			y, ok := vm[k]
			if !ok || moved(x, y, r) {
				return true
			}
		}
		return false
	case []any:
		va, ok := v.([]any)
		if !ok || len(va) != len(lv) {
			return true
		}
		for i := range lv {
			if moved(lv[i], va[i], r) {
				return true
			}
		}
		return false
	}
	lb, _ := json.Marshal(last)
	vb, _ := json.Marshal(v)
	return !bytes.Equal(lb, vb)
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case string:
		return 0, false
	case int:
		return float64(v), true
	}
	return 0, false
}

// carries reports whether the dataset's samples carry something over, or
// give their messages a time of their own.
func (s *Sampler) carries() bool { return s.carrying }

func carries(ds *plan.Dataset) bool {
	return dynamic(ds) || ds.Stateful() || ds.RecordTime != nil || ds.Dedup != nil
}

// carried completes a sample that carries something over: the messages'
// times, deduplication, report by exception and the next cursor. It returns
// the outcome to commit once the messages are accepted.
func (sm *sample) carried(now time.Time, input any, msgs []*mqttclient.Message) (*outcome, []*mqttclient.Message, error) {
	s := sm.s
	out := s.outcome(now, true)
	if c := s.ds.Cursor; c != nil {
		in, err := sm.decodedInput(input)
		if err != nil {
			return nil, nil, err
		}
		vals, err := c.JQ.Run(sm.mctx, in)
		if err != nil {
			return nil, nil, &mappingError{fmt.Errorf("cursor jq: %w", err)}
		}
		if len(vals) > 0 && vals[len(vals)-1] != nil {
			text := keyText(vals[len(vals)-1])
			out.cursor = &text
		}
	}
	for _, m := range msgs {
		m.Time = now
	}
	if err := sm.recordTimes(msgs); err != nil {
		return nil, nil, err
	}
	msgs, keys, err := s.dedup(sm.mctx, msgs)
	if err != nil {
		return nil, nil, err
	}
	out.keys = keys
	switch {
	case s.decidesEarly():
		out.values = sm.pointValues() // decided already: these let it through
	case s.reports() && len(s.ds.Points) > 0:
		// The data points' values, whatever the mapping makes of them:
		// the rules are theirs (a dataset rule is each one's default).
		out.values = sm.pointValues()
		out.publish = s.reported(out.values, now)
	case s.reports():
		out.values = sm.messageValues(msgs)
		out.publish = s.reported(out.values, now)
	}
	return out, msgs, nil
}

// decodedInput is the sample's input decoded: input itself, or the values
// the raw path copied.
func (sm *sample) decodedInput(input any) (any, error) {
	if input != nil {
		return input, nil
	}
	return sm.decoded()
}

// recordTimes sets each message's time from the dataset's recordTime.
func (sm *sample) recordTimes(msgs []*mqttclient.Message) error {
	jq := sm.s.ds.RecordTime
	if jq == nil {
		return nil
	}
	step := max(len(sm.s.ds.Targets), 1)
	for i := 0; i < len(msgs); i += step {
		var v any
		if err := json.Unmarshal(msgs[i].Payload, &v); err != nil {
			return fmt.Errorf("recordTime: %w", err)
		}
		out, err := jq.One(sm.mctx, v)
		if err != nil {
			return &mappingError{fmt.Errorf("recordTime: %w", err)}
		}
		t, err := parseTime(out)
		if err != nil {
			return fmt.Errorf("recordTime: %w", err)
		}
		for _, m := range msgs[i:min(i+step, len(msgs))] {
			m.Time = t
		}
	}
	return nil
}

// parseTime reads a record's time: RFC 3339 text, or Unix seconds (or
// milliseconds, from 1e11 on) as a number.
func parseTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case string:
		return time.Parse(time.RFC3339Nano, v)
	case float64:
		if v >= 1e11 {
			return time.UnixMilli(int64(v)).UTC(), nil
		}
		sec, frac := math.Modf(v)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("want RFC 3339 text or Unix seconds, got %s", keyText(v))
}

// messageValues are the values report by exception compares for a
// dataset without data points: its messages'.
func (sm *sample) messageValues(msgs []*mqttclient.Message) map[string]any {
	s := sm.s
	out := s.scratchValues()
	var all []any
	step := max(len(s.ds.Targets), 1)
	for i := 0; i < len(msgs); i += step {
		var v any
		_ = json.Unmarshal(msgs[i].Payload, &v)
		all = append(all, v)
	}
	if len(all) == 1 {
		out[""] = all[0]
	} else {
		out[""] = all
	}
	return out
}

// pointValues are the data points' values, as report by exception compares
// them (numbers as float64).
func (sm *sample) pointValues() map[string]any {
	s := sm.s
	out := s.scratchValues()
	for i, p := range s.ds.Points {
		v := sm.sc.values[i]
		switch {
		case v.raw != nil:
			out[p.Name] = rawValue(v.raw)
		default:
			out[p.Name] = normalize(v.v)
		}
	}
	return out
}

// scratchValues is the sampler's map of values, emptied.
func (s *Sampler) scratchValues() map[string]any {
	if s.out.values == nil {
		s.out.values = map[string]any{}
	}
	clear(s.out.values)
	return s.out.values
}

// rawValue decodes a value's JSON text: a number at once, anything else
// through encoding/json.
func rawValue(b []byte) any {
	if len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9') {
		if f, err := strconv.ParseFloat(string(b), 64); err == nil {
			return f
		}
	}
	var v any
	_ = json.Unmarshal(b, &v)
	return v
}

// normalize is v as JSON decodes it, so that it compares with a value
// read back from the state.
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var x any
	_ = json.Unmarshal(b, &x)
	return x
}
