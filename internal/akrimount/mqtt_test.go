package akrimount_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/akrimount"
	"github.com/http-connector/http-connector/internal/certbundle"
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
	want, err := certbundle.Pool(raw)
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

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
