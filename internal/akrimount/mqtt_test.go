package akrimount_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/akrimount"
)

func TestMQTTOptionsFixture(t *testing.T) {
	sat := filepath.Join(t.TempDir(), "token")
	writeFile(t, sat, []byte("tok"))
	env, err := akrimount.Load(envFrom(map[string]string{
		"CONNECTOR_ID":                              "rest-ctemplate-0",
		"CONNECTOR_CONFIGURATION_MOUNT_PATH":        mountFixtures + "/connector-config",
		"ADR_RESOURCES_NAME_MOUNT_PATH":             mountFixtures + "/adr-resources",
		"BROKER_TLS_TRUST_BUNDLE_CACERT_MOUNT_PATH": mountFixtures + "/trust-bundle",
		"BROKER_SAT_MOUNT_PATH":                     sat,
	}))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := env.MQTTOptions(zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Servers) != 1 || opts.Servers[0].String() != "mqtts://someHostName:1234" {
		t.Errorf("Servers = %v, want [mqtts://someHostName:1234]", opts.Servers)
	}
	if opts.ClientID != "rest-ctemplate-0" || opts.KeepAlive != 10 || opts.SessionExpiry != 20 || opts.ReceiveMaximum != 10 || opts.CleanStart {
		t.Errorf("ClientID %q KeepAlive %d SessionExpiry %d ReceiveMaximum %d CleanStart %v",
			opts.ClientID, opts.KeepAlive, opts.SessionExpiry, opts.ReceiveMaximum, opts.CleanStart)
	}
	if opts.TLS == nil || opts.TLS.ServerName != "someHostName" || opts.TLS.MinVersion != tls.VersionTLS12 {
		t.Fatalf("TLS = %+v", opts.TLS)
	}
	// The fixture has "Bag Attributes" text before its one certificate.
	raw, err := os.ReadFile(mountFixtures + "/trust-bundle/ca.txt")
	if err != nil {
		t.Fatal(err)
	}
	want, err := akrimount.LoadCertFile(mountFixtures + "/trust-bundle/ca.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(raw), "Bag Attributes") || !opts.TLS.RootCAs.Equal(want) {
		t.Errorf("RootCAs do not hold exactly the fixture CA")
	}
	if opts.Auth == nil || opts.Auth.Method() != "K8S-SAT" {
		t.Fatalf("Auth = %v, want K8S-SAT", opts.Auth)
	}
	if data, err := opts.Auth.Data(); err != nil || string(data) != "tok" {
		t.Errorf("Auth.Data = %q, %v; want tok", data, err)
	}
}

func TestMQTTOptionsNoAuthNoTLS(t *testing.T) {
	env, err := akrimount.Load(envFrom(map[string]string{
		"CONNECTOR_ID":                       "c-0",
		"CONNECTOR_CONFIGURATION_MOUNT_PATH": mountFixtures + "/connector-config-no-auth-no-tls",
		"ADR_RESOURCES_NAME_MOUNT_PATH":      mountFixtures + "/adr-resources",
	}))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := env.MQTTOptions(zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if opts.Servers[0].String() != "mqtt://someHostName:1234" || opts.TLS != nil || opts.Auth != nil {
		t.Errorf("Servers %v TLS %v Auth %v; want plain mqtt without auth", opts.Servers, opts.TLS, opts.Auth)
	}
}

func TestLoadCertDir(t *testing.T) {
	ca1 := newCert(t, "ca1", nil, true)
	ca2 := newCert(t, "ca2", nil, true)
	ca3 := newCert(t, "ca3", nil, true)
	dir := t.TempDir()
	// k8s layout: ..data/ holds the files, top-level names are symlinks.
	writeFile(t, filepath.Join(dir, "..2025_01", "bundle.pem"), append(append([]byte("Bag Attributes\n  x: y\n"), ca1.certPEM()...), ca2.certPEM()...))
	writeFile(t, filepath.Join(dir, "..2025_01", "other.crt"), ca3.certPEM())
	mustSymlink(t, "..2025_01", filepath.Join(dir, "..data"))
	mustSymlink(t, "..data/bundle.pem", filepath.Join(dir, "bundle.pem"))
	mustSymlink(t, "..data/other.crt", filepath.Join(dir, "other.crt"))
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	pool, err := akrimount.LoadCertDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !pool.Equal(poolOf(ca1.cert, ca2.cert, ca3.cert)) {
		t.Error("pool does not hold exactly ca1, ca2, ca3")
	}

	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "..data"), ca1.certPEM())
	if _, err := akrimount.LoadCertDir(empty); err == nil || err.Error() != "trust bundle "+empty+" holds no certificate" {
		t.Errorf("empty bundle error = %v", err)
	}
	bad := t.TempDir()
	writeFile(t, filepath.Join(bad, "ca.pem"), []byte("not a certificate"))
	if _, err := akrimount.LoadCertDir(bad); err == nil || err.Error() != "certificate file "+filepath.Join(bad, "ca.pem")+": no PEM certificate found" {
		t.Errorf("bad bundle error = %v", err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
