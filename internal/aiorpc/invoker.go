package aiorpc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/mqttclient"
)

// User properties of the AIO protocol.
const (
	PropProtocolVersion        = "__protVer"
	PropSourceID               = "__srcId"
	PropTimestamp              = "__ts"
	PropInvokerID              = "__invId" // legacy; the .NET SDK still sends it
	PropPartition              = "$partition"
	PropHighPriority           = "$high_priority"
	PropStatus                 = "__stat"
	PropStatusMessage          = "__stMsg"
	PropIsApplicationError     = "__apErr"
	PropInvalidPropertyName    = "__propName"
	PropInvalidPropertyValue   = "__propVal"
	PropSupportedMajorVersions = "__supProtMajVer"
	PropRequestProtocolVersion = "__requestProtVer"
)

// Protocol constants.
const (
	ProtocolVersion      = "1.0"
	ProtocolMajorVersion = 1
	ContentTypeJSON      = "application/json"
	// DefaultTimeout is the command timeout when none is given.
	DefaultTimeout = 10 * time.Second
	// ResponseTopicPrefix precedes "<client id>/<request topic>".
	ResponseTopicPrefix = "clients/"
)

// ResponseTopic is where the executor answers a request sent to
// requestTopic: "clients/<clientID>/<requestTopic>".
func ResponseTopic(clientID, requestTopic string) string {
	return ResponseTopicPrefix + clientID + "/" + requestTopic
}

// Response is a successful command response.
type Response struct {
	Status      int // 200 or 204
	Payload     []byte
	ContentType string
	Message     mqttclient.Message // the whole response, for other properties
}

// Invoker sends AIO commands over one MQTT client and matches responses by
// correlation data.
type Invoker struct {
	client   *mqttclient.Client
	clientID string
	clock    *Clock
	log      zerolog.Logger

	mu        sync.Mutex
	filters   []string                           // response filters subscribed
	preparing map[string]chan struct{}           // filters being subscribed
	pending   map[string]chan mqttclient.Message // by correlation data
}

// NewInvoker returns an invoker for the MQTT client whose client id is
// clientID.
func NewInvoker(client *mqttclient.Client, clientID string, clock *Clock, log zerolog.Logger) *Invoker {
	return &Invoker{
		client:    client,
		clientID:  clientID,
		clock:     clock,
		log:       log,
		preparing: make(map[string]chan struct{}),
		pending:   make(map[string]chan mqttclient.Message),
	}
}

// ClientID returns the invoker's MQTT client id.
func (i *Invoker) ClientID() string { return i.clientID }

// Prepare subscribes (QoS 1) to a response topic filter, such as
// "clients/<id>/akri/connector/resources/<id>/+/+/getDevice". Only the first
// call per filter subscribes; concurrent callers wait for it. Invoke refuses
// requests whose response topic no prepared filter matches.
func (i *Invoker) Prepare(ctx context.Context, responseFilter string) error {
	for {
		i.mu.Lock()
		for _, f := range i.filters {
			if f == responseFilter {
				i.mu.Unlock()
				return nil
			}
		}
		wait, busy := i.preparing[responseFilter]
		if !busy {
			done := make(chan struct{})
			i.preparing[responseFilter] = done
			i.mu.Unlock()
			err := i.subscribe(ctx, responseFilter)
			i.mu.Lock()
			delete(i.preparing, responseFilter)
			if err == nil {
				i.filters = append(i.filters, responseFilter)
			}
			i.mu.Unlock()
			close(done)
			return err
		}
		i.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return fmt.Errorf("subscribe to %q: %w", responseFilter, ctx.Err())
		}
	}
}

func (i *Invoker) subscribe(ctx context.Context, filter string) error {
	if err := i.client.Subscribe(ctx, filter, 1, i.onResponse); err != nil {
		// Drop the handler registered with the failed subscription so a
		// second Prepare does not route responses twice.
		_ = i.client.Unsubscribe(ctx, filter)
		return fmt.Errorf("subscribe to responses: %w", err)
	}
	return nil
}

func (i *Invoker) onResponse(m mqttclient.Message) {
	key := string(m.CorrelationData)
	i.mu.Lock()
	ch, ok := i.pending[key]
	if ok {
		delete(i.pending, key)
	}
	i.mu.Unlock()
	if !ok {
		i.log.Debug().Str("topic", m.Topic).Msg("dropped response with unknown correlation data")
		return
	}
	ch <- m // buffered, and delivered at most once
}

func (i *Invoker) prepared(responseTopic string) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, f := range i.filters {
		if mqttclient.MatchTopic(f, responseTopic) {
			return true
		}
	}
	return false
}

// Invoke sends one request to requestTopic and waits up to timeout (default
// DefaultTimeout) for the response. With hasBody, payload is sent as
// application/json; without, the request has an empty payload and no content
// type. A response with a non-success __stat is returned as *RemoteError; no
// response in time as an error wrapping ErrTimeout.
func (i *Invoker) Invoke(ctx context.Context, requestTopic string, payload []byte, hasBody bool, timeout time.Duration) (Response, error) {
	req := Request{Timeout: timeout}
	if hasBody {
		req.Payload, req.ContentType, req.UTF8Payload = payload, ContentTypeJSON, true
	}
	return i.InvokeRequest(ctx, requestTopic, req)
}

// Request is one command request for InvokeRequest.
type Request struct {
	// Payload is sent as is. With ContentType empty and UTF8Payload false the
	// request carries neither property: raw bytes, as the DTDL payload format
	// "raw/0" of the state store asks.
	Payload     []byte
	ContentType string
	UTF8Payload bool // payload format indicator 1
	// UserProperties are sent after the invoker's own (__protVer, __srcId,
	// __ts, $partition, $high_priority, __invId), which they must not repeat;
	// the state store's fencing token __ft is one.
	UserProperties []mqttclient.UserProperty
	// Timeout is the command timeout; DefaultTimeout when not positive.
	Timeout time.Duration
}

// InvokeRequest is Invoke with the payload properties and extra user
// properties given by req. Responses and errors are as for Invoke.
func (i *Invoker) InvokeRequest(ctx context.Context, requestTopic string, req Request) (Response, error) {
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	respTopic := ResponseTopic(i.clientID, requestTopic)
	if !i.prepared(respTopic) {
		return Response{}, fmt.Errorf("invoke %s: no subscription for response topic %s (call Prepare first)", requestTopic, respTopic)
	}
	corr := newCorrelationData()
	msg := &mqttclient.Message{
		Topic:           requestTopic,
		QoS:             1,
		MessageExpiry:   uint32(math.Ceil(timeout.Seconds())),
		ResponseTopic:   respTopic,
		CorrelationData: corr,
		UserProperties: []mqttclient.UserProperty{
			{Key: PropProtocolVersion, Value: ProtocolVersion},
			{Key: PropSourceID, Value: i.clientID},
			{Key: PropTimestamp, Value: i.clock.Now()},
			{Key: PropPartition, Value: i.clientID},
			{Key: PropHighPriority, Value: ""},
			{Key: PropInvokerID, Value: i.clientID},
		},
		Payload:     req.Payload,
		ContentType: req.ContentType,
		UTF8Payload: req.UTF8Payload,
	}
	for _, p := range req.UserProperties {
		if _, own := msg.Property(p.Key); own {
			return Response{}, fmt.Errorf("invoke %s: user property %s is set by the invoker", requestTopic, p.Key)
		}
	}
	msg.UserProperties = append(msg.UserProperties, req.UserProperties...)

	ch := make(chan mqttclient.Message, 1)
	key := string(corr)
	i.mu.Lock()
	i.pending[key] = ch
	i.mu.Unlock()
	defer func() {
		i.mu.Lock()
		delete(i.pending, key)
		i.mu.Unlock()
	}()

	ctx, cancel := context.WithTimeoutCause(ctx, timeout, ErrTimeout)
	defer cancel()
	if err := i.client.Publish(ctx, msg); err != nil {
		return Response{}, fmt.Errorf("invoke %s: %w", requestTopic, publishError(ctx, err))
	}
	select {
	case <-ctx.Done():
		cause := context.Cause(ctx)
		if errors.Is(cause, ErrTimeout) {
			return Response{}, fmt.Errorf("invoke %s: %w (%s)", requestTopic, ErrTimeout, timeout)
		}
		return Response{}, fmt.Errorf("invoke %s: %w", requestTopic, cause)
	case m := <-ch:
		if err := checkVersion(&m); err != nil {
			return Response{}, fmt.Errorf("invoke %s: %w", requestTopic, err)
		}
		status, err := statusOf(&m)
		if err != nil {
			return Response{}, fmt.Errorf("invoke %s: %w", requestTopic, err)
		}
		return Response{Status: status, Payload: m.Payload, ContentType: m.ContentType, Message: m}, nil
	}
}

// publishError reports a publish cut short by the command timeout as a
// timeout.
func publishError(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), ErrTimeout) && !errors.Is(err, ErrTimeout) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

// IsTransient reports whether a failed Invoke may succeed when retried: no
// response in time, a transient remote error (see RemoteError.Transient) or
// the connection being down.
func IsTransient(err error) bool {
	if errors.Is(err, ErrTimeout) || mqttclient.IsConnectionError(err) {
		return true
	}
	var re *RemoteError
	return errors.As(err, &re) && re.Transient()
}
