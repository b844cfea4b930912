package aiorpc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/mqttclient"
)

// The executor follows the command executors of the Azure IoT Operations
// SDKs (github.com/Azure/iot-operations-sdks, read at commit febffe03):
// go/protocol/command_executor.go and listener.go,
// dotnet/src/Azure.Iot.Operations.Protocol/RPC/CommandExecutor.cs,
// rust/azure_iot_operations_protocol/src/rpc_command/executor.rs, and the
// reference documents doc/reference/{command-errors,command-timeouts,
// command-cache,rpc-protocol,topic-structure}.md. The comments name the
// source of each wire fact; where the SDKs differ they say which one is
// followed.

// Executor defaults.
const (
	// DefaultExecutionTimeout is how long a handler may run: the .NET
	// connector's default for management actions
	// (dotnet/src/Azure.Iot.Operations.Connector/AssetClient.cs,
	// DefaultManagementActionExecutionTimeout; the SDK's own CommandExecutor
	// default is 10 s).
	DefaultExecutionTimeout = 30 * time.Second
	// DefaultConcurrency is how many requests are processed at once: the .NET
	// dispatcher's default (ExecutionDispatcherCollection.cs,
	// DefaultDispatchConcurrency = 10, there per MQTT client, here per
	// executor).
	DefaultConcurrency = 10
	// DefaultMaxCachedResponses bounds the de-duplication cache: the .NET
	// CommandResponseCache's MaxEntryCount.
	DefaultMaxCachedResponses = 10000
)

// User properties of application errors (ADR 21,
// doc/dev/adr/0021-error-modeling-headers.md; .NET RPC/ExtendedResponse.cs,
// Rust executor.rs application_error_headers).
const (
	PropAppErrCode    = "AppErrCode"
	PropAppErrPayload = "AppErrPayload"
)

// ErrInvalidPayload, wrapped by a handler's error, answers the request with
// 400 and no __propName: the request payload is invalid
// (doc/reference/command-errors.md, "payload unable to deserialize").
var ErrInvalidPayload = errors.New("invalid request payload")

// ApplicationError is returned by a handler whose command ran but failed in
// the application's terms. The executor answers it as a success (200 with
// the handler's response payload, 204 without) carrying the user properties
// AppErrCode and, when Payload is not empty, AppErrPayload (ADR 21; .NET
// ManagementActionExecutor.cs answers management actions this way).
type ApplicationError struct {
	Code    string // AppErrCode; required
	Payload string // AppErrPayload; optional, conventionally JSON
}

func (e *ApplicationError) Error() string { return "application error " + e.Code }

// ApplicationError returns the application error a successful response
// carries in AppErrCode and AppErrPayload, if it has one (as .NET's
// ExtendedResponse.TryGetApplicationError reads it).
func (r Response) ApplicationError() (*ApplicationError, bool) {
	code, ok := r.Message.Property(PropAppErrCode)
	if !ok {
		return nil, false
	}
	payload, _ := r.Message.Property(PropAppErrPayload)
	return &ApplicationError{Code: code, Payload: payload}, true
}

// CommandRequest is one request as a handler sees it.
type CommandRequest struct {
	Topic string
	// TopicTokens holds the value of every token of the request topic
	// pattern, as the SDKs hand them to handlers (Go TopicFilter.Tokens,
	// .NET MqttTopicProcessor.GetReplacementMap).
	TopicTokens     map[string]string
	Payload         []byte
	ContentType     string
	UTF8Payload     bool   // payload format indicator 1
	Invoker         string // __srcId, the invoker's client id; may be empty
	CorrelationData []byte // 16 bytes
	// Timestamp is the parsed __ts; the zero value when the request has none.
	Timestamp Timestamp
	// UserProperties are the request's own: without the protocol's "__…"
	// properties (Go listener.go) and the broker's $partition,
	// $high_priority and aio-persistence (Rust BrokerReservedUserProperty).
	UserProperties []mqttclient.UserProperty
}

// CommandResponse is what a handler answers.
type CommandResponse struct {
	Payload     []byte // empty: the response is 204 without content type
	ContentType string
	UTF8Payload bool // payload format indicator 1
	// UserProperties are sent after the executor's own. Keys starting with
	// "__", $high_priority, AppErrCode and AppErrPayload are the executor's:
	// a response that uses them is answered as a handler failure (500).
	UserProperties []mqttclient.UserProperty
}

// ExecutorOptions configure an Executor.
type ExecutorOptions struct {
	// RequestTopic is the request topic pattern (doc/reference/
	// topic-structure.md): levels, each a label or a whole-level token such
	// as {executorId}. {executorId} is ExecutorID, {commandName} is
	// CommandName, other tokens take their value from TopicTokens; a token
	// left without a value is a "+" wildcard of the subscription, its value
	// handed to the handler (Go internal/topic.go Filter, .NET
	// MqttTopicProcessor.ResolveTopic).
	RequestTopic string
	// CommandName names the command in logs and errors and is {commandName}.
	CommandName string
	// ExecutorID is {executorId}; default the MQTT client id
	// (topic-structure.md).
	ExecutorID  string
	TopicTokens map[string]string
	// ShareName, if set, makes the subscription shared:
	// $share/<ShareName>/<filter> (Go listener.go filter, .NET
	// ServiceGroupId).
	ShareName string
	// Timeout is how long a handler may run (default
	// DefaultExecutionTimeout); a request also ends at its message expiry.
	Timeout time.Duration
	// Concurrency bounds the requests processed at once (default
	// DefaultConcurrency).
	Concurrency int
	// ContentTypes, if not empty, are the request content types the handler
	// accepts; a request with another is answered 415 (a request without one
	// is accepted: command-errors.md).
	ContentTypes []string
	// MaxCachedResponses bounds the de-duplication cache (default
	// DefaultMaxCachedResponses).
	MaxCachedResponses int
	// Handle runs one request. It must honour ctx, which ends at the
	// timeout, at the request's expiry and when Close gives up waiting.
	// Its error text is sent to the invoker (__stMsg): it must not hold
	// secrets. See ApplicationError and ErrInvalidPayload.
	Handle func(ctx context.Context, req CommandRequest) (CommandResponse, error)
}

// pubsub is what the executor needs of *mqttclient.Client; the tests in
// virtual time stand in for it.
type pubsub interface {
	Subscribe(ctx context.Context, filter string, qos byte, h mqttclient.Handler) error
	Unsubscribe(ctx context.Context, filter string) error
	Publish(ctx context.Context, m *mqttclient.Message) error
}

// Executor serves one command on a request topic: it answers each request
// on its response topic with the AIO RPC status properties, runs the handler
// of at most Concurrency requests at once and answers duplicates (same
// response topic and correlation data) from a cache for the request's expiry.
type Executor struct {
	client   pubsub
	clientID string
	clock    *Clock
	log      zerolog.Logger
	o        ExecutorOptions // with defaults
	pattern  topicPattern
	filter   string // subscribed, with $share/…
	accept   map[string]bool
	cache    *responseCache

	slots  chan struct{} // one per request being processed
	stop   chan struct{} // closed by Close
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	once   sync.Once
	wg     sync.WaitGroup // requests and handlers
}

// NewExecutor checks o, subscribes (QoS 1) to the request topic of the MQTT
// client whose client id is clientID and serves requests until Close.
func NewExecutor(ctx context.Context, client *mqttclient.Client, clientID string, clock *Clock, o ExecutorOptions, log zerolog.Logger) (*Executor, error) {
	if client == nil {
		return nil, fmt.Errorf("command executor %q: no MQTT client", o.CommandName)
	}
	return newExecutor(ctx, client, clientID, clock, o, log)
}

func newExecutor(ctx context.Context, client pubsub, clientID string, clock *Clock, o ExecutorOptions, log zerolog.Logger) (*Executor, error) {
	e, err := prepareExecutor(client, clientID, clock, o, log)
	if err != nil {
		return nil, fmt.Errorf("command executor %q: %w", o.CommandName, err)
	}
	// Handlers live until Close, not until ctx (which bounds the subscribe):
	// their context keeps ctx's values but not its cancellation.
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel = cancel
	// QoS 1 (Go listener.go start, .NET SubscribeAsync, Rust try_subscribe).
	if err := client.Subscribe(ctx, e.filter, 1, func(m mqttclient.Message) { e.onRequest(life, m) }); err != nil {
		// Drop the handler registered with the failed subscription.
		_ = client.Unsubscribe(ctx, e.filter)
		cancel()
		return nil, fmt.Errorf("command executor %q: %w", o.CommandName, err)
	}
	e.log.Info().Msg("command executor started")
	return e, nil
}

// prepareExecutor checks the options and fills in their defaults.
func prepareExecutor(client pubsub, clientID string, clock *Clock, o ExecutorOptions, log zerolog.Logger) (*Executor, error) {
	switch {
	case o.CommandName == "": // .NET and Rust refuse an empty command name
		return nil, errors.New("empty command name")
	case o.Handle == nil:
		return nil, errors.New("no handler")
	case clock == nil:
		return nil, errors.New("no clock")
	case clientID == "":
		return nil, errors.New("empty client id")
	case o.Timeout < 0:
		return nil, fmt.Errorf("negative timeout %s", o.Timeout)
	case o.Concurrency < 0:
		return nil, fmt.Errorf("negative concurrency %d", o.Concurrency)
	case o.MaxCachedResponses < 0:
		return nil, fmt.Errorf("negative cache bound %d", o.MaxCachedResponses)
	case o.ShareName != "" && !validLabel(o.ShareName): // Go ValidateShareName
		return nil, fmt.Errorf("share name %q is not a topic level", o.ShareName)
	}
	o.Timeout = cmp.Or(o.Timeout, DefaultExecutionTimeout)
	o.Concurrency = cmp.Or(o.Concurrency, DefaultConcurrency)
	o.MaxCachedResponses = cmp.Or(o.MaxCachedResponses, DefaultMaxCachedResponses)
	o.ExecutorID = cmp.Or(o.ExecutorID, clientID)
	pattern, err := parseTopicPattern(o.RequestTopic, o.tokenValues())
	if err != nil {
		return nil, err
	}
	e := &Executor{
		client:   client,
		clientID: clientID,
		clock:    clock,
		o:        o,
		pattern:  pattern,
		filter:   pattern.filter,
		cache:    newResponseCache(o.MaxCachedResponses),
		slots:    make(chan struct{}, o.Concurrency),
		stop:     make(chan struct{}),
	}
	if o.ShareName != "" {
		e.filter = "$share/" + o.ShareName + "/" + pattern.filter
	}
	if len(o.ContentTypes) > 0 {
		e.accept = make(map[string]bool, len(o.ContentTypes))
		for _, ct := range o.ContentTypes {
			e.accept[ct] = true
		}
	}
	e.log = log.With().Str("command", o.CommandName).Str("request_filter", e.filter).Logger()
	return e, nil
}

// tokenValues are the values of the pattern's tokens: TopicTokens, then
// {executorId} and {commandName} unless TopicTokens has them.
func (o *ExecutorOptions) tokenValues() map[string]string {
	values := map[string]string{"executorId": o.ExecutorID, "commandName": o.CommandName}
	for k, v := range o.TopicTokens {
		values[k] = v
	}
	return values
}

// Filter is the topic filter the executor subscribed to.
func (e *Executor) Filter() string { return e.filter }

// Close stops taking requests, unsubscribes and waits for the requests under
// way: their handlers finish and their responses are sent, as .NET's
// StopAsync lets in-flight invocations complete. If ctx ends first, the
// handlers' contexts are cancelled, their responses are not sent, and Close
// still waits for them to return. Close may be called more than once.
func (e *Executor) Close(ctx context.Context) error {
	var err error
	e.once.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		close(e.stop)
		if uerr := e.client.Unsubscribe(ctx, e.filter); uerr != nil {
			err = fmt.Errorf("close command executor %q: %w", e.o.CommandName, uerr)
		}
	})
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		e.cancel()
		<-done
		err = errors.Join(err, fmt.Errorf("close command executor %q: requests cut short: %w", e.o.CommandName, ctx.Err()))
	}
	e.cancel()
	e.log.Info().Msg("command executor closed")
	return err
}
