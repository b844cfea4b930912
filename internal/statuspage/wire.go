package statuspage

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// The JSON the API answers with. The types of backend.go are the Go
// contract; these are the wire format, so that either can change
// without the other: times as RFC 3339 (absent when zero), durations in
// milliseconds, payloads as text cut to a bound.

const (
	// rowMessageBytes bounds the last message shown in a table row; the
	// whole (up to MaxPayloadBytes) comes from /api/dataset.
	rowMessageBytes = 160
	// rowErrorBytes bounds the last error shown in a table row.
	rowErrorBytes = 512
)

type rowJSON struct {
	Asset            string `json:"asset"`
	Dataset          string `json:"dataset"`
	Device           string `json:"device"`
	Endpoint         string `json:"endpoint"`
	State            State  `json:"state"`
	LastError        string `json:"lastError,omitempty"`
	LastSample       string `json:"lastSample,omitempty"`
	LastPublish      string `json:"lastPublish,omitempty"`
	LastMessage      string `json:"lastMessage,omitempty"`
	LastMessageBytes int    `json:"lastMessageBytes"`
	Topic            string `json:"topic,omitempty"`
	IntervalMs       int64  `json:"intervalMs"`
	Samples          int64  `json:"samples"`
	Failures         int64  `json:"failures"`
	Messages         int64  `json:"messages"`
	Suppressed       int64  `json:"suppressed"`
	Filtered         int64  `json:"filtered"`
	MissedTicks      int64  `json:"missedTicks"`
	SkippedTicks     int64  `json:"skippedTicks"`
	Jq               string `json:"jq,omitempty"`
	Mapping          string `json:"mapping,omitempty"`
}

// row is d as a table row (short) or, with whole, as its detail: the
// last message up to MaxPayloadBytes and the whole last error.
func row(d *Dataset, whole bool) rowJSON {
	msgLimit, errLimit := rowMessageBytes, rowErrorBytes
	if whole {
		msgLimit, errLimit = MaxPayloadBytes, len(d.LastError)
	}
	return rowJSON{
		Asset: d.Asset, Dataset: d.Dataset, Device: d.Device, Endpoint: d.Endpoint,
		State:            d.State,
		LastError:        text([]byte(d.LastError), errLimit),
		LastSample:       timeText(d.LastSample),
		LastPublish:      timeText(d.LastPublish),
		LastMessage:      text(d.LastMessage, msgLimit),
		LastMessageBytes: max(d.LastMessageBytes, len(d.LastMessage)),
		Topic:            d.Topic,
		IntervalMs:       d.Interval.Milliseconds(),
		Samples:          d.Samples, Failures: d.Failures, Messages: d.Messages,
		Suppressed: d.Suppressed, Filtered: d.Filtered,
		MissedTicks: d.MissedTicks, SkippedTicks: d.SkippedTicks,
		Jq: d.Jq, Mapping: d.MappingName,
	}
}

type connectorJSON struct {
	Version    string         `json:"version"`
	Commit     string         `json:"commit,omitempty"`
	Started    string         `json:"started,omitempty"`
	BrokerURL  string         `json:"brokerUrl"`
	Connected  bool           `json:"connected"`
	Assets     int            `json:"assets"`
	Datasets   int            `json:"datasets"`
	QueueDepth int            `json:"queueDepth"`
	Settings   map[string]any `json:"settings"`
	// Now is the server's time, so that the page shows ages and the
	// uptime by the connector's clock rather than the browser's.
	Now string `json:"now,omitempty"`
}

func connectorView(c *Connector, datasets int) connectorJSON {
	settings := c.Settings
	if settings == nil {
		settings = map[string]any{}
	}
	return connectorJSON{
		Version: c.Version, Commit: c.Commit, Started: timeText(c.Started),
		BrokerURL: c.BrokerURL, Connected: c.Connected,
		Assets: c.Assets, Datasets: datasets, QueueDepth: c.QueueDepth,
		Settings: settings,
	}
}

type trialJSON struct {
	Time     string        `json:"time,omitempty"`
	Requests []requestJSON `json:"requests"`
	// Input is the value the mapping sees, as JSON: null when the sample
	// failed before it. InputText is the same, indented, as text: a
	// browser's JSON.parse would round numbers (71.30, big integers).
	Input     json.RawMessage `json:"input"`
	InputText string          `json:"inputText"`
	Values    []valueJSON     `json:"values"`
	Messages  []messageJSON   `json:"messages"`
	Err       string          `json:"error,omitempty"`
}

type requestJSON struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	Status      int    `json:"status,omitempty"`
	ElapsedMs   int64  `json:"elapsedMs"`
	ContentType string `json:"contentType,omitempty"`
	Body        string `json:"body"`
	BodyBytes   int    `json:"bodyBytes"`
	Err         string `json:"error,omitempty"`
}

type valueJSON struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value,omitempty"`
	Text  string          `json:"text,omitempty"` // Value as text, numbers as they came
	Err   string          `json:"error,omitempty"`
}

type messageJSON struct {
	Topic          string             `json:"topic"`
	Payload        string             `json:"payload"`
	PayloadBytes   int                `json:"payloadBytes"`
	QoS            int                `json:"qos"`
	Retain         bool               `json:"retain"`
	ExpirySeconds  uint32             `json:"expirySeconds,omitempty"`
	ContentType    string             `json:"contentType,omitempty"`
	UserProperties []userPropertyJSON `json:"userProperties,omitempty"`
}

type userPropertyJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type mapJSON struct {
	Variables    variablesJSON `json:"variables"`
	Outputs      int           `json:"outputs"`
	Messages     []messageJSON `json:"messages"`
	Err          string        `json:"error,omitempty"`
	CompileError bool          `json:"compileError,omitempty"`
	TestCase     string        `json:"testCase"`
}

type variablesJSON struct {
	Asset           string            `json:"asset"`
	Dataset         string            `json:"dataset"`
	Timestamp       string            `json:"timestamp"`
	AssetAttributes map[string]string `json:"assetAttributes,omitempty"`
}

type mappingJSON struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Description string `json:"description,omitempty"`
	Jq          string `json:"jq"`
	Definitions string `json:"definitions,omitempty"`
}

func trialView(t *Trial) trialJSON {
	input := jsonOf(t.Input)
	var indented bytes.Buffer
	if err := json.Indent(&indented, input, "", "  "); err != nil {
		indented.Reset()
	}
	out := trialJSON{
		Time:      timeText(t.Time),
		Requests:  make([]requestJSON, len(t.Requests)),
		Input:     input,
		InputText: indented.String(),
		Values:    make([]valueJSON, len(t.Values)),
		Messages:  messagesView(t.Messages),
		Err:       t.Err,
	}
	for i, r := range t.Requests {
		out.Requests[i] = requestJSON{
			Method: r.Method, URL: withoutQuery(r.URL), Status: r.Status,
			ElapsedMs: r.Elapsed.Milliseconds(), ContentType: r.ContentType,
			Body: text(r.Body, MaxPayloadBytes), BodyBytes: max(r.BodyBytes, len(r.Body)),
			Err: r.Err,
		}
	}
	for i, v := range t.Values {
		out.Values[i] = valueJSON{Name: v.Name, Err: v.Err}
		if v.Err == "" {
			out.Values[i].Value = jsonOf(v.Value)
			out.Values[i].Text = string(out.Values[i].Value)
		}
	}
	return out
}

func messagesView(msgs []Message) []messageJSON {
	out := make([]messageJSON, len(msgs))
	for i, m := range msgs {
		p := m.Properties
		out[i] = messageJSON{
			Topic: m.Topic, Payload: text(m.Payload, MaxPayloadBytes),
			PayloadBytes: max(m.PayloadBytes, len(m.Payload)),
			QoS:          p.QoS, Retain: p.Retain, ExpirySeconds: p.ExpirySeconds,
			ContentType: p.ContentType,
		}
		for _, u := range p.UserProperties {
			out[i].UserProperties = append(out[i].UserProperties, userPropertyJSON(u))
		}
	}
	return out
}

func mapView(r *MapResult) mapJSON {
	return mapJSON{
		Variables:    variablesJSON(r.Variables),
		Outputs:      len(r.Outputs),
		Messages:     messagesView(r.Messages),
		Err:          r.Err,
		CompileError: r.CompileError,
		TestCase:     r.TestCase,
	}
}

// jsonOf is v as JSON; a value that is not JSON (it cannot happen with
// decoded JSON) is null.
func jsonOf(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// text is at most limit bytes of b as valid UTF-8, never cutting a
// character.
func text(b []byte, limit int) string {
	if len(b) > limit {
		b = b[:limit]
		// Drop a character cut in two: the last rune start whose bytes
		// are no longer a whole rune.
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// withoutQuery drops a URL's query and fragment, which may hold a key,
// whatever the backend gave.
func withoutQuery(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}
