package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Retry is how a request is tried again within one sample: only after a
// network error, a 5xx or a 429 response; with exponential backoff and
// jitter; never sooner than a Retry-After header asks; and never past the
// caller's deadline: a retry that could not finish in time is not started,
// and the last error is returned instead.
type Retry struct {
	// Attempts is the number of tries in all, the first included; 1 or
	// less means no retry.
	Attempts int
	// Base is the delay before the first retry; it doubles after each.
	Base time.Duration
	// Max caps one delay. A Retry-After longer than Max ends the retries.
	Max time.Duration
	// OnRetry, if set, is told of each retry before its delay: the attempt
	// that failed (1 for the first), the delay and the error.
	OnRetry func(attempt int, delay time.Duration, err error)
}

// DefaultRetry is the policy samples use unless told otherwise: three tries,
// 100 ms then 200 ms apart (less jitter), delays capped at 2 s.
func DefaultRetry() Retry {
	return Retry{Attempts: 3, Base: 100 * time.Millisecond, Max: 2 * time.Second}
}

// DoRetry performs r like Do, retrying as p says.
func (c *Client) DoRetry(ctx context.Context, r *Request, p Retry) (*Response, error) {
	began := time.Now()
	resp, err := c.Do(ctx, r)
	return c.retry(ctx, r, p, began, resp, err)
}

// retry goes on from r's first attempt, begun at began, which gave resp and
// err.
func (c *Client) retry(ctx context.Context, r *Request, p Retry, began time.Time, resp *Response, err error) (*Response, error) {
	var last error
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			began = time.Now()
			resp, err = c.Do(ctx, r)
		}
		if err != nil && last != nil && ctx.Err() != nil {
			// A retry cut short by the deadline says less than the
			// device's own failure before it.
			return nil, last
		}
		if err == nil || attempt >= p.Attempts || ctx.Err() != nil || !Retryable(err) {
			return resp, err
		}
		last = err
		delay, ok := p.delay(attempt, err)
		if !ok {
			return nil, err
		}
		// The next try needs the delay and about as long as this one took.
		if dl, has := ctx.Deadline(); has && time.Until(dl) < delay+time.Since(began) {
			return nil, err
		}
		if p.OnRetry != nil {
			p.OnRetry(attempt, delay, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
	}
}

// delay is the wait after failed attempt n (1-based): base·2ⁿ⁻¹ capped at
// Max, less up to half of it at random, and never less than Retry-After.
// It returns false when Retry-After asks for more than Max.
func (p Retry) delay(n int, err error) (time.Duration, bool) {
	base, ceiling := p.Base, p.Max
	if base <= 0 {
		base = 100 * time.Millisecond
	}
	if ceiling <= 0 {
		ceiling = 2 * time.Second
	}
	d := min(base<<min(n-1, 20), ceiling)
	d -= time.Duration(rand.Int64N(int64(d/2) + 1))
	var se *StatusError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		if se.RetryAfter > ceiling {
			return 0, false
		}
		d = max(d, se.RetryAfter)
	}
	return d, true
}

// Retryable reports whether err from Do may go away if the request is made
// again: a network error, a 5xx or a 429 response. Deadlines, oversized
// bodies, certificate problems and other statuses are not retried.
func Retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == http.StatusTooManyRequests
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTooLarge) {
		return false
	}
	var (
		verify    *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
		alert     tls.AlertError
	)
	if errors.As(err, &verify) || errors.As(err, &unknownCA) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &record) || errors.As(err, &alert) {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return !dnsErr.IsNotFound
	}
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE)
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
// Anything else, or a time in the past, is 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(min(secs, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}
