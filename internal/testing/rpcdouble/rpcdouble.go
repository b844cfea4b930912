// Package rpcdouble is the executor side of AIO RPC that the test doubles
// of AIO services (the ADR service and schema registry, the state store)
// share: the header checks the SDKs' executors make, the responses'
// addressing and properties, and the replay of a repeated request's
// response. It is written from the protocol, apart from aiorpc.Executor,
// so that the doubles check the connector's invoker rather than share its
// mistakes.
package rpcdouble

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/mqttclient"
)

// StatusResponse is a response without payload: the status and the user
// properties kv (key, value, ...).
func StatusResponse(status int, kv ...string) *mqttclient.Message {
	m := &mqttclient.Message{UserProperties: []mqttclient.UserProperty{{Key: aiorpc.PropStatus, Value: strconv.Itoa(status)}}}
	for i := 0; i+1 < len(kv); i += 2 {
		m.UserProperties = append(m.UserProperties, mqttclient.UserProperty{Key: kv[i], Value: kv[i+1]})
	}
	return m
}

// Status is the status a response carries, 0 if none.
func Status(m *mqttclient.Message) int {
	v, _ := m.Property(aiorpc.PropStatus)
	n, _ := strconv.Atoi(v)
	return n
}

// CheckHeaders answers what an SDK executor refuses before running a
// command: correlation data that is not 16 bytes, no message expiry, a
// protocol major version other than ours, a content type contentTypeOK
// refuses. It returns nil for a request the command may run.
func CheckHeaders(m mqttclient.Message, contentTypeOK func(string) bool) *mqttclient.Message {
	if len(m.CorrelationData) != 16 {
		return StatusResponse(400, aiorpc.PropStatusMessage, "Correlation data must be 16 bytes.",
			aiorpc.PropInvalidPropertyName, "Correlation Data")
	}
	if m.MessageExpiry == 0 {
		return StatusResponse(400, aiorpc.PropStatusMessage, "No message expiry interval present.",
			aiorpc.PropInvalidPropertyName, "Message Expiry")
	}
	if v, ok := m.Property(aiorpc.PropProtocolVersion); ok {
		major, _, _ := strings.Cut(v, ".")
		if n, err := strconv.Atoi(major); err != nil || n != aiorpc.ProtocolMajorVersion {
			return StatusResponse(505, aiorpc.PropStatusMessage, "Unsupported protocol version.",
				aiorpc.PropSupportedMajorVersions, "1", aiorpc.PropRequestProtocolVersion, v)
		}
	}
	if ct := m.ContentType; ct != "" && !contentTypeOK(ct) {
		return StatusResponse(415, aiorpc.PropStatusMessage, "Unsupported content type.",
			aiorpc.PropInvalidPropertyName, "Content Type", aiorpc.PropInvalidPropertyValue, ct)
	}
	return nil
}

// Stamp adds the properties every response carries: the protocol version,
// the timestamp now and $high_priority.
func Stamp(resp *mqttclient.Message, now string) {
	resp.UserProperties = append(resp.UserProperties,
		mqttclient.UserProperty{Key: aiorpc.PropProtocolVersion, Value: aiorpc.ProtocolVersion},
		mqttclient.UserProperty{Key: aiorpc.PropTimestamp, Value: now},
		mqttclient.UserProperty{Key: aiorpc.PropHighPriority, Value: ""},
	)
}

// Address sends resp (possibly a replayed one) back to the request, with
// the remaining expiry, or returns nil when the request has expired.
func Address(req mqttclient.Message, resp *mqttclient.Message, arrived time.Time) *mqttclient.Message {
	out := *resp
	out.Topic = req.ResponseTopic
	out.CorrelationData = req.CorrelationData
	out.QoS = 1
	if req.MessageExpiry > 0 {
		remaining := time.Duration(req.MessageExpiry)*time.Second - time.Since(arrived)
		if remaining <= 0 {
			return nil
		}
		out.MessageExpiry = uint32(math.Ceil(remaining.Seconds()))
	}
	return &out
}

// Replies are the responses sent, kept for the request's expiry, so that
// a repeated request (same response topic and correlation data) gets the
// same response without the command running again, as the SDKs'
// executors do. The zero value is ready; it is safe for concurrent use.
type Replies struct {
	mu   sync.Mutex
	sent map[string]reply
}

type reply struct {
	resp    *mqttclient.Message
	expires time.Time
}

func replyKey(req mqttclient.Message) string {
	return req.ResponseTopic + "\x00" + string(req.CorrelationData)
}

// Replayed is the response already sent to a request like req, if one is
// kept.
func (r *Replies) Replayed(req mqttclient.Message) (*mqttclient.Message, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for k, c := range r.sent {
		if now.After(c.expires) {
			delete(r.sent, k)
		}
	}
	c, ok := r.sent[replyKey(req)]
	return c.resp, ok
}

// Keep keeps resp for repeats of req until req expires; a request without
// expiry or valid correlation data is not kept.
func (r *Replies) Keep(req mqttclient.Message, resp *mqttclient.Message, arrived time.Time) {
	if req.MessageExpiry == 0 || len(req.CorrelationData) != 16 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent == nil {
		r.sent = make(map[string]reply)
	}
	r.sent[replyKey(req)] = reply{resp: resp, expires: arrived.Add(time.Duration(req.MessageExpiry) * time.Second)}
}
