package akri_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/testing/testcert"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// A device whose certificate a private CA signed is trusted through the
// connector-level trust list (CONNECTOR_TRUST_SETTINGS_MOUNT_PATH), which
// the device's own settings do not name; verification stays on.
func TestAkriConnectorTrustList(t *testing.T) {
	ca := testcert.CA(t, "plant CA")
	leaf := testcert.Leaf(t, "thermostat", &ca)
	cert := leaf.TLS(t)
	trust := t.TempDir()
	// As Kubernetes mounts it: the files beside a ..data folder.
	if err := os.Mkdir(filepath.Join(trust, "..data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(trust, "plant-ca.crt"), ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHarnessWith(t, map[string]adr.Asset{"thermostat-1": thermostatAsset(1, "plant/thermostat-1", "GET")}, "thermostat-1\n",
		setup{deviceTLS: &cert, vars: map[string]string{"CONNECTOR_TRUST_SETTINGS_MOUNT_PATH": trust}})
	wait.For(t, "messages from the https device", func() bool { return len(h.in.On("plant/thermostat-1")) >= 2 })
}
