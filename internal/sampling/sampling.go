// Package sampling performs one sample of a dataset: it makes the dataset's
// distinct HTTP requests, takes each data point's value from its response,
// builds the dataset message (by default an object keyed by data point name,
// or what the dataset's jq makes of it) and publishes it to every
// destination. Failures are logged when the dataset's state changes, not on
// every tick.
package sampling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/format"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/placeholder"
	"github.com/http-connector/http-connector/internal/plan"
)

// Publisher sends messages to the broker.
type Publisher interface {
	Publish(ctx context.Context, m *mqttclient.Message) error
}

// Counters are shared, connector-wide totals.
type Counters struct {
	Samples       atomic.Int64 // samples started
	Failures      atomic.Int64 // samples that failed (request, value, mapping or publish)
	Messages      atomic.Int64 // messages handed to the publisher successfully
	PublishErrors atomic.Int64
	Filtered      atomic.Int64 // samples whose mapping produced no message
	Requests      atomic.Int64 // HTTP requests made
	Panics        atomic.Int64
	Retries       atomic.Int64 // HTTP requests made again after a failure
	Skipped       atomic.Int64 // ticks skipped because the device keeps failing
	Suppressed    atomic.Int64 // samples report by exception did not publish
	Duplicates    atomic.Int64 // messages deduplication dropped
}

// DefaultMappingTimeout bounds the jq evaluations of one sample when
// Options.MappingTimeout is not set.
const DefaultMappingTimeout = time.Second

// Options configure a Sampler.
type Options struct {
	Logger   zerolog.Logger
	Counters *Counters // optional
	// Properties are user properties added to every message.
	Properties []mqttclient.UserProperty
	// Decorate, if set, is called with every message before it is
	// published (per-message properties such as CloudEvents ids).
	Decorate func(*mqttclient.Message)
	// OnStateChange, if set, is called when the dataset starts failing (err
	// non-nil) or recovers (err nil).
	OnStateChange func(err error)
	Now           func() time.Time
	// MappingTimeout bounds the time all jq evaluations of one sample may
	// take together (data point and dataset mappings); past it the sample
	// fails. Default: DefaultMappingTimeout.
	MappingTimeout time.Duration
	// Retry is the retry policy of the dataset's requests; nil means
	// fetch.DefaultRetry().
	Retry *fetch.Retry
	// MaxBackoff caps how long a failing device goes unpolled (see
	// backoff.go); 0 means DefaultMaxBackoff, negative turns backing off
	// off.
	MaxBackoff time.Duration
	// Go, if set, runs a function on another goroutine, as the go
	// statement does: a sample with several requests makes all but the
	// last through it (the connector passes its scheduler's worker pool).
	Go func(func())
	// Workspaces, if set, is shared with other samplers; nil gives the
	// sampler its own.
	Workspaces *Workspaces
	// Secrets, if set, gives the values of the ${secret:NAME} placeholders
	// of the dataset's requests before the client's own (the endpoint's).
	Secrets func(placeholder.Ref) (string, error)
	// StateStore, if set, takes the messages of BrokerStateStore
	// destinations: each is SET under its key (latest wins).
	StateStore interface {
		Set(key string, value []byte)
	}
	// Latency, if set, is told how long each answered request took (the
	// metrics' histogram).
	Latency interface{ Observe(time.Duration) }
	// State, if set, keeps what the samples carry over (a window, a
	// cursor, deduplication keys, the last published values) across
	// restarts.
	State State
}

// Sampler samples one dataset.
type Sampler struct {
	ds      *plan.Dataset
	client  *fetch.Client
	reqs    []*fetch.Request
	pub     Publisher
	opts    Options
	log     zerolog.Logger // see logger
	logOnce sync.Once
	c       *Counters
	retry   fetch.Retry
	skips   *backoff
	mapped  bool           // some jq runs in a sample
	attrs   map[string]any // $assetAttributes

	work *Workspaces

	mu        sync.Mutex
	failing   error
	since     time.Time
	failures  int
	filtering bool // the last sample's mapping produced no message

	dyn       bool      // requests rendered for each sample (see dynamic.go)
	carrying  bool      // samples carry something over (see carry.go)
	stateOnce sync.Once // loads carry
	st        stats     // the dataset's own totals (see stats.go)
	started   time.Time // when it was made
	carry     carried   // what samples carry over; samples of a dataset never overlap
	out       outcome   // the last sample's, reused
}

// New prepares a sampler; the requests are built here, once.
func New(ds *plan.Dataset, client *fetch.Client, pub Publisher, opts Options) (*Sampler, error) {
	s := &Sampler{ds: ds, client: client, pub: pub, opts: opts, c: opts.Counters}
	if s.c == nil {
		s.c = new(Counters)
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	s.started = s.opts.Now()
	if s.opts.MappingTimeout <= 0 {
		s.opts.MappingTimeout = DefaultMappingTimeout
	}
	if s.opts.Go == nil {
		s.opts.Go = func(f func()) { go f() }
	}
	s.work = s.opts.Workspaces
	if s.work == nil {
		s.work = new(Workspaces)
	}
	s.mapped = ds.Mapped()
	s.dyn, s.carrying = dynamic(ds), carries(ds)
	s.attrs = ds.AssetAttributes
	if s.attrs == nil && s.mapped {
		s.attrs = map[string]any{}
	}
	s.setupFaults()
	for _, r := range ds.Requests {
		if r.Template != nil {
			s.reqs = append(s.reqs, nil) // rendered for each sample
			continue
		}
		pr, err := client.PrepareWith(r, opts.Secrets)
		if err != nil {
			return nil, fmt.Errorf("asset %q dataset %q: %w", ds.Asset, ds.Name, err)
		}
		s.reqs = append(s.reqs, pr)
	}
	return s, nil
}

// logger is the sampler's logger, with the asset and dataset as fields. It
// is built on first use: a child logger holds a buffer of its own, which
// thousands of datasets that never log need not pay for.
func (s *Sampler) logger() *zerolog.Logger {
	s.logOnce.Do(func() {
		s.log = s.opts.Logger.With().Str("asset", s.ds.Asset).Str("dataset", s.ds.Name).Logger()
	})
	return &s.log
}

// Dataset is the plan this sampler runs.
func (s *Sampler) Dataset() *plan.Dataset { return s.ds }

// Trace records what one sample did, for `try`.
type Trace struct {
	Time     time.Time
	Requests []RequestTrace // one per page of a paged dataset
	Values   []ValueTrace
	Messages []*mqttclient.Message
	// Suppressed says why report by exception would not publish the
	// sample; empty when it would.
	Suppressed string
	Duplicates int    // messages deduplication would drop
	Cursor     string // the next sample's ${cursor}, if the dataset has one
}

// RequestTrace is one request of a traced sample.
type RequestTrace struct {
	Request     string // method and URL
	Status      int
	Elapsed     time.Duration
	ContentType string
	Body        []byte // as received (the caller truncates for display)
	Page        int    // of a paged dataset, from 1; 0 otherwise
	Format      string // the format a body that is not JSON was read as
	Parsed      any    // what such a body parsed to
	Err         error
}

// ValueTrace is one data point value of a traced sample.
type ValueTrace struct {
	Name  string
	Value any
	Err   error
}

// Sample runs one sample due at tick and publishes its messages. It never
// panics: a panic is recovered, counted and reported as a failure.
func (s *Sampler) Sample(ctx context.Context, tick time.Time) {
	if s.skipTick() {
		return
	}
	s.c.Samples.Add(1)
	s.st.samples.Add(1)
	s.st.lastSample.Store(tick.UnixNano())
	defer func() {
		if p := recover(); p != nil {
			s.c.Panics.Add(1)
			s.c.Failures.Add(1)
			s.st.failed(errors.New("panic"))
			s.logger().Error().Str("panic", fmt.Sprint(p)).Str("stack", string(debug.Stack())).Msg("sample panicked; the next tick runs again")
			s.setState(fmt.Errorf("internal error: %v", p))
		}
	}()
	s.loadState(ctx)
	msgs, out, err := s.collect(ctx)
	switch {
	case err == nil && out != nil && !out.publish:
		s.c.Suppressed.Add(1)
		s.st.suppressed.Add(1)
		s.commit(out)
	case err == nil:
		if err = s.publish(ctx, msgs); err == nil {
			s.commit(out)
		}
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return // stopping, not failing
		}
		s.c.Failures.Add(1)
		s.st.failed(err)
	}
	s.recordDevice(err)
	s.setState(err)
}

// Try runs one sample without publishing and records everything it did:
// the same steps as Sample, every value decoded.
func (s *Sampler) Try(ctx context.Context) (*Trace, error) {
	now := s.opts.Now().UTC()
	t := &Trace{Time: now}
	sm := s.begin(ctx, now)
	defer sm.end()
	s.loadState(ctx)
	var pages []RequestTrace
	if s.ds.Pages != nil {
		sm.onPage = func(r *fetch.Request, resp *fetch.Response) {
			rt := requestTrace(r.String(), resp, &response{r: resp, parser: sm.resps[0].parser})
			rt.Page = len(pages) + 1
			pages = append(pages, rt)
		}
	}
	err := sm.fetch()
	t.Requests = pages
	for i := range sm.resps {
		rs := &sm.resps[i]
		if pages != nil && rs.err == nil {
			break // the pages are the request's trace
		}
		rt := RequestTrace{Request: sm.requestName(i), Err: rs.err}
		if se := (*fetch.StatusError)(nil); errors.As(rs.err, &se) {
			rt.Status, rt.Body = se.Code, []byte(se.Snippet) // the device answered
		}
		if rs.r != nil && rs.err == nil {
			rt = requestTrace(rt.Request, rs.r, rs)
		}
		t.Requests = append(t.Requests, rt)
	}
	if err != nil {
		return t, err
	}
	if len(s.ds.Points) > 0 {
		// Every value, decoded, for the trace (Sample may copy some as
		// JSON text, which is the same by construction).
		_, err := sm.decoded()
		for i, p := range s.ds.Points {
			v := sm.sc.values[i]
			t.Values = append(t.Values, ValueTrace{Name: p.Name, Value: v.v, Err: v.err})
		}
		if err != nil {
			return t, err
		}
	}
	input, raw, err := sm.input()
	if err != nil {
		return t, err
	}
	payloads, err := sm.payloads(input, raw)
	if err != nil {
		return t, err
	}
	t.Messages = sm.messages(payloads)
	if s.carries() {
		n := len(t.Messages)
		out, msgs, err := sm.carried(now, input, t.Messages)
		if err != nil {
			return t, err
		}
		t.Messages, t.Duplicates = msgs, (n-len(msgs))/max(len(s.ds.Targets), 1)
		if out.cursor != nil {
			t.Cursor = *out.cursor
		}
		if !out.publish {
			t.Suppressed = "report by exception: no value moved past its deadband since the last publish at " + s.carry.LastPublish.Format(time.RFC3339)
		}
	}
	return t, nil
}

// requestName names request i of the sample for try: as sent, or as
// written when it could not be rendered.
func (sm *sample) requestName(i int) string {
	if r := sm.reqs[i]; r != nil {
		return r.String()
	}
	return sm.s.ds.Requests[i].Template.String()
}

// requestTrace is the trace of one answered request; a body read in
// another format than JSON comes with the value it parsed to.
func requestTrace(name string, resp *fetch.Response, rs *response) RequestTrace {
	rt := RequestTrace{Request: name, Status: resp.Status, Elapsed: resp.Elapsed, ContentType: resp.ContentType, Body: bytes.Clone(resp.Body)}
	if !rs.readsJSON() {
		rt.Format = string(rs.parser.Format())
		if rt.Format == "" {
			rt.Format = string(format.Detect(resp.ContentType))
		}
		v, err := rs.parser.Parse(resp.Body, resp.ContentType)
		if err == nil {
			rt.Parsed = v
		}
	}
	return rt
}

func (s *Sampler) publish(ctx context.Context, msgs []*mqttclient.Message) error {
	s.setFiltering(len(msgs) == 0)
	if len(msgs) == 0 {
		s.c.Filtered.Add(1)
		s.st.filtered.Add(1)
		return nil
	}
	var errs []error
	for i, m := range msgs {
		if key := s.ds.Targets[i%len(s.ds.Targets)].StoreKey; key != "" {
			if s.opts.StateStore == nil {
				errs = append(errs, fmt.Errorf("state store key %q: no state store", key))
				continue
			}
			s.opts.StateStore.Set(key, m.Payload)
			s.c.Messages.Add(1)
			s.st.messages.Add(1)
			s.st.bytesOut.Add(int64(len(m.Payload)))
			continue
		}
		if err := s.pub.Publish(ctx, m); err != nil {
			s.c.PublishErrors.Add(1)
			errs = append(errs, &publishError{fmt.Errorf("publish to %q: %w", m.Topic, err)})
			continue
		}
		s.c.Messages.Add(1)
		s.st.messages.Add(1)
		s.st.bytesOut.Add(int64(len(m.Payload)))
		s.st.lastMessage.Store(&m.Payload)
	}
	if len(errs) < len(msgs) {
		s.st.lastPublish.Store(s.opts.Now().UnixNano())
	}
	return errors.Join(errs...)
}

// setState logs and reports changes between healthy and failing.
func (s *Sampler) setState(err error) {
	s.mu.Lock()
	was := s.failing
	switch {
	case err != nil && was == nil:
		s.failing, s.since, s.failures = err, s.opts.Now(), 1
	case err != nil:
		s.failures++
		s.failing = err
	case was != nil:
		s.failing = nil
	}
	failures, since := s.failures, s.since
	s.mu.Unlock()

	switch {
	case err != nil && was == nil:
		s.logger().Warn().Err(err).Msg("dataset sampling failed")
	case err != nil && err.Error() != was.Error():
		s.logger().Debug().Err(err).Int("failed_samples", failures).Msg("dataset still failing")
	case err == nil && was != nil:
		s.logger().Info().Int("failed_samples", failures).Dur("after", s.opts.Now().Sub(since)).Msg("dataset sampling recovered")
	default:
		return
	}
	if s.opts.OnStateChange != nil && (err == nil) != (was == nil) {
		s.opts.OnStateChange(err)
	}
}

// setFiltering logs when the dataset mapping starts or stops producing no
// message: a filter, not a failure.
func (s *Sampler) setFiltering(none bool) {
	s.mu.Lock()
	was := s.filtering
	s.filtering = none
	s.mu.Unlock()
	switch {
	case none && !was:
		s.logger().Debug().Msg("dataset mapping produced no message; nothing published for this sample")
	case !none && was:
		s.logger().Debug().Msg("dataset mapping produces messages again")
	}
}

// Failing returns the error of the last sample while the dataset is failing.
func (s *Sampler) Failing() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failing
}

// response is one fetched response and its parsed value, parsed lazily.
type response struct {
	r       *fetch.Response
	err     error
	sent    bool          // sent by fetch.Client.Send; its response is read by Receive
	pending fetch.Pending // when sent
	parsed  any
	perr    error
	done    bool
	raw     rawBody
	parser  *format.Parser // the request's, or detection by Content-Type
	paged   bool           // parsed holds the records of every page, not r's body
}

func (rs *response) value() (any, error) {
	if !rs.done {
		rs.parsed, rs.perr = rs.parser.Parse(rs.r.Body, rs.r.ContentType)
		if rs.perr != nil {
			rs.perr = &parseError{rs.perr}
		}
		rs.done = true
	}
	return rs.parsed, rs.perr
}

// rawBody is what the raw path knows of the body (see raw.go). A body read
// in another format than JSON never takes it.
func (rs *response) rawBody() *rawBody {
	if !rs.raw.checked {
		if !rs.readsJSON() {
			rs.raw = rawBody{checked: true, members: rs.raw.members}
			return &rs.raw
		}
		rs.raw.check(rs.r.Body, rs.r.ContentType)
	}
	return &rs.raw
}

// readsJSON reports whether the body is read as JSON (or as JSON when it
// looks like JSON): no format declared, json, or detection that does not
// pick another format for its Content-Type.
func (rs *response) readsJSON() bool {
	p := rs.parser
	if p.Format() == format.JSON {
		return true
	}
	if p.Format() != format.Auto {
		return false
	}
	f := format.Detect(rs.r.ContentType)
	return f == format.JSON || f == format.Auto
}

// value is a data point's value: its JSON text, or a Go value to encode
// (or the error of getting it).
type value struct {
	raw []byte
	v   any
	err error
}

// Workspaces lend samples the memory they work in and take it back, so
// that a sample allocates little and a connector with thousands of samplers
// holds only as much of it as run at once. The samplers of a connector
// share one (Options.Workspaces); the zero value is ready to use.
type Workspaces struct {
	pool sync.Pool // *scratch
	// auto reads the bodies of requests without a declared format: by
	// their Content-Type.
	autoOnce sync.Once
	auto     *format.Parser
}

// autoParser is the parser of bodies without a declared format.
func (w *Workspaces) autoParser() *format.Parser {
	w.autoOnce.Do(func() {
		w.auto, _ = format.New(format.Auto, format.Options{}) // never fails without options
	})
	return w.auto
}

// scratch is the memory one sample works in.
type scratch struct {
	sample   sample
	reqs     []*fetch.Request
	resps    []response
	values   []value
	payloads [][]byte
	out      []byte
}

func (w *Workspaces) get() *scratch {
	if sc, ok := w.pool.Get().(*scratch); ok {
		return sc
	}
	return &scratch{}
}

func (w *Workspaces) put(sc *scratch) {
	for i := range sc.resps {
		members := sc.resps[i].raw.members[:0]
		sc.resps[i] = response{raw: rawBody{members: members}}
	}
	clear(sc.values)
	clear(sc.reqs)
	clear(sc.payloads[:cap(sc.payloads)])
	sc.sample = sample{}
	if cap(sc.out) > 64<<10 {
		sc.out = nil
	}
	w.pool.Put(sc)
}

// fetchAll makes the sample's requests. Those the client can send at once
// (plain http on a free connection: fetch.Client.Send) are all sent first
// and their responses read after, so that they are in flight together on
// this goroutine; the other plain-http ones follow on this goroutine, as
// connections free up. The rest (https, redirected) run on other
// goroutines (Options.Go), but one on this goroutine if it has nothing
// else to do.
func (s *Sampler) fetchAll(ctx context.Context, resps []response) {
	busy := false // this goroutine has requests of its own to make
	for i, r := range s.reqs {
		resps[i].sent = s.client.Send(ctx, r, &resps[i].pending)
		busy = busy || r.Direct()
	}
	inline := -1
	var wg sync.WaitGroup
	for i, r := range s.reqs {
		if r.Direct() {
			continue
		}
		if !busy {
			busy, inline = true, i
			continue
		}
		wg.Add(1)
		s.opts.Go(func() {
			defer wg.Done()
			resps[i].r, resps[i].err = s.client.DoRetry(ctx, r, s.retry)
		})
	}
	for i := range resps {
		if resps[i].sent {
			resps[i].r, resps[i].err = s.client.Receive(ctx, &resps[i].pending, s.retry)
			resps[i].sent = false
		}
	}
	for i, r := range s.reqs {
		if r.Direct() && resps[i].r == nil && resps[i].err == nil {
			resps[i].r, resps[i].err = s.client.DoRetry(ctx, r, s.retry)
		}
	}
	if inline >= 0 {
		resps[inline].r, resps[inline].err = s.client.DoRetry(ctx, s.reqs[inline], s.retry)
	}
	wg.Wait()
}

// collect makes one sample's requests and builds its messages.
func (s *Sampler) collect(ctx context.Context) ([]*mqttclient.Message, *outcome, error) {
	var now time.Time
	carries := s.carries()
	if s.mapped || carries {
		now = s.opts.Now().UTC() // $timestamp, for jq
	}
	sm := s.begin(ctx, now)
	defer sm.end()
	if err := sm.fetch(); err != nil {
		return nil, nil, err
	}
	input, raw, err := sm.input()
	if err != nil {
		return nil, nil, err
	}
	if carries && s.decidesEarly() && !s.reported(sm.pointValues(), now) {
		// Suppressed before any message is built.
		return nil, s.outcome(now, false), nil
	}
	payloads, err := sm.payloads(input, raw)
	if err != nil {
		return nil, nil, err
	}
	msgs := sm.messages(payloads)
	if !carries {
		return msgs, nil, nil
	}
	out, msgs, err := sm.carried(now, input, msgs)
	return msgs, out, err
}

// sample is one sample in progress: its responses and the memory it works
// in, lent by the Workspaces.
type sample struct {
	s      *Sampler
	reqs   []*fetch.Request // the sample's: the sampler's, rendered for it if dynamic
	vars   plan.Vars        // the values of its placeholders, if dynamic
	onPage func(*fetch.Request, *fetch.Response)
	ctx    context.Context // the sample's
	rctx   context.Context // its requests', under the dataset's timeout
	mctx   context.Context // its jq evaluations', under the mapping timeout
	stamp  string          // $timestamp
	sc     *scratch
	resps  []response
	// cancelR and cancelM end rctx and mctx (cancelM may be nil).
	cancelR, cancelM context.CancelFunc
}

func (s *Sampler) begin(ctx context.Context, now time.Time) *sample {
	sc := s.work.get()
	sm := &sc.sample // in the pooled memory: a sample allocates no state of its own
	*sm = sample{s: s, ctx: ctx, mctx: ctx, sc: sc}
	if s.mapped && !now.IsZero() {
		sm.stamp = now.Format("2006-01-02T15:04:05.000Z07:00")
	}
	sm.rctx, sm.cancelR = context.WithTimeout(ctx, s.ds.Timeout)
	if s.mapped || s.carrying {
		// One deadline bounds every jq evaluation of the sample.
		sm.mctx, sm.cancelM = context.WithTimeout(ctx, s.opts.MappingTimeout)
	}
	if cap(sm.sc.resps) < len(s.reqs) {
		sm.sc.resps = make([]response, len(s.reqs))
	}
	sm.resps = sm.sc.resps[:len(s.reqs)]
	sm.reqs = append(sm.sc.reqs[:0], s.reqs...)
	sm.sc.reqs = sm.reqs
	if s.dyn {
		sm.vars = s.vars(now)
	}
	for i, r := range s.ds.Requests {
		sm.resps[i].parser = r.Parse.Parser
		if sm.resps[i].parser == nil {
			sm.resps[i].parser = s.work.autoParser()
		}
	}
	if n := len(s.ds.Points); cap(sm.sc.values) < n {
		sm.sc.values = make([]value, n)
	}
	return sm
}

// end releases the responses and the memory of the sample.
func (sm *sample) end() {
	for i := range sm.resps {
		if sm.resps[i].r != nil {
			sm.resps[i].r.Release()
		}
	}
	sm.cancelR()
	if sm.cancelM != nil {
		sm.cancelM()
	}
	sm.s.work.put(sm.sc)
}

// fetch makes the requests; a failed request is a deviceError.
func (sm *sample) fetch() error {
	s := sm.s
	if s.dyn {
		return sm.fetchDynamic()
	}
	s.fetchAll(sm.rctx, sm.resps)
	s.c.Requests.Add(int64(len(s.reqs)))
	var errs []error
	for i := range sm.resps {
		if err := sm.resps[i].err; err != nil {
			errs = append(errs, err)
		}
		s.observe(sm.resps[i].r)
	}
	if len(errs) > 0 {
		return &deviceError{errors.Join(errs...)}
	}
	return nil
}

// input is what the message is built from: raw, the message's JSON as it
// is, when nothing needs building (no jq, and the values' JSON text can be
// copied from the responses), else the decoded input of the dataset
// mapping or of the encoder.
func (sm *sample) input() (input any, raw []byte, err error) {
	s, ds := sm.s, sm.s.ds
	if ds.Mapping != nil {
		input, err = sm.decoded()
		return input, nil, err
	}
	if len(ds.Points) == 0 {
		rs := &sm.resps[0]
		if rb := rs.rawBody(); rb.ok && rb.body[0] != '"' {
			return nil, rb.body, nil // JSON other than a string: published as it is
		}
		v, err := rs.value()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", sm.reqs[0], err)
		}
		if _, isString := v.(string); !isString && rs.readsJSON() && !rs.paged {
			return nil, bytes.TrimSpace(rs.r.Body), nil
		}
		return v, nil, nil
	}
	values := sm.sc.values[:len(ds.Points)]
	var errs []error
	for i, p := range ds.Points {
		rs := &sm.resps[p.Request]
		if p.Mapping == nil {
			if b, ok := rs.rawBody().value(p.Name); ok {
				values[i].raw = b
				continue
			}
		}
		values[i].v, values[i].err = s.pointValue(sm.mctx, p, rs, sm.stamp)
		if values[i].err != nil {
			errs = append(errs, fmt.Errorf("data point %q: %w", p.Name, values[i].err))
		}
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	b, err := encodeObject(sm.sc.out[:0], ds.Points, values)
	sm.sc.out = b
	return nil, b, err
}

// decoded is the input with every value decoded, none copied as JSON text:
// the object of data point values, or the one response's value. Each
// value and its error stay in the scratch values.
func (sm *sample) decoded() (any, error) {
	s, ds := sm.s, sm.s.ds
	if len(ds.Points) == 0 {
		v, err := sm.resps[0].value()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sm.reqs[0], err)
		}
		return v, nil
	}
	values := sm.sc.values[:len(ds.Points)]
	var errs []error
	obj := make(map[string]any, len(values))
	for i, p := range ds.Points {
		values[i].v, values[i].err = s.pointValue(sm.mctx, p, &sm.resps[p.Request], sm.stamp)
		if values[i].err != nil {
			errs = append(errs, fmt.Errorf("data point %q: %w", p.Name, values[i].err))
			continue
		}
		obj[p.Name] = values[i].v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return obj, nil
}

// payloads are the messages' payloads: raw as it is, the input encoded, or
// what the dataset mapping makes of it, one payload per output.
func (sm *sample) payloads(input any, raw []byte) ([][]byte, error) {
	s, ds := sm.s, sm.s.ds
	out := sm.sc.payloads[:0] // the list is the scratch's; the payloads are the messages'
	defer func() { sm.sc.payloads = out[:0] }()
	switch {
	case raw != nil:
		out = append(out, bytes.Clone(raw))
		return out, nil
	case ds.Mapping == nil:
		b, err := encode(input)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		return out, nil
	}
	outs, err := ds.Mapping.Run(sm.mctx, input, ds.Asset, ds.Name, sm.stamp, s.attrs)
	if err != nil {
		if ds.MappingName != "" {
			return nil, &mappingError{fmt.Errorf("mapping %q: %w", ds.MappingName, s.timeLimit(sm.mctx, err))}
		}
		return nil, &mappingError{fmt.Errorf("dataset jq: %w", s.timeLimit(sm.mctx, err))}
	}
	for _, o := range outs {
		b, err := encode(o)
		if err != nil {
			return nil, &mappingError{fmt.Errorf("dataset jq output: %w", err)}
		}
		out = append(out, b)
	}
	return out, nil
}

// messages are the payloads to every destination.
func (sm *sample) messages(payloads [][]byte) []*mqttclient.Message {
	s, ds := sm.s, sm.s.ds
	msgs := make([]*mqttclient.Message, 0, len(payloads)*len(ds.Targets))
	for _, p := range payloads {
		for _, t := range ds.Targets {
			m := &mqttclient.Message{
				Topic:          t.Topic,
				Payload:        p,
				QoS:            t.QoS,
				Retain:         t.Retain,
				MessageExpiry:  t.Expiry,
				ContentType:    "application/json",
				UTF8Payload:    true,
				UserProperties: s.opts.Properties,
			}
			if s.opts.Decorate != nil {
				s.opts.Decorate(m)
			}
			msgs = append(msgs, m)
		}
	}
	return msgs
}

func (s *Sampler) pointValue(ctx context.Context, p *plan.Point, rs *response, stamp string) (any, error) {
	v, err := rs.value()
	if err != nil {
		return nil, err
	}
	if p.Mapping != nil {
		v, err := p.Mapping.One(ctx, v, s.ds.Asset, s.ds.Name, p.Name, stamp, s.attrs)
		switch {
		case err != nil && p.MappingName != "":
			return nil, &mappingError{fmt.Errorf("mapping %q: %w", p.MappingName, s.timeLimit(ctx, err))}
		case err != nil:
			return nil, &mappingError{s.timeLimit(ctx, err)}
		}
		return v, nil
	}
	if m, ok := v.(map[string]any); ok {
		if member, ok := m[p.Name]; ok {
			return member, nil
		}
	}
	return v, nil
}

// timeLimit names the time limit in the error of a jq evaluation stopped by
// it (ctx is the sample's mapping context).
func (s *Sampler) timeLimit(ctx context.Context, err error) error {
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (the mappings of a sample may take %v)", err, s.opts.MappingTimeout)
	}
	return err
}

// Decode parses a response body as a request without a declared format
// reads it: by its Content-Type (see internal/format). JSON becomes its
// value, numbers as json.Number so that they keep their exact text; text
// becomes a string; an empty body is null.
func Decode(body []byte, contentType string) (any, error) {
	p, _ := format.New(format.Auto, format.Options{}) // never fails without options
	return p.Parse(body, contentType)
}

func looksLikeJSON(c byte) bool {
	return strings.IndexByte(`{["-0123456789tfn`, c) >= 0
}

func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode message: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// encodeObject appends {"name": value, …} in data point order to dst.
func encodeObject(dst []byte, points []*plan.Point, values []value) ([]byte, error) {
	dst = append(dst, '{')
	for i, p := range points {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, p.Key...)
		if values[i].raw != nil {
			dst = append(dst, values[i].raw...)
			continue
		}
		b := bytes.NewBuffer(dst)
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(values[i].v); err != nil {
			return dst, fmt.Errorf("data point %q: encode value: %w", p.Name, err)
		}
		dst = bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	}
	return append(dst, '}'), nil
}
