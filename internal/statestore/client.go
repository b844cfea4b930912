// Package statestore is a client of the Azure IoT Operations broker state
// store (DSS): SET, GET, DEL, VDEL and KEYNOTIFY sent as RESP3 arrays of blob
// strings over AIO RPC (aiorpc) to RequestTopic. Keys and values are
// binary-safe.
//
// # Errors and retries
//
// The client never retries; the caller decides. Errors fall in three groups:
//
//   - RPC failures, reported with aiorpc's errors: aiorpc.IsTransient tells
//     whether retrying may help (no response before the command timeout, the
//     MQTT connection down, __stat 408, 503 or 500 without __apErr). A
//     timeout leaves the outcome unknown: the command may have run. GET and
//     KEYNOTIFY are safe to resend. An unconditional SET is too (the value
//     ends the same; PX restarts the expiry). SET NX is not: if the first
//     attempt ran, the retry answers "not set" although our value is stored;
//     use NEX with our own value when that matters. DEL and VDEL resent after
//     an attempt that ran answer 0 instead of 1.
//   - *ServiceError, the state store's "-ERR <text>" answer: permanent for
//     that request (syntax, fencing token, quota, clock skew ...); resending
//     the same request gives the same answer. aiorpc.IsTransient is false.
//   - Errors wrapping ErrUnexpectedResponse (a response that is not RESP3 or
//     not a valid answer to the command) and invalid arguments: permanent.
package statestore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/statestore/resp3"
)

// RequestTopic is the state store's command topic (DTDL
// dtmi:ms:aio:mq:StateStore;1, command "invoke").
const RequestTopic = "statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke"

// PropFencingToken is the user property that carries a request's fencing
// token.
const PropFencingToken = "__ft"

// Condition says when SET writes.
type Condition string

// Conditions of SET.
const (
	Always                 Condition = ""    // always write
	OnlyIfNotExists        Condition = "NX"  // write only if the key is absent
	OnlyIfEqualOrNotExists Condition = "NEX" // write if absent or already equal to the value (renews the expiry)
)

// SetOptions are the options of Set.
type SetOptions struct {
	// ExpiresIn, if positive, makes the key expire after this long (PX, in
	// milliseconds, rounded up). 0 means no expiry; negative is an error.
	ExpiresIn time.Duration
	Condition Condition
	// FencingToken, if set, is sent as __ft: an HLC timestamp in the __ts
	// format, normally the version SetWithVersion returned when a lock key
	// was taken. The state store refuses the write if the key is protected
	// by a newer token.
	FencingToken string
}

// Options configure a Client.
type Options struct {
	// Timeout is the command timeout of each request (also its message
	// expiry); aiorpc.DefaultTimeout when not positive.
	Timeout time.Duration
}

// Client sends state store commands through an aiorpc.Invoker. It is safe
// for concurrent use.
type Client struct {
	inv       *aiorpc.Invoker
	timeout   time.Duration
	respTopic string
}

// New returns a client that invokes through inv. The response topic,
// aiorpc.ResponseTopic(inv.ClientID(), RequestTopic), is subscribed on first
// use.
func New(inv *aiorpc.Invoker, opts Options) *Client {
	return &Client{
		inv:       inv,
		timeout:   opts.Timeout,
		respTopic: aiorpc.ResponseTopic(inv.ClientID(), RequestTopic),
	}
}

// ErrUnexpectedResponse is wrapped by errors about a response that is not a
// valid answer to the command sent.
var ErrUnexpectedResponse = errors.New("unexpected response")

// ErrEmptyKey is returned, without sending anything, for an empty key.
var ErrEmptyKey = errors.New("empty key")

// ServiceError is an error answer ("-ERR <text>") of the state store.
type ServiceError struct {
	Command string // SET, GET, ...
	// Message is the server's text without the "ERR " prefix, e.g.
	// MsgFencingTokenLowerVersion.
	Message string
}

func (e *ServiceError) Error() string {
	return "state store " + e.Command + ": " + e.Message
}

// Error texts the state store is known to send (as listed by the AIO SDKs).
const (
	MsgTimestampSkew            = "the request timestamp is too far in the future; ensure that the client and broker system clocks are synchronized"
	MsgMissingFencingToken      = "a fencing token is required for this request"
	MsgFencingTokenSkew         = "the request fencing token timestamp is too far in the future; ensure that the client and broker system clocks are synchronized"
	MsgFencingTokenLowerVersion = "the request fencing token is a lower version than the fencing token protecting the resource"
	MsgQuotaExceeded            = "the quota has been exceeded"
	MsgSyntaxError              = "syntax error"
	MsgNotAuthorized            = "not authorized"
	MsgUnknownCommand           = "unknown command"
	MsgWrongNumberOfArguments   = "wrong number of arguments"
	MsgTimestampMissing         = "missing timestamp"
	MsgTimestampMalformed       = "malformed timestamp"
	MsgKeyLengthZero            = "the key length is zero"
)

// Set writes value under key and reports whether it was written (false:
// the condition was not met).
func (c *Client) Set(ctx context.Context, key, value []byte, opts SetOptions) (bool, error) {
	set, _, err := c.set(ctx, key, value, opts)
	return set, err
}

// SetWithVersion is Set that also returns the response's __ts: the version
// the state store gave the key, which is the fencing token when the key is a
// lock. The version is "" when nothing was written.
func (c *Client) SetWithVersion(ctx context.Context, key, value []byte, opts SetOptions) (bool, string, error) {
	set, resp, err := c.set(ctx, key, value, opts)
	if err != nil || !set {
		return set, "", err
	}
	version, ok := resp.Message.Property(aiorpc.PropTimestamp)
	if !ok {
		return false, "", fmt.Errorf("state store SET: %w: no %s user property", ErrUnexpectedResponse, aiorpc.PropTimestamp)
	}
	if _, err := aiorpc.ParseTimestamp(version); err != nil {
		return false, "", fmt.Errorf("state store SET: %w: version: %w", ErrUnexpectedResponse, err)
	}
	return true, version, nil
}

func (c *Client) set(ctx context.Context, key, value []byte, opts SetOptions) (bool, aiorpc.Response, error) {
	args := [][]byte{[]byte("SET"), key, value}
	switch opts.Condition {
	case Always:
	case OnlyIfNotExists, OnlyIfEqualOrNotExists:
		args = append(args, []byte(opts.Condition))
	default:
		return false, aiorpc.Response{}, fmt.Errorf("state store SET: unknown condition %q", opts.Condition)
	}
	switch {
	case opts.ExpiresIn < 0:
		return false, aiorpc.Response{}, fmt.Errorf("state store SET: negative expiry %s", opts.ExpiresIn)
	case opts.ExpiresIn > 0:
		ms := int64(math.Ceil(float64(opts.ExpiresIn) / float64(time.Millisecond)))
		args = append(args, []byte("PX"), strconv.AppendInt(nil, ms, 10))
	}
	var props []mqttclient.UserProperty
	if opts.FencingToken != "" {
		if _, err := aiorpc.ParseTimestamp(opts.FencingToken); err != nil {
			return false, aiorpc.Response{}, fmt.Errorf("state store SET: fencing token: %w", err)
		}
		props = append(props, mqttclient.UserProperty{Key: PropFencingToken, Value: opts.FencingToken})
	}
	v, resp, err := c.invoke(ctx, props, args...)
	if err != nil {
		return false, resp, err
	}
	switch {
	case v.Kind == resp3.SimpleString && string(v.Str) == "OK":
		return true, resp, nil
	case v.Kind == resp3.Null, v.Kind == resp3.Integer && v.Int == -1:
		return false, resp, nil
	}
	return false, resp, unexpected("SET", v)
}

// Get returns the value of key; found is false when the key does not exist.
// An existing empty value is returned as a non-nil empty slice.
func (c *Client) Get(ctx context.Context, key []byte) (value []byte, found bool, err error) {
	v, _, err := c.invoke(ctx, nil, []byte("GET"), key)
	if err != nil {
		return nil, false, err
	}
	switch v.Kind {
	case resp3.BlobString:
		return append([]byte{}, v.Str...), true, nil
	case resp3.Null:
		return nil, false, nil
	}
	return nil, false, unexpected("GET", v)
}

// Del deletes key and returns the number of keys deleted (0 or 1).
func (c *Client) Del(ctx context.Context, key []byte) (int, error) {
	return c.count(ctx, 0, []byte("DEL"), key)
}

// VDel deletes key only if its value equals value. It returns 1 when
// deleted, 0 when the key does not exist and -1 when the value differs.
func (c *Client) VDel(ctx context.Context, key, value []byte) (int, error) {
	return c.count(ctx, -1, []byte("VDEL"), key, value)
}

// count runs a command answered by an integer of at least lowest.
func (c *Client) count(ctx context.Context, lowest int64, args ...[]byte) (int, error) {
	v, _, err := c.invoke(ctx, nil, args...)
	if err != nil {
		return 0, err
	}
	if v.Kind != resp3.Integer || v.Int < lowest || v.Int > math.MaxInt32 {
		return 0, unexpected(string(args[0]), v)
	}
	return int(v.Int), nil
}

// KeyNotify asks the state store to send notifications about key to this
// client (see NotifyFilter and ParseNotification). Subscribe to the
// notifications before calling it.
func (c *Client) KeyNotify(ctx context.Context, key []byte) error {
	return c.keyNotify(ctx, []byte("KEYNOTIFY"), key)
}

// KeyNotifyStop stops the notifications about key.
func (c *Client) KeyNotifyStop(ctx context.Context, key []byte) error {
	return c.keyNotify(ctx, []byte("KEYNOTIFY"), key, []byte("STOP"))
}

func (c *Client) keyNotify(ctx context.Context, args ...[]byte) error {
	v, _, err := c.invoke(ctx, nil, args...)
	if err != nil {
		return err
	}
	// +OK; the Go SDK also accepts :0 (a registration that already existed).
	if (v.Kind == resp3.SimpleString && string(v.Str) == "OK") || (v.Kind == resp3.Integer && v.Int == 0) {
		return nil
	}
	return unexpected("KEYNOTIFY", v)
}

// invoke sends one command (args[0]) and returns the parsed answer, a
// *ServiceError for "-ERR ..." or an RPC error from aiorpc.
func (c *Client) invoke(ctx context.Context, props []mqttclient.UserProperty, args ...[]byte) (resp3.Value, aiorpc.Response, error) {
	cmd := string(args[0])
	if len(args[1]) == 0 {
		return resp3.Value{}, aiorpc.Response{}, fmt.Errorf("state store %s: %w", cmd, ErrEmptyKey)
	}
	if err := c.inv.Prepare(ctx, c.respTopic); err != nil {
		return resp3.Value{}, aiorpc.Response{}, fmt.Errorf("state store %s: %w", cmd, err)
	}
	// No content type and no payload format indicator: the DTDL says
	// raw/0. (The Go, Rust and .NET SDKs send application/octet-stream.)
	resp, err := c.inv.InvokeRequest(ctx, RequestTopic, aiorpc.Request{
		Payload:        resp3.Command(args...),
		UserProperties: props,
		Timeout:        c.timeout,
	})
	if err != nil {
		return resp3.Value{}, resp, fmt.Errorf("state store %s: %w", cmd, err)
	}
	if !rawContentType(resp.ContentType) {
		return resp3.Value{}, resp, fmt.Errorf("state store %s: %w: content type %q", cmd, ErrUnexpectedResponse, resp.ContentType)
	}
	v, err := resp3.Parse(resp.Payload)
	if err != nil {
		return resp3.Value{}, resp, fmt.Errorf("state store %s: %w: %w", cmd, ErrUnexpectedResponse, err)
	}
	if v.Kind == resp3.SimpleError {
		return resp3.Value{}, resp, &ServiceError{Command: cmd, Message: strings.TrimPrefix(string(v.Str), "ERR ")}
	}
	return v, resp, nil
}

// rawContentType accepts what the SDKs accept for raw payloads: none, or
// application/octet-stream with optional parameters or suffix.
func rawContentType(ct string) bool {
	rest, ok := strings.CutPrefix(ct, "application/octet-stream")
	return ct == "" || ok && (rest == "" || rest[0] == ';' || rest[0] == '+')
}

func unexpected(cmd string, v resp3.Value) error {
	what := v.Kind.String()
	switch v.Kind {
	case resp3.SimpleString:
		what += fmt.Sprintf(" %q", v.Str)
	case resp3.Integer:
		what += " " + strconv.FormatInt(v.Int, 10)
	}
	return fmt.Errorf("state store %s: %w: %s", cmd, ErrUnexpectedResponse, what)
}
