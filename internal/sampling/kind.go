package sampling

import (
	"errors"
	"net/http"

	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/httpauth"
)

// FailureKind says at which step a sample failed: what an operator looks at
// first, in runtime health reason codes and in metrics.
type FailureKind string

// The kinds of failure.
const (
	FailRequest  FailureKind = "request" // the device did not answer well
	FailAuth     FailureKind = "auth"    // the device refused the credentials (401, 403, a refused login or token)
	FailParse    FailureKind = "parse"   // the answer is not what its format says
	FailMapping  FailureKind = "mapping" // a jq program failed
	FailPublish  FailureKind = "publish" // the publisher refused a message
	FailInternal FailureKind = "internal"
)

// Kind is the kind of a sample's failure, err as Failing returns it.
func Kind(err error) FailureKind {
	var de *deviceError
	var pe *parseError
	var me *mappingError
	var pub *publishError
	switch {
	case err == nil:
		return ""
	case refusedCredentials(err):
		return FailAuth
	case errors.As(err, &de):
		return FailRequest
	case errors.As(err, &pe):
		return FailParse
	case errors.As(err, &me):
		return FailMapping
	case errors.As(err, &pub):
		return FailPublish
	}
	return FailInternal
}

// refusedCredentials reports a 401 or 403 answer, or a refused login or
// token request.
func refusedCredentials(err error) bool {
	var se *fetch.StatusError
	if errors.As(err, &se) && (se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden) {
		return true
	}
	var ae *httpauth.Error
	return errors.As(err, &ae) && ae.Refused
}

// parseError marks an answer that did not parse.
type parseError struct{ err error }

func (e *parseError) Error() string { return e.err.Error() }
func (e *parseError) Unwrap() error { return e.err }

// mappingError marks a jq program that failed.
type mappingError struct{ err error }

func (e *mappingError) Error() string { return e.err.Error() }
func (e *mappingError) Unwrap() error { return e.err }

// publishError marks a message the publisher refused.
type publishError struct{ err error }

func (e *publishError) Error() string { return e.err.Error() }
func (e *publishError) Unwrap() error { return e.err }
