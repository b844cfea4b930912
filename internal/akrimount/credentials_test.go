package akrimount_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/http-connector/http-connector/internal/akrimount"
	"github.com/http-connector/http-connector/internal/certbundle"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/testing/testcert"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTrustList(t *testing.T) {
	caDir := testcert.CA(t, "folder ca")
	caFile := testcert.CA(t, "file ca")
	caNet := testcert.CA(t, "dotnet ca")
	mount := t.TempDir()
	writeFile(t, filepath.Join(mount, "my-trust-list", "..data", "x.pem"), caFile.CertPEM()) // ignored
	writeFile(t, filepath.Join(mount, "my-trust-list", "ca.crt"), caDir.CertPEM())
	writeFile(t, filepath.Join(mount, "single-file-list"), caFile.CertPEM())
	writeFile(t, filepath.Join(mount, "thermostat_rest"), caNet.CertPEM())
	writeFile(t, filepath.Join(mount, "bad-list", "ca.crt"), []byte("junk"))

	tests := []struct {
		name                    string
		mount, list, device, ep string
		want                    *x509.CertPool
		wantErr                 string
	}{
		{name: "contract folder", mount: mount, list: "my-trust-list", device: "thermostat", ep: "rest", want: testcert.Pool(caDir)},
		{name: "trust list file", mount: mount, list: "single-file-list", device: "d", ep: "e", want: testcert.Pool(caFile)},
		{name: "dotnet fallback", mount: mount, list: "not-mounted", device: "thermostat", ep: "rest", want: testcert.Pool(caNet)},
		{name: "no trust list, dotnet file", mount: mount, device: "thermostat", ep: "rest", want: testcert.Pool(caNet)},
		{name: "nothing configured", mount: mount, device: "other", ep: "ep"},
		{name: "no mount, no list", device: "d", ep: "e"},
		{name: "neither layout", mount: mount, list: "not-mounted", device: "other", ep: "ep",
			wantErr: `trust list "not-mounted": neither ` + filepath.Join(mount, "not-mounted") + " nor " + filepath.Join(mount, "other_ep") + " exists"},
		{name: "list without mount", list: "x", device: "d", ep: "e",
			wantErr: `trust list "x": DEVICE_ENDPOINT_TLS_TRUST_BUNDLE_CA_CERT_MOUNT_PATH is not set`},
		{name: "escaping list", mount: mount, list: "../etc", device: "d", ep: "e",
			wantErr: `trust list "../etc": must not contain ".." path components`},
		{name: "bad certificates", mount: mount, list: "bad-list", device: "d", ep: "e",
			wantErr: `trust list "bad-list": certificate file ` + filepath.Join(mount, "bad-list", "ca.crt") + ": no PEM certificate found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bundle, err := akrimount.Secrets{TrustDir: tt.mount}.TrustList(&plan.Endpoint{Device: tt.device, Name: tt.ep, Trust: tt.list})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got *x509.CertPool
			if bundle != nil {
				if got, err = certbundle.Pool(bundle); err != nil {
					t.Fatal(err)
				}
			}
			if (got == nil) != (tt.want == nil) || (got != nil && !got.Equal(tt.want)) {
				t.Errorf("pool mismatch: got nil=%v, want nil=%v", got == nil, tt.want == nil)
			}
		})
	}
}
