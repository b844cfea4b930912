package aiorpc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// RetryPolicy is the .NET SDK's exponential back-off: retry n (from 1) waits
// 2^(n+6) ms, at most MaxDelay, varied by ±Jitter.
type RetryPolicy struct {
	MaxRetries int           // retries after the first attempt; 0 means none
	MaxDelay   time.Duration // cap of one wait
	Jitter     float64       // relative, e.g. 0.05 for ±5 %
}

// DefaultRetryPolicy is the .NET ADR client's policy: 10 retries, waits capped
// at 5 s, ±5 % jitter.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxRetries: 10, MaxDelay: 5 * time.Second, Jitter: 0.05}
}

// Delay returns the wait before retry n (1 for the first retry).
func (p RetryPolicy) Delay(n int) time.Duration {
	exp := min(max(n, 1)+6, 32)
	d := time.Duration(1<<exp) * time.Millisecond
	if p.MaxDelay > 0 && d > p.MaxDelay {
		d = p.MaxDelay
	}
	if p.Jitter > 0 {
		d = time.Duration(float64(d) * (1 + p.Jitter*(2*rand.Float64()-1)))
	}
	return d
}

// InvokeWithRetry is Invoke retried under policy while the failure is
// transient (see IsTransient). Each attempt gets the full timeout and new
// correlation data.
func (i *Invoker) InvokeWithRetry(ctx context.Context, requestTopic string, payload []byte, hasBody bool, timeout time.Duration, policy RetryPolicy) (Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := i.Invoke(ctx, requestTopic, payload, hasBody, timeout)
		if err == nil || !IsTransient(err) || attempt >= policy.MaxRetries || ctx.Err() != nil {
			if err != nil && attempt > 0 {
				err = fmt.Errorf("after %d attempts: %w", attempt+1, err)
			}
			return resp, err
		}
		wait := policy.Delay(attempt + 1)
		i.log.Debug().Err(err).Int("retry", attempt+1).Dur("wait", wait).Str("topic", requestTopic).Msg("retrying command")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Response{}, fmt.Errorf("invoke %s: %w (last error: %w)", requestTopic, ctx.Err(), err)
		case <-t.C:
		}
	}
}
