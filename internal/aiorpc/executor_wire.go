package aiorpc

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/http-connector/http-connector/internal/mqttclient"
)

// headerError returns the response to a request whose correlation data or
// message expiry is missing or invalid, nil if both are fine: 400 with
// __propName naming the MQTT property (command-errors.md; Rust recv).
// A request without correlation data is answered too, though without
// correlation data its invoker cannot match the response (all three SDKs do).
func (e *Executor) headerError(m *mqttclient.Message) *mqttclient.Message {
	switch {
	case len(m.CorrelationData) == 0:
		return e.reply(outcome{status: 400, message: "correlation data missing", propName: "Correlation Data"})
	case len(m.CorrelationData) != 16:
		// Not a UUID; Rust sends the bytes as __propVal when they are UTF-8.
		o := outcome{status: 400, message: "correlation data is not 16 bytes (a UUID)", propName: "Correlation Data"}
		if utf8.Valid(m.CorrelationData) {
			o.propValue = string(m.CorrelationData)
		}
		return e.reply(o)
	case m.MessageExpiry == 0:
		// command-timeouts.md: without an expiry the cache could never
		// let the request go, so it is refused.
		return e.reply(outcome{status: 400, message: "message expiry missing", propName: "Message Expiry"})
	}
	return nil
}

// check checks the protocol version, timestamp and content type of a
// request (in Rust recv's order) and returns the request for the handler,
// or the error response.
func (e *Executor) check(m *mqttclient.Message) (CommandRequest, *mqttclient.Message) {
	// __protVer absent means 1.0; otherwise "<major>.<minor>" with major 1
	// (Go version.Parse, Rust parse_protocol_version). Else 505 with
	// __requestProtVer and __supProtMajVer, the supported majors
	// space-separated (Go errutil ToUserProp, .NET GenerateResponseAsync).
	if v, ok := m.Property(PropProtocolVersion); ok {
		if major, ok := parseProtocolVersion(v); !ok || major != ProtocolMajorVersion {
			return CommandRequest{}, e.reply(outcome{
				status:         505,
				message:        fmt.Sprintf("protocol version %q is not supported (supported major versions: %d)", v, ProtocolMajorVersion),
				requestVersion: &v,
			})
		}
	}
	req := CommandRequest{
		Topic:           m.Topic,
		TopicTokens:     e.pattern.tokensOf(m.Topic),
		Payload:         m.Payload,
		ContentType:     m.ContentType,
		UTF8Payload:     m.UTF8Payload,
		CorrelationData: m.CorrelationData,
	}
	// A __ts that does not parse is 400 with __propName __ts and __propVal
	// its value (command-errors.md; Go listener.go handle). The SDKs also
	// merge it into their clock; ours only sends.
	if ts, ok := m.Property(PropTimestamp); ok {
		parsed, err := ParseTimestamp(ts)
		if err != nil {
			return CommandRequest{}, e.reply(outcome{status: 400, message: err.Error(), propName: PropTimestamp, propValue: ts})
		}
		req.Timestamp = parsed
	}
	// A content type the handler does not take is 415 with __propName
	// "Content Type" (command-errors.md; Rust recv); none is fine.
	if e.accept != nil && m.ContentType != "" && !e.accept[m.ContentType] {
		return CommandRequest{}, e.reply(outcome{
			status:    415,
			message:   fmt.Sprintf("content type %q is not supported", m.ContentType),
			propName:  "Content Type",
			propValue: m.ContentType,
		})
	}
	for _, p := range m.UserProperties {
		switch {
		case p.Key == PropSourceID:
			req.Invoker = p.Value // .NET InvokerClientId, Rust invoker_id
		case strings.HasPrefix(p.Key, "__"), p.Key == PropPartition, p.Key == PropHighPriority, p.Key == "aio-persistence":
		default:
			req.UserProperties = append(req.UserProperties, p)
		}
	}
	return req, nil
}

// parseProtocolVersion parses "<major>.<minor>".
func parseProtocolVersion(v string) (major int, ok bool) {
	ma, mi, found := strings.Cut(v, ".")
	if !found {
		return 0, false
	}
	n, err := strconv.ParseUint(ma, 10, 16)
	if err != nil {
		return 0, false
	}
	if _, err := strconv.ParseUint(mi, 10, 16); err != nil {
		return 0, false
	}
	return int(n), true
}

// outcome is what a response says.
type outcome struct {
	status              int
	message             string // __stMsg, errors only
	appError            bool   // __apErr true; errors only
	propName, propValue string
	requestVersion      *string // 505: __requestProtVer
	resp                CommandResponse
	appErr              *ApplicationError
}

// reply builds a response without topic, correlation data and expiry (send
// sets them). Its user properties: __stat; on errors __stMsg, __apErr
// ("true" for execution errors, else "false", as .NET adds it to error
// responses), __propName, __propVal; on 505 __requestProtVer and
// __supProtMajVer; then __protVer, __srcId (Go publisher.go build, Rust
// process_command; .NET sends none), __ts, $high_priority "" (ADR 31, all
// SDKs); then the handler's user properties and AppErrCode, AppErrPayload.
// Content type and payload format come with a payload only (.NET
// GenerateResponseAsync).
func (e *Executor) reply(o outcome) *mqttclient.Message {
	props := []mqttclient.UserProperty{{Key: PropStatus, Value: strconv.Itoa(o.status)}}
	add := func(k, v string) { props = append(props, mqttclient.UserProperty{Key: k, Value: v}) }
	if o.status >= 400 {
		add(PropStatusMessage, o.message)
		add(PropIsApplicationError, strconv.FormatBool(o.appError))
	}
	if o.propName != "" {
		add(PropInvalidPropertyName, o.propName)
		if o.propValue != "" {
			add(PropInvalidPropertyValue, o.propValue)
		}
	}
	if o.requestVersion != nil {
		add(PropRequestProtocolVersion, *o.requestVersion)
		add(PropSupportedMajorVersions, strconv.Itoa(ProtocolMajorVersion))
	}
	add(PropProtocolVersion, ProtocolVersion)
	add(PropSourceID, e.clientID)
	add(PropTimestamp, e.clock.Now())
	add(PropHighPriority, "")
	props = append(props, o.resp.UserProperties...)
	if o.appErr != nil {
		add(PropAppErrCode, o.appErr.Code)
		if o.appErr.Payload != "" { // Rust adds it only when not empty
			add(PropAppErrPayload, o.appErr.Payload)
		}
	}
	m := &mqttclient.Message{UserProperties: props}
	if len(o.resp.Payload) > 0 {
		m.Payload, m.ContentType, m.UTF8Payload = o.resp.Payload, o.resp.ContentType, o.resp.UTF8Payload
	}
	return m
}

// reservedResponseProperty returns the first user property of a handler's
// response that only the executor may set, or "".
func reservedResponseProperty(props []mqttclient.UserProperty) string {
	for _, p := range props {
		if strings.HasPrefix(p.Key, "__") || p.Key == PropHighPriority || p.Key == PropAppErrCode || p.Key == PropAppErrPayload {
			return p.Key
		}
	}
	return ""
}

// isoDuration formats d as an ISO 8601 duration such as PT30S or PT1M0.5S,
// as the 408 __propVal carries it (command-errors.md; .NET writes
// XmlConvert.ToString(TimeSpan), which gives the same for durations under a
// day; longer ones are written here in hours, not days).
func isoDuration(d time.Duration) string {
	if d <= 0 {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteString("PT")
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dH", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dM", m)
		d -= m * time.Minute
	}
	if d > 0 {
		b.WriteString(strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S")
	}
	return b.String()
}

// topicPattern is a request topic pattern with its tokens resolved where
// they have values.
type topicPattern struct {
	filter   string            // the subscription filter, "+" for open tokens
	open     map[int]string    // level of the filter → name of its open token
	resolved map[string]string // tokens of the pattern with a value
}

// parseTopicPattern checks a request topic pattern as the SDKs do (.NET
// MqttTopicProcessor.ValidateTopicPattern, Go internal/topic.go): levels not
// empty, the first not starting with "$", each either a token "{name}" or
// printable ASCII without space, '"', '+', '#', '{' and '}'. Tokens with a
// value (itself checked like .NET IsValidReplacement, and so possibly
// several levels) are replaced by it; the others become "+".
func parseTopicPattern(pattern string, values map[string]string) (topicPattern, error) {
	if pattern == "" {
		return topicPattern{}, fmt.Errorf("empty request topic")
	}
	if strings.HasPrefix(pattern, "$") {
		return topicPattern{}, fmt.Errorf("request topic %q starts with $", pattern)
	}
	p := topicPattern{open: map[int]string{}, resolved: map[string]string{}}
	var levels []string
	for i, level := range strings.Split(pattern, "/") {
		name, isToken := strings.CutPrefix(level, "{")
		name, closed := strings.CutSuffix(name, "}")
		switch {
		case level == "":
			return topicPattern{}, fmt.Errorf("request topic %q: level %d is empty", pattern, i+1)
		case !isToken || !closed:
			if !validLabel(level) {
				return topicPattern{}, fmt.Errorf("request topic %q: level %q holds a character not allowed in a topic", pattern, level)
			}
			levels = append(levels, level)
		case !validLabel(name):
			return topicPattern{}, fmt.Errorf("request topic %q: token %q is not a valid token name", pattern, level)
		default:
			v, ok := values[name]
			if !ok || v == "" {
				p.open[len(levels)] = name
				levels = append(levels, "+")
				continue
			}
			if !validReplacement(v) {
				return topicPattern{}, fmt.Errorf("request topic %q: value %q of token %s is not a valid topic", pattern, v, level)
			}
			p.resolved[name] = v
			levels = append(levels, strings.Split(v, "/")...)
		}
	}
	p.filter = strings.Join(levels, "/")
	return p, nil
}

// tokensOf returns the values of the pattern's tokens in a topic that
// matches the filter; nil when the pattern has none.
func (p topicPattern) tokensOf(topic string) map[string]string {
	if len(p.open) == 0 && len(p.resolved) == 0 {
		return nil
	}
	out := make(map[string]string, len(p.open)+len(p.resolved))
	for k, v := range p.resolved {
		out[k] = v
	}
	levels := strings.Split(topic, "/")
	for i, name := range p.open {
		if i < len(levels) {
			out[name] = levels[i]
		}
	}
	return out
}

// validLabel reports whether s is one topic level of printable ASCII
// without space, '"', '+', '#', '{', '}' and '/'.
func validLabel(s string) bool {
	return s != "" && !strings.Contains(s, "/") && validTopicChars(s)
}

// validReplacement reports whether s is a topic without wildcards and empty
// levels (.NET IsValidReplacement, with Go's ban on '"'): what a response
// topic or a token's value must be.
func validReplacement(s string) bool {
	return s != "" && !strings.HasPrefix(s, "/") && !strings.HasSuffix(s, "/") &&
		!strings.Contains(s, "//") && validTopicChars(s)
}

func validTopicChars(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < '!' || c > '~', c == '"', c == '+', c == '#', c == '{', c == '}':
			return false
		}
	}
	return true
}
