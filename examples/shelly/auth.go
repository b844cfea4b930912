package shelly

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The server side of the device's Digest authentication (RFC 7616), as
// the Gen2 firmware does it: SHA-256, qop auth, realm the device id, user
// admin. Nonces are issued on each 401 and, as from firmware 2.0, may be
// reused with an incrementing nonce count until they are used up or too
// old; then the device answers 401 with stale=true.

// nonce is an issued nonce and what was done with it.
type nonce struct {
	issued time.Time
	uses   int
	seen   map[uint64]bool // nonce counts used, so that none is replayed
}

// authorize checks the Authorization of r; it reports whether the request
// may proceed, and otherwise has written the 401. The caller holds mu.
func (d *Device) authorize(w http.ResponseWriter, r *http.Request) bool {
	p, ok := digestParams(r.Header.Get("Authorization"))
	if !ok {
		d.challenge(w, false)
		return false
	}
	if p["username"] != User || p["realm"] != ID || p["qop"] != "auth" || p["uri"] != r.RequestURI ||
		(p["algorithm"] != "" && p["algorithm"] != "SHA-256") {
		d.challenge(w, false)
		return false
	}
	nc, err := strconv.ParseUint(p["nc"], 16, 32)
	if err != nil || len(p["nc"]) != 8 || nc == 0 || p["cnonce"] == "" {
		d.challenge(w, false)
		return false
	}
	ha1 := sha256Hex(User + ":" + ID + ":" + d.password)
	ha2 := sha256Hex(r.Method + ":" + p["uri"])
	want := sha256Hex(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
	if subtle.ConstantTimeCompare([]byte(want), []byte(p["response"])) != 1 {
		d.challenge(w, false)
		return false
	}
	n := d.nonces[p["nonce"]]
	if n == nil || n.uses >= d.nonceUses || d.now().Sub(n.issued) >= d.nonceLifetime {
		delete(d.nonces, p["nonce"])
		d.challenge(w, true) // the right password with an old nonce
		return false
	}
	if n.seen[nc] {
		d.challenge(w, false) // a replay
		return false
	}
	n.seen[nc] = true
	n.uses++
	d.stats.Authenticated++
	return true
}

// challenge answers 401 with a fresh nonce. The caller holds mu.
func (d *Device) challenge(w http.ResponseWriter, stale bool) {
	d.expireNonces()
	var n string
	for n == "" || d.nonces[n] != nil {
		n = strconv.FormatUint(uint64(d.nonceRNG.Uint32()), 10)
	}
	d.nonces[n] = &nonce{issued: d.now(), seen: map[uint64]bool{}}
	v := `Digest qop="auth", realm="` + ID + `", nonce="` + n + `", algorithm=SHA-256`
	if stale {
		v += ", stale=true"
		d.stats.Stale++
	}
	d.stats.Unauthorized++
	w.Header().Set("WWW-Authenticate", v)
	w.WriteHeader(http.StatusUnauthorized)
}

// expireNonces forgets the nonces past their lifetime, so that a device
// polled for long keeps a bounded table. The caller holds mu.
func (d *Device) expireNonces() {
	for k, n := range d.nonces {
		if d.now().Sub(n.issued) >= d.nonceLifetime {
			delete(d.nonces, k)
		}
	}
}

// digestParams reads the parameters of a Digest Authorization header:
// name=value pairs separated by commas, values quoted or not.
func digestParams(h string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(h, "Digest ")
	if !ok {
		return nil, false
	}
	p := map[string]string{}
	for {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			return p, true
		}
		name, after, ok := strings.Cut(rest, "=")
		if !ok {
			return nil, false
		}
		name = strings.ToLower(strings.TrimSpace(name))
		after = strings.TrimLeft(after, " \t")
		var value strings.Builder
		if strings.HasPrefix(after, `"`) {
			i := 1
			for ; i < len(after) && after[i] != '"'; i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
				}
				value.WriteByte(after[i])
			}
			if i >= len(after) {
				return nil, false
			}
			rest = after[i+1:]
		} else {
			end := strings.IndexAny(after, ", \t")
			if end < 0 {
				end = len(after)
			}
			value.WriteString(after[:end])
			rest = after[end:]
		}
		p[name] = value.String()
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
