package akrimount_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/akrimount"
	"github.com/http-connector/http-connector/internal/broker"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/testcert"
)

// jwt builds an unsigned JWT-shaped token with the given claims JSON.
func jwt(claims string) []byte {
	enc := base64.RawURLEncoding
	return []byte(enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + enc.EncodeToString([]byte(claims)) + ".c2ln")
}

func TestTokenExpiry(t *testing.T) {
	tests := []struct {
		name  string
		token []byte
		want  time.Time
		ok    bool
	}{
		{"integer exp", jwt(`{"exp":1753180800,"aud":["aio-internal"]}`), time.Unix(1753180800, 0), true},
		{"fractional exp", jwt(`{"exp":1753180800.5}`), time.Unix(1753180800, 5e8), true},
		{"trailing newline", append(jwt(`{"exp":1753180800}`), '\n'), time.Unix(1753180800, 0), true},
		{"padded payload", []byte("a." + base64.URLEncoding.EncodeToString([]byte(`{"exp":17}`)) + ".c"), time.Unix(17, 0), true},
		{"no exp", jwt(`{"sub":"x"}`), time.Time{}, false},
		{"string exp", jwt(`{"exp":"soon"}`), time.Time{}, false},
		{"not a jwt", []byte("opaque-token"), time.Time{}, false},
		{"bad base64", []byte("a.!!!.c"), time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := akrimount.TokenExpiry(tt.token)
			if ok != tt.ok || !got.Equal(tt.want) {
				t.Errorf("TokenExpiry = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSATData(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	sat := akrimount.NewSAT(p)
	if _, err := sat.Data(); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: err = %v", err)
	}
	writeFile(t, p, nil)
	if _, err := sat.Data(); err == nil || err.Error() != "read service account token: "+p+" is empty" {
		t.Errorf("empty file: err = %v", err)
	}
	for _, tok := range []string{"first", "second"} {
		writeFile(t, p, []byte(tok))
		if got, err := sat.Data(); err != nil || string(got) != tok {
			t.Errorf("Data = %q, %v; want %q (re-read every call)", got, err, tok)
		}
	}
	if s := fmt.Sprint(sat); strings.Contains(s, "second") || s != "SAT("+p+")" {
		t.Errorf("String = %q", s)
	}
}

// kubeletToken lays a token out like a projected volume: dir/token is a
// symlink to ..data/token and ..data links to a timestamped folder.
type kubeletToken struct {
	t   *testing.T
	dir string
	gen int
}

func (k *kubeletToken) path() string { return filepath.Join(k.dir, "token") }

// write swaps in a new token atomically, as kubelet does.
func (k *kubeletToken) write(tok []byte) {
	k.t.Helper()
	k.gen++
	ts := fmt.Sprintf("..2025_07_22_%03d", k.gen)
	writeFile(k.t, filepath.Join(k.dir, ts, "token"), tok)
	tmp := filepath.Join(k.dir, "..data_tmp")
	mustSymlink(k.t, ts, tmp)
	if err := os.Rename(tmp, filepath.Join(k.dir, "..data")); err != nil {
		k.t.Fatal(err)
	}
	if k.gen == 1 {
		mustSymlink(k.t, "..data/token", k.path())
	} else if err := os.RemoveAll(filepath.Join(k.dir, fmt.Sprintf("..2025_07_22_%03d", k.gen-1))); err != nil {
		k.t.Fatal(err)
	}
}

// reauthRecorder records the token seen by each re-authentication.
type reauthRecorder struct {
	path string
	ch   chan string
}

func (r *reauthRecorder) reauth(context.Context) error {
	b, err := os.ReadFile(r.path)
	if err != nil {
		return err
	}
	r.ch <- string(b)
	return nil
}

func (r *reauthRecorder) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-r.ch:
		if got != want {
			t.Fatalf("re-authenticated with %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no re-authentication with %q", want)
	}
}

func (r *reauthRecorder) expectNone(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case got := <-r.ch:
		t.Fatalf("unexpected re-authentication with %q", got)
	case <-time.After(within):
	}
}

func startWatch(t *testing.T, path string, reauth func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() { done <- akrimount.WatchToken(ctx, path, reauth, zerolog.Nop(), func() { close(ready) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("WatchToken returned %v", err)
		}
	})
	<-ready // the watch is in place before the test changes files
}

func TestWatchTokenFileChanges(t *testing.T) {
	k := &kubeletToken{t: t, dir: t.TempDir()}
	k.write([]byte("token-1"))
	rec := &reauthRecorder{path: k.path(), ch: make(chan string, 10)}
	startWatch(t, k.path(), rec.reauth)

	k.write([]byte("token-2"))
	rec.expect(t, "token-2")

	// The same bytes again: no re-authentication.
	k.write([]byte("token-2"))
	rec.expectNone(t, 300*time.Millisecond)

}

func TestWatchTokenPlainFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	writeFile(t, p, []byte("token-1"))
	rec := &reauthRecorder{path: p, ch: make(chan string, 10)}
	startWatch(t, p, rec.reauth)

	// An in-place rewrite, with an empty moment in between.
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rec.expectNone(t, 200*time.Millisecond)
	if err := os.WriteFile(p, []byte("token-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec.expect(t, "token-2")
}

func TestWatchTokenExpiry(t *testing.T) {
	// exp is 5.3 s away: the watch re-authenticates about 0.3 s from now,
	// with no file change.
	exp := time.Now().Add(5*time.Second + 300*time.Millisecond)
	tok := jwt(fmt.Sprintf(`{"exp":%d.%03d}`, exp.Unix(), exp.Nanosecond()/1e6))
	p := filepath.Join(t.TempDir(), "token")
	writeFile(t, p, tok)
	rec := &reauthRecorder{path: p, ch: make(chan string, 10)}
	start := time.Now()
	startWatch(t, p, rec.reauth)
	rec.expect(t, string(tok))
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("re-authenticated after %s, want about 300ms", d)
	}
	// Same token: the timer is not re-armed, so no busy loop.
	rec.expectNone(t, 300*time.Millisecond)
}

// satHook records the K8S-SAT data of CONNECT and AUTH packets and accepts
// re-authentication.
type satHook struct {
	mqtt.HookBase
	mu      sync.Mutex
	connect []string
	auth    chan string
}

func (h *satHook) ID() string { return "sat" }

func (h *satHook) Provides(b byte) bool { return b == mqtt.OnConnect || b == mqtt.OnAuthPacket }

func (h *satHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.connect = append(h.connect, pk.Properties.AuthenticationMethod+"="+string(pk.Properties.AuthenticationData))
	return nil
}

func (h *satHook) OnAuthPacket(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	h.auth <- pk.Properties.AuthenticationMethod + "=" + string(pk.Properties.AuthenticationData)
	err := cl.WritePacket(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Auth},
		ReasonCode:  packets.CodeSuccess.Code,
		Properties:  packets.Properties{AuthenticationMethod: pk.Properties.AuthenticationMethod},
	})
	return pk, err
}

// TestConnectTLSAndSAT connects with the options built from a mount (TLS with
// the mounted trust bundle, K8S-SAT) and re-authenticates on a token change.
func TestConnectTLSAndSAT(t *testing.T) {
	ca := testcert.CA(t, "test root")
	server := testcert.Leaf(t, "127.0.0.1", &ca)
	hook := &satHook{auth: make(chan string, 10)}
	b, err := broker.Start(broker.Options{
		Address: "127.0.0.1:0",
		TLS: &tls.Config{Certificates: []tls.Certificate{{
			Certificate: [][]byte{server.DER}, PrivateKey: server.Key,
		}}},
		Hooks: []mqtt.Hook{hook},
	})
	if err != nil {
		t.Fatal(err)
	}
	clients := mqtttest.CloseFirst(t, b.URL(), b.Close)

	root := t.TempDir()
	cfg := filepath.Join(root, "config")
	writeFile(t, filepath.Join(cfg, "MQTT_CONNECTION_CONFIGURATION"),
		[]byte(`{"host":"`+b.Address()+`","keepAliveSeconds":10,"tls":{"mode":"Enabled"}}`))
	writeFile(t, filepath.Join(root, "trust", "ca.txt"), append([]byte("Bag Attributes\n    localKeyID: 01\n\n"), ca.CertPEM()...))
	writeFile(t, filepath.Join(root, "resources", "dev_ep"), nil)
	k := &kubeletToken{t: t, dir: filepath.Join(root, "sat")}
	k.write([]byte("token-1"))

	env, err := akrimount.Load(envFrom(map[string]string{
		"CONNECTOR_ID":                              "sat-client",
		"CONNECTOR_CONFIGURATION_MOUNT_PATH":        cfg,
		"ADR_RESOURCES_NAME_MOUNT_PATH":             filepath.Join(root, "resources"),
		"BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH": filepath.Join(root, "trust"),
		"BROKER_SAT_MOUNT_PATH":                     k.path(),
	}))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := env.MQTTOptions(zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	// The options built from the mount, as they are.
	client := clients.Connect(t, "sat-client", func(o *mqttclient.Options) { *o = opts })
	hook.mu.Lock()
	got := strings.Join(hook.connect, ",")
	hook.mu.Unlock()
	if got != "K8S-SAT=token-1" {
		t.Errorf("CONNECT authentication = %q, want K8S-SAT=token-1", got)
	}

	startWatch(t, k.path(), client.Reauthenticate)
	k.write([]byte("token-2"))
	select {
	case got := <-hook.auth:
		if got != "K8S-SAT=token-2" {
			t.Errorf("AUTH = %q, want K8S-SAT=token-2", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no AUTH packet after the token changed")
	}
}
