package akrimount

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
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
// is missed. It watches the parent directory, because kubelet replaces
// projected tokens by swapping a symbolic link. Empty reads (a file caught
// between truncate and write) and unchanged bytes are ignored. reauth failures
// are logged; the next CONNECT reads the file anyway. WatchToken blocks until
// ctx ends and then returns nil; it returns an error only if the watch cannot
// be set up.
func WatchToken(ctx context.Context, path string, reauth func(context.Context) error, log zerolog.Logger) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch service account token: %w", err)
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(path)); err != nil {
		return fmt.Errorf("watch service account token: %w", err)
	}

	last, _ := os.ReadFile(path)
	expiry := newExpiryTimer()
	defer expiry.stop()
	expiry.arm(last)

	refresh := func(force bool) {
		tok, err := os.ReadFile(path)
		if err != nil || len(tok) == 0 {
			if err != nil {
				log.Debug().Err(err).Msg("service account token not readable yet")
			}
			return
		}
		changed := !bytes.Equal(tok, last)
		if !changed && !force {
			return
		}
		last = tok
		if changed {
			expiry.arm(tok)
		}
		rctx, cancel := context.WithTimeout(ctx, reauthTimeout)
		err = reauth(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn().Err(err).Msg("mqtt re-authentication failed")
			return
		}
		log.Info().Bool("token_changed", changed).Msg("mqtt re-authenticated")
	}

	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-w.Events:
			if !ok {
				return errors.New("watch service account token: watcher closed")
			}
			refresh(false)
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("watch service account token: watcher closed")
			}
			log.Warn().Err(err).Msg("service account token watch error")
		case <-expiry.c():
			// The token is about to expire. Re-read and re-authenticate even
			// if the bytes look unchanged; arm again only for a new token.
			expiry.fired()
			refresh(true)
		}
	}
}

// expiryTimer fires reauthBeforeExpiry before the current token's exp.
type expiryTimer struct {
	t *time.Timer
}

func newExpiryTimer() *expiryTimer { return &expiryTimer{} }

func (e *expiryTimer) arm(token []byte) {
	e.stop()
	if exp, ok := TokenExpiry(token); ok {
		e.t = time.NewTimer(max(time.Until(exp.Add(-reauthBeforeExpiry)), 0))
	}
}

// c is nil, and so never ready, while the timer is not armed.
func (e *expiryTimer) c() <-chan time.Time {
	if e.t == nil {
		return nil
	}
	return e.t.C
}

func (e *expiryTimer) fired() { e.t = nil }

func (e *expiryTimer) stop() {
	if e.t != nil {
		e.t.Stop()
		e.t = nil
	}
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
