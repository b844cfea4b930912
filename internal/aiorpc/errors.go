package aiorpc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/http-connector/http-connector/internal/mqttclient"
)

// ErrTimeout is wrapped by Invoke's error when no response arrived within the
// command timeout.
var ErrTimeout = errors.New("no response before the command timeout")

// ErrorKind classifies a failed command response as the AIO SDKs do.
type ErrorKind string

// Kinds of remote errors, from __stat and the other response properties.
const (
	KindHeaderMissing          ErrorKind = "header missing"           // 400 with __propName only, or no valid __stat
	KindHeaderInvalid          ErrorKind = "header invalid"           // 400 with __propVal
	KindPayloadInvalid         ErrorKind = "payload invalid"          // 400 otherwise
	KindTimeout                ErrorKind = "executor timeout"         // 408
	KindUnsupportedContentType ErrorKind = "unsupported content type" // 415
	KindExecutionException     ErrorKind = "execution exception"      // 500 with __apErr=true
	KindInternalLogicError     ErrorKind = "internal logic error"     // 500 with __propName
	KindUnknownError           ErrorKind = "unknown error"            // 500 otherwise, and unknown codes
	KindInvalidState           ErrorKind = "invalid state"            // 503
	KindUnsupportedVersion     ErrorKind = "unsupported version"      // 505
)

// RemoteError is a command response whose __stat is not a success.
type RemoteError struct {
	Status           int // __stat; 0 when missing or not an integer
	Kind             ErrorKind
	Message          string // __stMsg
	PropertyName     string // __propName
	PropertyValue    string // __propVal
	ApplicationError bool   // __apErr
	// SupportedMajorVersions (__supProtMajVer) and RequestProtocolVersion
	// (__requestProtVer) come with 505.
	SupportedMajorVersions string
	RequestProtocolVersion string
}

func (e *RemoteError) Error() string {
	var b strings.Builder
	if e.Status != 0 {
		fmt.Fprintf(&b, "status %d ", e.Status)
	}
	b.WriteString(string(e.Kind))
	if e.PropertyName != "" {
		fmt.Fprintf(&b, " (%s", e.PropertyName)
		if e.PropertyValue != "" {
			fmt.Fprintf(&b, "=%q", e.PropertyValue)
		}
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Transient reports whether retrying may help: executor timeouts, 500
// errors that are not application errors, and 503.
func (e *RemoteError) Transient() bool {
	switch e.Status {
	case 408, 503:
		return true
	case 500:
		return !e.ApplicationError
	}
	return false
}

// statusOf reads __stat from a response. ok is true for a success (200 or
// 204); otherwise the returned error is a *RemoteError.
func statusOf(m *mqttclient.Message) (int, error) {
	prop := func(k string) string { v, _ := m.Property(k); return v }
	e := &RemoteError{
		Message:                prop(PropStatusMessage),
		PropertyName:           prop(PropInvalidPropertyName),
		PropertyValue:          prop(PropInvalidPropertyValue),
		ApplicationError:       strings.EqualFold(prop(PropIsApplicationError), "true"),
		SupportedMajorVersions: prop(PropSupportedMajorVersions),
		RequestProtocolVersion: prop(PropRequestProtocolVersion),
	}
	raw, present := m.Property(PropStatus)
	status, err := strconv.Atoi(raw)
	if !present || err != nil {
		e.Kind = KindHeaderMissing
		if present {
			e.Kind = KindHeaderInvalid
		}
		e.PropertyName, e.PropertyValue = PropStatus, raw
		return 0, e
	}
	e.Status = status
	switch status {
	case 200, 204:
		return status, nil
	case 400:
		switch {
		case e.PropertyValue != "":
			e.Kind = KindHeaderInvalid
		case e.PropertyName != "":
			e.Kind = KindHeaderMissing
		default:
			e.Kind = KindPayloadInvalid
		}
	case 408:
		e.Kind = KindTimeout
	case 415:
		e.Kind = KindUnsupportedContentType
	case 500:
		switch {
		case e.ApplicationError:
			e.Kind = KindExecutionException
		case e.PropertyName != "":
			e.Kind = KindInternalLogicError
		default:
			e.Kind = KindUnknownError
		}
	case 503:
		e.Kind = KindInvalidState
	case 505:
		e.Kind = KindUnsupportedVersion
	default:
		e.Kind = KindUnknownError
	}
	return status, e
}

// checkVersion accepts an absent __protVer (meaning 1.0) or any 1.x.
func checkVersion(m *mqttclient.Message) error {
	v, ok := m.Property(PropProtocolVersion)
	if !ok {
		return nil
	}
	major, _, _ := strings.Cut(v, ".")
	if n, err := strconv.Atoi(major); err != nil || n != ProtocolMajorVersion {
		return fmt.Errorf("response protocol version %q is not supported (want major version %d)", v, ProtocolMajorVersion)
	}
	return nil
}
