// Package statestorefake is an in-process test double of the AIO broker state
// store (DSS) executor. It subscribes to statestore.RequestTopic on a broker,
// checks each request as the real executor does (AIO RPC headers, RESP3
// payload, known command, __ts), runs SET (NX, NEX, PX, fencing tokens),
// GET, DEL, VDEL and KEYNOTIFY on an in-memory map whose expiry follows an
// injected clock, answers per the AIO RPC rules, sends KEYNOTIFY
// notifications, records every call and can inject faults.
//
// What the fake cannot know from the SDK sources is marked as an assumption
// where it is implemented: which -ERR text answers which malformed request,
// how fencing tokens protect a key, and how KEYNOTIFY identifies the client
// (the fake uses the request's __srcId; the real broker knows the MQTT
// client id).
package statestorefake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/statestore"
	"github.com/http-connector/http-connector/internal/testing/rpcdouble"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// Options configure the fake.
type Options struct {
	// ClientID is the fake's own MQTT client id, sent as __srcId of its
	// notifications and used as its HLC node id; default "statestore".
	ClientID string
	// Now is the clock of key expiry, of the response versions (__ts) and
	// of the request timestamp checks; default time.Now. A test clock should
	// start at time.Now(): requests stamped more than a minute after it are
	// refused as clock skew, as the real state store does.
	Now    func() time.Time
	Logger zerolog.Logger
}

// Fault makes the fake answer the next Times requests of a command (or of
// any command) differently.
type Fault struct {
	Times int // at least 1
	// Drop sends no response at all (the invoker times out).
	Drop bool
	// Status, if not 0, is sent as __stat (with Message as __stMsg) and an
	// empty payload.
	Status  int
	Message string
	// Error, if set, answers "-ERR <Error>" with __stat 200 without running
	// the command.
	Error string
}

// Call is one request the fake received.
type Call struct {
	// Command is the upper-cased command name; "" when the payload is not a
	// RESP3 array of blob strings.
	Command string
	Args    [][]byte // the arguments after the command name
	Request mqttclient.Message
	// Status is the __stat answered, 0 when no response was sent.
	Status   int
	Response []byte // the response payload
}

type entry struct {
	value   []byte
	expires time.Time         // zero: never
	fence   *aiorpc.Timestamp // the fencing token that last wrote the key
}

type notifyKey struct{ client, key string }

// Fake is a running state store double.
type Fake struct {
	client *mqttclient.Client
	clock  *aiorpc.Clock
	now    func() time.Time
	log    zerolog.Logger
	id     string

	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool

	store      map[string]*entry
	notify     map[notifyKey]bool
	faults     map[string][]Fault // by command; "" for any
	replies    rpcdouble.Replies
	calls      []Call
	sent       []mqttclient.Message // notifications
	violations []string
	changes    wait.Changes
}

// Start serves the state store on client's broker. client must be connected
// and is owned by the caller; call Close before closing it.
func Start(ctx context.Context, client *mqttclient.Client, opts Options) (*Fake, error) {
	if opts.ClientID == "" {
		opts.ClientID = "statestore"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	f := &Fake{
		client: client,
		clock:  aiorpc.NewClockAt(opts.ClientID, opts.Now),
		now:    opts.Now,
		log:    opts.Logger,
		id:     opts.ClientID,
		store:  make(map[string]*entry),
		notify: make(map[notifyKey]bool),
		faults: make(map[string][]Fault),
	}
	if err := client.Subscribe(ctx, statestore.RequestTopic, 1, f.onRequest); err != nil {
		return nil, fmt.Errorf("state store fake: %w", err)
	}
	return f, nil
}

// Close stops answering and waits for requests being answered.
func (f *Fake) Close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.wg.Wait()
}

// touch wakes Wait.
func (f *Fake) touch() { f.changes.Touch() }

// Wait blocks until cond returns true, re-checking whenever the fake records
// something, or until ctx ends.
func (f *Fake) Wait(ctx context.Context, cond func() bool) error {
	if err := f.changes.Wait(ctx, cond); err != nil {
		return fmt.Errorf("state store fake: %w", err)
	}
	return nil
}

// Inject queues a fault for the next requests of command ("SET", ...), or of
// any command when command is "".
func (f *Fake) Inject(command string, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	command = strings.ToUpper(command)
	f.faults[command] = append(f.faults[command], fault)
}

// Calls returns the requests received for command, or all when command is
// empty, in arrival order.
func (f *Fake) Calls(command string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Call
	for _, c := range f.calls {
		if command == "" || c.Command == command {
			out = append(out, c)
		}
	}
	return out
}

// Notifications returns the KEYNOTIFY notifications published, in order.
func (f *Fake) Notifications() []mqttclient.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

// Violations returns every deviation from the invoker conventions that the
// fake tolerated or answered with an error.
func (f *Fake) Violations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.violations)
}

func (f *Fake) violation(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.violations = append(f.violations, fmt.Sprintf(format, args...))
	f.touch()
}

// Value returns the stored value of key, honouring expiry.
func (f *Fake) Value(key []byte) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.store[string(key)]
	if !ok || e.expired(f.now()) {
		return nil, false
	}
	return slices.Clone(e.value), true
}

// Put stores a value as if set earlier without a fencing token, expiring
// after expiresIn if positive. It sends no notifications.
func (f *Fake) Put(key, value []byte, expiresIn time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := &entry{value: slices.Clone(value)}
	if expiresIn > 0 {
		e.expires = f.now().Add(expiresIn)
	}
	f.store[string(key)] = e
	f.touch()
}

// Expire deletes the keys whose expiry has passed on the fake's clock and
// sends their DELETE notifications. Requests do the same before they run,
// so tests only need this for notifications without a next request.
func (f *Fake) Expire(ctx context.Context) error {
	f.mu.Lock()
	out := f.sweep()
	f.touch()
	f.mu.Unlock()
	return f.send(ctx, out)
}

func (e *entry) expired(now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

func (f *Fake) onRequest(m mqttclient.Message) {
	arrived := time.Now()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.wg.Add(1)
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		f.serve(m, arrived)
	}()
}

// serve answers one request. The call is recorded before the response is
// sent, so a client that got its answer finds its call recorded.
func (f *Fake) serve(m mqttclient.Message, arrived time.Time) {
	call := Call{Request: m}
	if args, err := parseCommand(m.Payload); err == nil && len(args) > 0 {
		call.Command, call.Args = strings.ToUpper(string(args[0])), args[1:]
	}
	out, notes := f.answer(&call, arrived)
	if out != nil {
		call.Status = rpcdouble.Status(out)
		call.Response = out.Payload
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.touch()
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Notifications go first, so that a client holding the answer knows
	// they were published.
	if err := f.send(ctx, notes); err != nil {
		f.log.Warn().Err(err).Msg("state store fake could not notify")
	}
	if out != nil {
		if err := f.client.Publish(ctx, out); err != nil {
			f.log.Warn().Err(err).Str("topic", out.Topic).Msg("state store fake could not respond")
		}
	}
}

// answer returns the response to send (nil for none) and the notifications
// the request caused.
func (f *Fake) answer(call *Call, arrived time.Time) (*mqttclient.Message, []*mqttclient.Message) {
	m := call.Request
	if m.ResponseTopic == "" || strings.ContainsAny(m.ResponseTopic, "+#") ||
		strings.HasPrefix(m.ResponseTopic, statestore.RequestTopic) ||
		strings.HasPrefix(m.ResponseTopic, statestore.NotifyTopicPrefix) {
		// The state store documents these response topics as not allowed;
		// with none valid there is nowhere to answer.
		f.violation("%s: response topic %q missing or not allowed; request dropped", m.Topic, m.ResponseTopic)
		return nil, nil
	}
	if m.QoS != 1 {
		f.violation("%s: request QoS %d, want 1", m.Topic, m.QoS)
	}
	f.checkRequestProperties(m)

	dup, isDup := f.replies.Replayed(m)
	if isDup {
		return rpcdouble.Address(m, dup, arrived), nil
	}

	resp, notes := f.handle(call)
	if resp == nil {
		return nil, nil
	}
	rpcdouble.Stamp(resp, f.clock.Now())
	f.replies.Keep(m, resp, arrived)
	return rpcdouble.Address(m, resp, arrived), notes
}

// checkRequestProperties records deviations from the invoker conventions
// that the executor tolerates.
func (f *Fake) checkRequestProperties(m mqttclient.Message) {
	for _, p := range []string{aiorpc.PropSourceID, aiorpc.PropTimestamp, aiorpc.PropProtocolVersion} {
		if _, ok := m.Property(p); !ok {
			f.violation("%s: no %s user property", m.Topic, p)
		}
	}
	if v, ok := m.Property(aiorpc.PropHighPriority); !ok || v != "" {
		f.violation("%s: $high_priority user property missing or not empty", m.Topic)
	}
	if m.UTF8Payload {
		f.violation("%s: payload format indicator 1 on a raw RESP3 payload (DTDL raw/0)", m.Topic)
	}
}

// respResponse is a 200 response with a raw RESP3 payload and, like the
// request, no content type.
func respResponse(payload []byte) *mqttclient.Message {
	m := rpcdouble.StatusResponse(200)
	m.Payload = payload
	return m
}

// handle checks the RPC headers like the real executor, applies faults and
// runs the command; a nil response means none.
func (f *Fake) handle(call *Call) (*mqttclient.Message, []*mqttclient.Message) {
	// What the SDKs' raw serializers accept.
	raw := func(ct string) bool {
		return ct == "application/octet-stream" || strings.HasPrefix(ct, "application/octet-stream;")
	}
	if refused := rpcdouble.CheckHeaders(call.Request, raw); refused != nil {
		return refused, nil
	}

	if fault := f.takeFault(call.Command); fault != nil {
		switch {
		case fault.Drop:
			return nil, nil
		case fault.Error != "":
			return respResponse(errorPayload(fault.Error)), nil
		default:
			return rpcdouble.StatusResponse(fault.Status, aiorpc.PropStatusMessage, fault.Message), nil
		}
	}
	payload, notes := f.execute(call)
	return respResponse(payload), notes
}

func (f *Fake) takeFault(command string) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range []string{command, ""} {
		if q := f.faults[c]; len(q) > 0 {
			fl := q[0]
			if q[0].Times--; q[0].Times <= 0 {
				f.faults[c] = q[1:]
			}
			return &fl
		}
	}
	return nil
}
