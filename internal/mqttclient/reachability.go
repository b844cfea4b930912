package mqttclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// reachability reports a broker that cannot be reached as an operator can
// act on it: the first failed attempt once, with the broker's address and
// what to check; then a summary at growing intervals (for how long, how
// many attempts) instead of a line per attempt; and the connection when it
// comes, with how long the broker was away.
type reachability struct {
	broker string
	log    zerolog.Logger
	now    func() time.Time

	mu       sync.Mutex
	failing  bool
	since    time.Time
	attempts int
	next     time.Duration // the elapsed time of the next summary
}

// Summaries of a broker still unreachable come at these elapsed times, each
// twice the one before, at most maxSummaryGap apart.
const (
	firstSummary  = 30 * time.Second
	maxSummaryGap = 30 * time.Minute
)

func newReachability(broker string, log zerolog.Logger) *reachability {
	return &reachability{broker: broker, log: log, now: time.Now}
}

// failed takes a failed connection attempt.
func (r *reachability) failed(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if !r.failing {
		r.failing, r.since, r.attempts, r.next = true, now, 1, firstSummary
		r.log.Warn().Str("broker", r.broker).Str("error", reason(err)).Str("check", check(err)).
			Msg("mqtt broker unreachable; retrying in the background")
		return
	}
	r.attempts++
	if elapsed := now.Sub(r.since); elapsed >= r.next {
		r.log.Warn().Str("broker", r.broker).Str("error", reason(err)).
			Str("for", elapsed.Round(time.Second).String()).Int("attempts", r.attempts).
			Msg("mqtt broker still unreachable")
		r.next = min(2*r.next, r.next+maxSummaryGap)
	}
}

// connected takes a connection, and says how long the broker was away.
func (r *reachability) connected(sessionPresent bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.log.Info().Str("broker", r.broker).Bool("session_present", sessionPresent)
	if r.failing {
		ev = ev.Dur("after", r.now().Sub(r.since)).Int("failed_attempts", r.attempts)
		r.failing = false
	}
	ev.Msg("mqtt connected")
}

// reason is the cause of a failed attempt without the addresses the
// layers above it repeat.
func reason(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		err = sys.Err
	}
	return err.Error()
}

// check says what to look at for a failed attempt.
func check(err error) string {
	const where = "the broker setting (--broker) standalone, MQTT_CONNECTION_CONFIGURATION in Akri mode"
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens there: is the broker running, and is the address right (" + where + ")?"
	case errors.As(err, &dns):
		return "the host name does not resolve: is the address right (" + where + ")?"
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &verify):
		return "TLS: the broker's certificate is not trusted for this name (brokerCaFile standalone, the broker trust bundle in Akri mode)"
	case errors.As(err, &record):
		return "TLS: the broker does not speak TLS on this port (mqtt:// or mqtts://?)"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "no answer in time: a firewall, or the wrong port (" + where + ")?"
	case strings.Contains(strings.ToLower(err.Error()), "not authorized"), strings.Contains(strings.ToLower(err.Error()), "bad user name or password"):
		return "the broker refused the client: check the credentials (brokerUsername and brokerPasswordFile standalone, the service account token in Akri mode)"
	}
	return "the address (" + where + "), TLS and the credentials"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
