package statestorefake

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/statestore"
	"github.com/http-connector/http-connector/internal/statestore/resp3"
)

// Fixed answers, as the SDKs parse them.
var (
	respOK         = []byte("+OK\r\n")
	respNotApplied = []byte(":-1\r\n") // SET condition not met; VDEL value differs
	respNil        = []byte("$-1\r\n") // GET of a missing key
)

// maxSkew is how far in the future a request timestamp or fencing token may
// be (the state store protocol asks for clocks within a minute of the
// broker's).
const maxSkew = time.Minute

func parseCommand(payload []byte) ([][]byte, error) {
	v, err := resp3.Parse(payload)
	if err != nil {
		return nil, err
	}
	return v.BlobArray()
}

func errorPayload(text string) []byte {
	b, err := resp3.Marshal(resp3.Value{Kind: resp3.SimpleError, Str: []byte("ERR " + text)})
	if err != nil {
		// Only our own constants and Fault.Error get here.
		b = []byte("-ERR " + statestore.MsgSyntaxError + "\r\n")
	}
	return b
}

func integerPayload(n int64) []byte {
	b, _ := resp3.Marshal(resp3.Value{Kind: resp3.Integer, Int: n}) // integers always encode
	return b
}

func blobPayload(v []byte) []byte {
	b, _ := resp3.Marshal(resp3.Value{Kind: resp3.BlobString, Str: v}) // blobs always encode
	return b
}

// compareHLC orders timestamps by time, then counter, then node id.
func compareHLC(a, b aiorpc.Timestamp) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	if a.Counter != b.Counter {
		return a.Counter - b.Counter
	}
	return strings.Compare(a.Node, b.Node)
}

// execute runs the command of a request whose RPC headers are valid and
// returns the RESP3 answer and the notifications to send.
func (f *Fake) execute(call *Call) ([]byte, []*mqttclient.Message) {
	m := call.Request
	args, err := parseCommand(m.Payload)
	if err != nil || len(args) == 0 {
		return errorPayload(statestore.MsgSyntaxError), nil
	}
	now := f.now()
	if msg := timestampError(&m, now); msg != "" {
		return errorPayload(msg), nil
	}
	fence, msg := fencingToken(&m, now)
	if msg != "" {
		return errorPayload(msg), nil
	}
	client, _ := m.Property(aiorpc.PropSourceID)

	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.touch()
	notes := f.sweep()
	rest := args[1:]
	if msg := argumentsError(call.Command, rest); msg != "" {
		return errorPayload(msg), notes
	}
	var answer []byte
	var more []*mqttclient.Message
	switch call.Command {
	case "SET":
		answer, more = f.set(rest, fence, now)
	case "GET":
		answer = f.get(rest)
	case "DEL", "VDEL":
		answer, more = f.del(call.Command, rest, fence)
	default: // KEYNOTIFY
		answer = f.keyNotify(client, rest)
	}
	return answer, append(notes, more...)
}

// timestampError returns the error text when m has no valid request
// timestamp, or one too far ahead of now.
func timestampError(m *mqttclient.Message, now time.Time) string {
	ts, ok := m.Property(aiorpc.PropTimestamp)
	if !ok {
		return statestore.MsgTimestampMissing
	}
	t, err := aiorpc.ParseTimestamp(ts)
	if err != nil {
		return statestore.MsgTimestampMalformed
	}
	if t.Time.After(now.Add(maxSkew)) {
		return statestore.MsgTimestampSkew
	}
	return ""
}

// fencingToken returns the fencing token of m (nil: none), or the error
// text when it is malformed or too far ahead of now.
func fencingToken(m *mqttclient.Message, now time.Time) (*aiorpc.Timestamp, string) {
	ft, ok := m.Property(statestore.PropFencingToken)
	if !ok {
		return nil, ""
	}
	t, err := aiorpc.ParseTimestamp(ft)
	if err != nil {
		return nil, statestore.MsgTimestampMalformed
	}
	if t.Time.After(now.Add(maxSkew)) {
		return nil, statestore.MsgFencingTokenSkew
	}
	return &t, ""
}

// argumentsError returns the error text when command is unknown, or args,
// its arguments, are too few or too many or start with an empty key.
func argumentsError(command string, args [][]byte) string {
	arity := map[string][2]int{"SET": {2, math.MaxInt}, "GET": {1, 1}, "DEL": {1, 1}, "VDEL": {2, 2}, "KEYNOTIFY": {1, 2}}
	limits, known := arity[command]
	switch {
	case !known:
		return statestore.MsgUnknownCommand
	case len(args) < limits[0] || len(args) > limits[1]:
		return statestore.MsgWrongNumberOfArguments
	case len(args[0]) == 0:
		return statestore.MsgKeyLengthZero
	}
	return ""
}

// set runs SET key value [options] with fence (nil: none) at now and
// returns the answer and the notifications of the change; f.mu must be
// held.
func (f *Fake) set(args [][]byte, fence *aiorpc.Timestamp, now time.Time) ([]byte, []*mqttclient.Message) {
	key, value := args[0], args[1]
	e := f.store[string(key)]
	cond, px, ok := setOptions(args[2:])
	if !ok {
		return errorPayload(statestore.MsgSyntaxError), nil
	}
	if msg := fenced(e, fence); msg != "" {
		return errorPayload(msg), nil
	}
	switch {
	case cond == "NX" && e != nil, cond == "NEX" && e != nil && !bytes.Equal(e.value, value):
		return respNotApplied, nil
	}
	next := &entry{value: slices.Clone(value), fence: fence}
	if px > 0 {
		next.expires = now.Add(time.Duration(px) * time.Millisecond)
	}
	f.store[string(key)] = next
	return respOK, f.notes(key, notifySet(value))
}

// get runs GET key; f.mu must be held.
func (f *Fake) get(args [][]byte) []byte {
	e := f.store[string(args[0])]
	if e == nil {
		return respNil
	}
	return blobPayload(e.value)
}

// del runs DEL key or VDEL key value (command) with fence (nil: none) and
// returns the answer and the notifications of the change; f.mu must be
// held.
func (f *Fake) del(command string, args [][]byte, fence *aiorpc.Timestamp) ([]byte, []*mqttclient.Message) {
	key := args[0]
	e := f.store[string(key)]
	if e == nil {
		return integerPayload(0), nil
	}
	if command == "VDEL" && !bytes.Equal(e.value, args[1]) {
		return respNotApplied, nil
	}
	if msg := fenced(e, fence); msg != "" {
		return errorPayload(msg), nil
	}
	delete(f.store, string(key))
	return integerPayload(1), f.notes(key, notifyDelete())
}

// keyNotify runs KEYNOTIFY key [STOP] for client: it starts or stops the
// notifications of key to client; f.mu must be held.
func (f *Fake) keyNotify(client string, args [][]byte) []byte {
	stop := len(args) == 2
	if stop && !strings.EqualFold(string(args[1]), "STOP") {
		return errorPayload(statestore.MsgSyntaxError)
	}
	if client == "" {
		f.violations = append(f.violations, "KEYNOTIFY without __srcId: the fake cannot tell whom to notify")
	}
	nk := notifyKey{client: client, key: string(args[0])}
	if stop {
		delete(f.notify, nk)
	} else {
		f.notify[nk] = true
	}
	return respOK
}

// setOptions parses the options after SET's key and value: at most one of
// NX and NEX, and at most one PX <positive milliseconds>. Anything else is a
// syntax error (an assumption: the SDKs send only these).
func setOptions(opts [][]byte) (cond string, px int64, ok bool) {
	for i := 0; i < len(opts); i++ {
		switch o := strings.ToUpper(string(opts[i])); o {
		case "NX", "NEX":
			if cond != "" {
				return "", 0, false
			}
			cond = o
		case "PX":
			if px != 0 || i+1 >= len(opts) {
				return "", 0, false
			}
			i++
			n, err := strconv.ParseInt(string(opts[i]), 10, 64)
			if err != nil || n <= 0 {
				return "", 0, false
			}
			px = n
		default:
			return "", 0, false
		}
	}
	return cond, px, true
}

// fenced returns the error text when a write with fence (nil: none) may not
// change e. Assumed model (from the SDK docs on leased locks): a key written
// with a fencing token keeps it; later writes must carry a token that is not
// older.
func fenced(e *entry, fence *aiorpc.Timestamp) string {
	switch {
	case e == nil || e.fence == nil:
		return ""
	case fence == nil:
		return statestore.MsgMissingFencingToken
	case compareHLC(*fence, *e.fence) < 0:
		return statestore.MsgFencingTokenLowerVersion
	}
	return ""
}

func notifySet(value []byte) []byte {
	return resp3.Command([]byte("NOTIFY"), []byte(statestore.OperationSet), []byte("VALUE"), value)
}

func notifyDelete() []byte {
	return resp3.Command([]byte("NOTIFY"), []byte(statestore.OperationDelete))
}

// notes builds the notifications about key for every client observing it;
// f.mu must be held.
func (f *Fake) notes(key, payload []byte) []*mqttclient.Message {
	var clients []string
	for nk := range f.notify {
		if nk.key == string(key) {
			clients = append(clients, nk.client)
		}
	}
	slices.Sort(clients)
	out := make([]*mqttclient.Message, 0, len(clients))
	for _, c := range clients {
		out = append(out, &mqttclient.Message{
			Topic:         statestore.NotifyTopic(c, key),
			Payload:       payload,
			QoS:           1,
			MessageExpiry: uint32(aiorpc.DefaultTelemetryExpiry / time.Second),
			UserProperties: []mqttclient.UserProperty{
				{Key: aiorpc.PropTimestamp, Value: f.clock.Now()},
				{Key: aiorpc.PropProtocolVersion, Value: aiorpc.ProtocolVersion},
				{Key: aiorpc.PropSourceID, Value: f.id},
			},
		})
	}
	return out
}

// sweep deletes expired keys and returns their DELETE notifications; f.mu
// must be held.
func (f *Fake) sweep() []*mqttclient.Message {
	now := f.now()
	var expired []string
	for k, e := range f.store {
		if e.expired(now) {
			expired = append(expired, k)
		}
	}
	slices.Sort(expired)
	var out []*mqttclient.Message
	for _, k := range expired {
		delete(f.store, k)
		out = append(out, f.notes([]byte(k), notifyDelete())...)
	}
	return out
}

func (f *Fake) send(ctx context.Context, notes []*mqttclient.Message) error {
	for _, n := range notes {
		if err := f.client.Publish(ctx, n); err != nil {
			return fmt.Errorf("state store fake: notify: %w", err)
		}
		f.mu.Lock()
		f.sent = append(f.sent, *n)
		f.touch()
		f.mu.Unlock()
	}
	return nil
}
