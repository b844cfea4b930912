package httpauth

import (
	"context"
	"sync"
	"time"
)

// Back-off after a failed login or token request: the first retry after
// backoffMin, doubling up to backoffMax.
const (
	backoffMin = time.Second
	backoffMax = time.Minute
)

// keeper keeps the credential of an endpoint (a token, or the fact of a
// session) for all its requests. One request at a time obtains it; the
// others wait for that one. After a failure, callers get the same error at
// once for a back-off window, without a request.
type keeper struct {
	what  string // "login" or "oauth2 token", for errors
	opts  Options
	early time.Duration // renew this long before expiry, at most half the lifetime

	mu       sync.Mutex
	cur      *grant  // nil: none
	flight   *flight // the request obtaining one, if any
	failures int     // failed requests since the last success
	retryAt  time.Time
	lastErr  error
}

// grant is an obtained credential.
type grant struct {
	value   string
	renewAt time.Time // from then on a new one is obtained; zero: never
	expiry  time.Time // from then on it is no longer used; zero: never
}

// fresh reports whether g needs no renewal at now.
func (g *grant) fresh(now time.Time) bool { return g.renewAt.IsZero() || now.Before(g.renewAt) }

// usable reports whether g may still be sent at now.
func (g *grant) usable(now time.Time) bool { return g.expiry.IsZero() || now.Before(g.expiry) }

// flight is a request obtaining a grant, which other callers wait for.
type flight struct {
	done      chan struct{}
	g         *grant
	err       error
	abandoned bool // its caller gave up: the failure says nothing of the endpoint
}

// obtainer obtains a credential: its value and how long it lasts (0:
// until refused).
type obtainer func(ctx context.Context) (value string, lifetime time.Duration, err error)

// get returns a usable grant: the kept one, or one obtained now by this
// caller or another. A kept grant that is due for renewal but not expired
// is returned while another caller renews it, and when renewing it failed.
func (k *keeper) get(ctx context.Context, obtain obtainer) (*grant, error) {
	for {
		k.mu.Lock()
		now := k.opts.Now()
		g := k.cur
		if g != nil && g.fresh(now) {
			k.mu.Unlock()
			return g, nil
		}
		usable := g != nil && g.usable(now)
		if f := k.flight; f != nil {
			k.mu.Unlock()
			if usable {
				return g, nil
			}
			select {
			case <-f.done:
				if f.abandoned {
					continue
				}
				return f.g, f.err
			case <-ctx.Done():
				return nil, k.opts.errorf("wait for the %s in progress: %w", k.what, context.Cause(ctx))
			}
		}
		if now.Before(k.retryAt) {
			err := k.lastErr
			k.mu.Unlock()
			if usable {
				return g, nil
			}
			return nil, err
		}
		f := &flight{done: make(chan struct{})}
		k.flight = f
		k.mu.Unlock()
		return k.lead(ctx, f, g, usable, obtain)
	}
}

// lead obtains a grant for the callers waiting on f. old is the kept
// grant, which is returned if obtaining a new one fails while it is
// usable.
func (k *keeper) lead(ctx context.Context, f *flight, old *grant, usable bool, obtain obtainer) (*grant, error) {
	start := k.opts.Now()
	value, lifetime, err := obtain(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	defer close(f.done)
	k.flight = nil
	if err != nil {
		f.err = err
		if ctx.Err() != nil {
			f.abandoned = true
		} else {
			k.failures++
			k.retryAt = k.opts.Now().Add(backoff(k.failures))
			k.lastErr = err
		}
		if usable {
			return old, nil
		}
		return nil, err
	}
	g := &grant{value: value}
	if lifetime > 0 {
		g.expiry = start.Add(lifetime)
		g.renewAt = g.expiry.Add(-min(k.early, lifetime/2))
	}
	k.cur, f.g = g, g
	k.failures, k.retryAt, k.lastErr = 0, time.Time{}, nil
	return g, nil
}

// drop forgets g, which the endpoint refused, unless another caller has
// replaced it already.
func (k *keeper) drop(g *grant) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur == g {
		k.cur = nil
	}
}

// backoff is how long callers get the last error after n failures in a
// row.
func backoff(n int) time.Duration {
	if n > 7 { // 1 s << 6 is past backoffMax already
		return backoffMax
	}
	return min(backoffMin<<(n-1), backoffMax)
}
