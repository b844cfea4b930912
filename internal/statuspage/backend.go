package statuspage

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Backend is what the page shows and does; the connector's runtime
// implements it. Its methods are called from several goroutines at once.
type Backend interface {
	// Datasets is a snapshot of every dataset the connector runs (or has
	// disabled), in any order. The page calls it at most once per second
	// however many browsers look, and not at all while none does. It
	// never modifies the slices of the result, so the backend may hand
	// out the byte slices it keeps (LastMessage) as long as it replaces
	// them rather than writing into them.
	Datasets() []Dataset
	// Connector is the connector-wide state, taken with Datasets.
	Connector() Connector
	// Try samples one dataset once, as the try command does, without
	// publishing or writing anything. A failed sample is a Trial with Err set; the
	// error is for a trial that could not be made: an unknown asset or
	// dataset (wrapping ErrNotFound) or ctx ending.
	Try(ctx context.Context, asset, dataset string) (*Trial, error)
	// Map runs a jq program (or a library mapping) on an input, as the
	// dataset would, without publishing or writing anything; Err of the
	// result is the program's error as the mapping package gives it
	// ("jq: ..."), without the dataset's prefix, so that a test case's
	// error: matches it. A failing program is a MapResult
	// with Err set; the error is for a run that could not be made: an
	// unknown asset, dataset or mapping (wrapping ErrNotFound), a request
	// the backend refuses (wrapping ErrInvalid) or ctx ending.
	Map(ctx context.Context, req MapRequest) (*MapResult, error)
	// Mappings lists the library mappings for the playground's picker.
	Mappings() []Mapping
}

// MaxPayloadBytes bounds every payload and body the page shows: a
// dataset's last message, a trial's response bodies and message payloads.
// The backend truncates to it (and says how long the whole was); the page
// truncates again whatever is longer.
const MaxPayloadBytes = 4 << 10

// ErrNotFound is wrapped by Backend errors about an asset, dataset or
// mapping that does not exist; the API answers 404 Not Found.
var ErrNotFound = errors.New("not found")

// ErrInvalid is wrapped by Backend errors about a request that cannot be
// run (say, a data point mapping given as a dataset's); the API answers
// 400 Bad Request.
var ErrInvalid = errors.New("invalid request")

// State is what a dataset is doing.
type State string

// The states of a dataset, in the order the page lists them by default
// (the ones needing attention first).
const (
	// StateFailing: its last sample failed (LastError says why).
	StateFailing State = "failing"
	// StateBackingOff: its device keeps failing, so ticks are skipped
	// until the back-off ends (SkippedTicks counts them).
	StateBackingOff State = "backing off"
	// StateSuppressed: it is sampled but its messages are held back, not
	// published (Suppressed counts them; LastError may say why).
	StateSuppressed State = "suppressed"
	// StateSampling: healthy, sampled every Interval.
	StateSampling State = "sampling"
	// StateDisabled: not sampled (the asset or its device is disabled).
	StateDisabled State = "disabled"
)

// States are the valid states, failing first.
func States() []State {
	return []State{StateFailing, StateBackingOff, StateSuppressed, StateSampling, StateDisabled}
}

// Dataset is one dataset as the page shows it.
type Dataset struct {
	Asset    string
	Dataset  string
	Device   string
	Endpoint string // the device's inbound endpoint name
	State    State
	// LastError is the error of the last failed sample while the dataset
	// is not healthy; empty when it is.
	LastError   string
	LastSample  time.Time // zero: never sampled
	LastPublish time.Time // zero: never published
	// LastMessage is the payload last published, at most
	// MaxPayloadBytes; LastMessageBytes is its whole length.
	LastMessage      []byte
	LastMessageBytes int
	Topic            string // of the first destination
	Interval         time.Duration
	// Counters since the connector started.
	Samples      int64 // samples made
	Failures     int64 // samples failed
	Messages     int64 // messages published
	Suppressed   int64 // messages held back
	Filtered     int64 // samples whose mapping gave no message
	MissedTicks  int64 // ticks that came late (the scheduler could not keep up)
	SkippedTicks int64 // ticks skipped (a sample still running, or backing off)
	// Jq is the dataset's own jq program; MappingName the library mapping
	// it uses instead (namespace/name). Both empty: the message is the
	// object of data point values.
	Jq          string
	MappingName string
}

// Connector is the connector-wide state.
type Connector struct {
	Version string
	Commit  string
	Started time.Time
	// BrokerURL is the MQTT broker's address, without credentials.
	BrokerURL string
	Connected bool
	Assets    int
	// QueueDepth is how many messages wait to be published.
	QueueDepth int
	// Settings are the connector's settings, already redacted: the page
	// shows them as given.
	Settings map[string]any
}

// Trial is what sampling a dataset once did.
type Trial struct {
	Time     time.Time // the sample time ($timestamp)
	Requests []Request
	// Input is the parsed value the dataset's mapping sees (the object of
	// data point values, or a dataset's one response), as decoded JSON
	// (numbers as json.Number keep their text); nil if the sample failed
	// before it.
	Input    any
	Values   []Value
	Messages []Message
	// Err is why the sample failed; empty if it did not.
	Err string
}

// Request is one HTTP request of a trial.
type Request struct {
	Method      string
	URL         string // without its query (it may hold a key)
	Status      int    // 0: no response
	Elapsed     time.Duration
	ContentType string
	// Body is the response body, at most MaxPayloadBytes; BodyBytes is
	// its whole length.
	Body      []byte
	BodyBytes int
	Err       string // empty: a response came
}

// Value is one data point value of a trial.
type Value struct {
	Name  string
	Value any // decoded JSON, as Trial.Input
	Err   string
}

// Message is one MQTT message that would be published.
type Message struct {
	Topic string
	// Payload is at most MaxPayloadBytes; PayloadBytes is its whole length.
	Payload      []byte
	PayloadBytes int
	Properties   Properties
}

// Properties are an MQTT message's properties.
type Properties struct {
	QoS            int
	Retain         bool
	ExpirySeconds  uint32 // 0: no expiry
	ContentType    string
	UserProperties []UserProperty // in order
}

// UserProperty is one MQTT v5 user property.
type UserProperty struct {
	Key, Value string
}

// MapRequest asks to run a program on an input as a dataset would. Give
// Jq or Mapping, or neither for the dataset's own jq or mapping.
type MapRequest struct {
	Asset   string
	Dataset string
	// Input is the value the mapping sees, as JSON (a Trial's Input).
	Input   json.RawMessage
	Jq      string // a dataset jq program
	Mapping string // or a library dataset mapping, namespace/name
}

// MapResult is what a program made of an input.
type MapResult struct {
	// Variables are the values the program ran with.
	Variables Variables
	// Outputs are the program's outputs in order, as JSON, whole: each
	// is one message to every destination; none means the sample would
	// be filtered.
	Outputs []json.RawMessage
	// Messages are what would be published: each output to each
	// destination of the dataset.
	Messages []Message
	// Err is why the program failed; empty if it did not.
	Err string
	// CompileError says that Err is the program's syntax or compile
	// error, so that it never ran.
	CompileError bool
	// TestCase is a mapping-file test case of this run, in YAML, to copy
	// under a mapping's tests: the page writes it (see TestCase), the
	// backend leaves it empty.
	TestCase string
}

// Variables are the values of a dataset mapping's variables.
type Variables struct {
	Asset           string
	Dataset         string
	Timestamp       string // RFC 3339 UTC with milliseconds
	AssetAttributes map[string]string
}

// Mapping is one library mapping.
type Mapping struct {
	Name        string // namespace/name
	Kind        string // "dataset" or "dataPoint"
	Description string
	// Jq is its program and Definitions the jq definitions of its file,
	// shown in the playground as a starting point.
	Jq          string
	Definitions string
}
