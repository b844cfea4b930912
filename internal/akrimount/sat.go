package akrimount

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/watch"
)

// SATMethod is the MQTT enhanced-authentication method for Kubernetes
// service account tokens.
const SATMethod = "K8S-SAT"

// reauthBeforeExpiry is how long before a token's exp the connection
// re-authenticates even if no file change was seen.
const reauthBeforeExpiry = 5 * time.Second

// reauthTimeout bounds one re-authentication round trip.
const reauthTimeout = 10 * time.Second

// SAT authenticates to the broker with the Kubernetes service account token
// in a file. It implements mqttclient.Authenticator and reads the file on
// every call, so each CONNECT uses the newest token.
type SAT struct {
	path string
}

// NewSAT returns an authenticator for the token file at path.
func NewSAT(path string) *SAT { return &SAT{path: path} }

// Method returns "K8S-SAT".
func (s *SAT) Method() string { return SATMethod }

// Data returns the token file's bytes.
func (s *SAT) Data() ([]byte, error) {
	tok, err := os.ReadFile(s.path)
	if err != nil {
		return nil, fmt.Errorf("read service account token: %w", err)
	}
	if len(tok) == 0 {
		return nil, fmt.Errorf("read service account token: %s is empty", s.path)
	}
	return tok, nil
}

// String names the token file, never the token.
func (s *SAT) String() string { return "SAT(" + s.path + ")" }

// WatchToken re-authenticates the MQTT connection whenever the token file at
// path changes, and also shortly before the token's JWT exp in case the change
// is missed. The file is watched through its folder (internal/watch), because
// kubelet replaces projected tokens by swapping a symbolic link. Empty reads
// (a file caught between truncate and write) and unchanged bytes are ignored.
// reauth failures are logged; the next CONNECT reads the file anyway.
// WatchToken blocks until ctx ends and then returns nil; it returns an error
// only if the watch cannot be set up. ready, if set, is called once the file
// is watched.
func WatchToken(ctx context.Context, path string, reauth func(context.Context) error, log zerolog.Logger, ready func()) error {
	tw := &tokenWatch{path: path, reauth: reauth, log: log, rearm: make(chan time.Time, 1)}
	tw.last, _ = os.ReadFile(path)
	tw.arm(tw.last)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { tw.expiries(ctx) })
	err := watch.Run(ctx, watch.Options{
		Paths:    []string{path},
		Delay:    tokenSettle,
		OnChange: func(ctx context.Context) { tw.refresh(ctx, false) },
		OnError:  func(err error) { log.Warn().Err(err).Msg("service account token watch error") },
		Ready:    ready,
	})
	if err != nil {
		return fmt.Errorf("watch service account token: %w", err)
	}
	return nil
}

// tokenSettle is the quiet time after a change of the token's folder
// before the token is read: kubelet's swap is several events.
const tokenSettle = 20 * time.Millisecond

// tokenWatch re-authenticates when the token changes or is about to expire.
type tokenWatch struct {
	path   string
	reauth func(context.Context) error
	log    zerolog.Logger
	rearm  chan time.Time // the expiry of a new token
	mu     sync.Mutex     // one refresh at a time
	last   []byte
}

// arm tells the expiry loop when the token ends, if it is a JWT.
func (tw *tokenWatch) arm(token []byte) {
	exp, ok := TokenExpiry(token)
	if !ok {
		return
	}
	select {
	case <-tw.rearm: // an older expiry not yet taken
	default:
	}
	tw.rearm <- exp
}

// expiries re-authenticates reauthBeforeExpiry before the current token's
// exp, even if the bytes look unchanged, until ctx ends.
func (tw *tokenWatch) expiries(ctx context.Context) {
	var timer *time.Timer
	var fire <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case exp := <-tw.rearm:
			if timer != nil {
				timer.Stop()
			}
			timer = time.NewTimer(max(time.Until(exp.Add(-reauthBeforeExpiry)), 0))
			fire = timer.C
		case <-fire:
			fire = nil
			tw.refresh(ctx, true)
		}
	}
}

func (tw *tokenWatch) refresh(ctx context.Context, force bool) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tok, err := os.ReadFile(tw.path)
	if err != nil || len(tok) == 0 {
		if err != nil {
			tw.log.Debug().Err(err).Msg("service account token not readable yet")
		}
		return
	}
	changed := !bytes.Equal(tok, tw.last)
	if !changed && !force {
		return
	}
	tw.last = tok
	if changed {
		tw.arm(tok)
	}
	rctx, cancel := context.WithTimeout(ctx, reauthTimeout)
	err = tw.reauth(rctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		tw.log.Warn().Err(err).Msg("mqtt re-authentication failed")
		return
	}
	tw.log.Info().Bool("token_changed", changed).Msg("mqtt re-authenticated")
}

// TokenExpiry returns the exp claim of a JWT without verifying it; ok is false
// when the token is not a JWT or has no numeric exp.
func TokenExpiry(token []byte) (exp time.Time, ok bool) {
	parts := strings.Split(strings.TrimSpace(string(token)), ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp *float64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == nil {
		return time.Time{}, false
	}
	if *claims.Exp <= 0 || *claims.Exp > math.MaxInt32*4 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(*claims.Exp)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
