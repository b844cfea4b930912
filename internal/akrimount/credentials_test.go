package akrimount_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/akrimount"
)

func TestResolveUsernamePassword(t *testing.T) {
	mount := t.TempDir()
	writeFile(t, filepath.Join(mount, "rest-server-auth-creds", "username"), []byte("admin"))
	writeFile(t, filepath.Join(mount, "rest-server-auth-creds", "password"), []byte("s3cr3t pass\n"))
	writeFile(t, filepath.Join(mount, "my-thermostat_my-rest-endpoint_username"), []byte("flat-user"))

	tests := []struct {
		name, user, pass string
		wantUser         string
		wantPass         string
		wantErr          string
	}{
		{name: "secret/key layout", user: "rest-server-auth-creds/username", pass: "rest-server-auth-creds/password",
			wantUser: "admin", wantPass: "s3cr3t pass\n"},
		{name: "flat secretsync layout", user: "my-thermostat_my-rest-endpoint_username", pass: "rest-server-auth-creds/password",
			wantUser: "flat-user", wantPass: "s3cr3t pass\n"},
		{name: "absolute path", user: "/etc/passwd", pass: "x",
			wantErr: `usernameSecretName "/etc/passwd": must be a relative path`},
		{name: "dot dot", user: "rest-server-auth-creds/username", pass: "a/../../password",
			wantErr: `passwordSecretName "a/../../password": must not contain ".." path components`},
		{name: "missing file", user: "rest-server-auth-creds/nope", pass: "x",
			wantErr: `usernameSecretName "rest-server-auth-creds/nope": no such file in DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH`},
		{name: "empty name", user: "", pass: "x", wantErr: "usernameSecretName: empty secret name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := akrimount.ResolveCredentials(mount, &adr.Authentication{
				Method: adr.AuthUsernamePassword,
				UsernamePasswordCredentials: &adr.UsernamePasswordCredentials{
					UsernameSecretName: tt.user, PasswordSecretName: tt.pass,
				},
			})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Method != adr.AuthUsernamePassword || c.Username != tt.wantUser || c.Password.Reveal() != tt.wantPass {
				t.Errorf("got method %q user %q password %q", c.Method, c.Username, c.Password.Reveal())
			}
		})
	}
}

func TestResolveOtherMethods(t *testing.T) {
	tests := []struct {
		name    string
		mount   string
		auth    *adr.Authentication
		want    string
		wantErr string
	}{
		{name: "nil", auth: nil, want: "Anonymous"},
		{name: "anonymous", auth: &adr.Authentication{Method: adr.AuthAnonymous}, want: "Anonymous"},
		{name: "unknown", auth: &adr.Authentication{Method: "Kerberos"},
			wantErr: `authentication: unknown method "Kerberos" (want Anonymous, UsernamePassword or Certificate)`},
		{name: "username without names", auth: &adr.Authentication{Method: adr.AuthUsernamePassword},
			wantErr: "authentication: method UsernamePassword without usernamePasswordCredentials"},
		{name: "certificate without names", auth: &adr.Authentication{Method: adr.AuthCertificate},
			wantErr: "authentication: method Certificate without x509Credentials"},
		{name: "no mount", auth: &adr.Authentication{Method: adr.AuthUsernamePassword,
			UsernamePasswordCredentials: &adr.UsernamePasswordCredentials{UsernameSecretName: "u", PasswordSecretName: "p"}},
			wantErr: `usernameSecretName "u": DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH is not set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := akrimount.ResolveCredentials(tt.mount, tt.auth)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Method != tt.want || c.Username != "" || c.Password != "" || c.Certificate != nil {
				t.Errorf("got %+v, want empty %s credentials", c, tt.want)
			}
		})
	}
}

func TestResolveCertificate(t *testing.T) {
	root := newCert(t, "root", nil, true)
	inter := newCert(t, "intermediate", &root, true)
	leaf := newCert(t, "client", &inter, false)
	other := newCert(t, "other", nil, false)

	mount := t.TempDir()
	writeFile(t, filepath.Join(mount, "c", "certificate"), leaf.certPEM())
	writeFile(t, filepath.Join(mount, "c", "key"), leaf.keyPEM(t))
	writeFile(t, filepath.Join(mount, "c", "intermediates"), append([]byte("Bag Attributes\n"), inter.certPEM()...))
	writeFile(t, filepath.Join(mount, "c", "combined"), append(leaf.certPEM(), leaf.keyPEM(t)...))
	writeFile(t, filepath.Join(mount, "c", "otherkey"), other.keyPEM(t))
	writeFile(t, filepath.Join(mount, "c", "garbage"), []byte("not pem"))

	tests := []struct {
		name    string
		x509    adr.X509Credentials
		chain   []*x509.Certificate
		wantErr string
	}{
		{name: "separate key", x509: adr.X509Credentials{CertificateSecretName: "c/certificate", KeySecretName: "c/key"},
			chain: []*x509.Certificate{leaf.cert}},
		{name: "key in certificate file", x509: adr.X509Credentials{CertificateSecretName: "c/combined"},
			chain: []*x509.Certificate{leaf.cert}},
		{name: "intermediates appended", x509: adr.X509Credentials{CertificateSecretName: "c/certificate",
			KeySecretName: "c/key", IntermediateCertificatesSecretName: "c/intermediates"},
			chain: []*x509.Certificate{leaf.cert, inter.cert}},
		{name: "wrong key", x509: adr.X509Credentials{CertificateSecretName: "c/certificate", KeySecretName: "c/otherkey"},
			wantErr: `certificateSecretName "c/certificate" with key from keySecretName "c/otherkey": tls: private key does not match public key`},
		{name: "no key", x509: adr.X509Credentials{CertificateSecretName: "c/certificate"},
			wantErr: `certificateSecretName "c/certificate" with key from certificateSecretName "c/certificate": tls: found a certificate rather than a key in the PEM for the private key`},
		{name: "certificate not PEM", x509: adr.X509Credentials{CertificateSecretName: "c/garbage", KeySecretName: "c/key"},
			wantErr: `certificateSecretName "c/garbage": no PEM certificate found`},
		{name: "intermediates not PEM", x509: adr.X509Credentials{CertificateSecretName: "c/certificate", KeySecretName: "c/key",
			IntermediateCertificatesSecretName: "c/garbage"},
			wantErr: `intermediateCertificatesSecretName "c/garbage": no PEM certificate found`},
		{name: "key outside mount", x509: adr.X509Credentials{CertificateSecretName: "c/certificate", KeySecretName: "../key"},
			wantErr: `keySecretName "../key": must not contain ".." path components`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := tt.x509
			c, err := akrimount.ResolveCredentials(mount, &adr.Authentication{Method: adr.AuthCertificate, X509Credentials: &x})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Method != adr.AuthCertificate || c.Certificate == nil || c.Certificate.PrivateKey == nil {
				t.Fatalf("got %v, want a certificate with key", c)
			}
			if len(c.Certificate.Certificate) != len(tt.chain) {
				t.Fatalf("chain length %d, want %d", len(c.Certificate.Certificate), len(tt.chain))
			}
			for i, want := range tt.chain {
				if !bytes.Equal(c.Certificate.Certificate[i], want.Raw) {
					t.Errorf("chain[%d] is not %s", i, want.Subject.CommonName)
				}
			}
		})
	}
}

func TestCredentialsNeverPrintSecrets(t *testing.T) {
	leaf := newCert(t, "client", nil, false)
	mount := t.TempDir()
	writeFile(t, filepath.Join(mount, "u"), []byte("alice"))
	writeFile(t, filepath.Join(mount, "p"), []byte("hunter2"))
	writeFile(t, filepath.Join(mount, "cert"), append(leaf.certPEM(), leaf.keyPEM(t)...))
	up, err := akrimount.ResolveCredentials(mount, &adr.Authentication{Method: adr.AuthUsernamePassword,
		UsernamePasswordCredentials: &adr.UsernamePasswordCredentials{UsernameSecretName: "u", PasswordSecretName: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := akrimount.ResolveCredentials(mount, &adr.Authentication{Method: adr.AuthCertificate,
		X509Credentials: &adr.X509Credentials{CertificateSecretName: "cert"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `Credentials{method:UsernamePassword, username:"alice", password:<redacted>}`; up.String() != want {
		t.Errorf("String = %s, want %s", up, want)
	}
	raw, err := leaf.key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	keyD := new(big.Int).SetBytes(raw).String() // the private scalar, as a log could print it
	for _, c := range []*akrimount.Credentials{up, cert} {
		var logged bytes.Buffer
		logger := zerolog.New(&logged)
		logger.Info().Interface("creds", c).Interface("value", *c).Stringer("s", c).
			Interface("password", c.Password).Msg("x")
		js, _ := json.Marshal(struct{ C *akrimount.Credentials }{c})
		outputs := []string{
			fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q", c, c, c, c, c),
			fmt.Sprintf("%v %+v %#v", *c, *c, *c),
			fmt.Sprintf("%v %+v %#v %s %q %x", c.Password, c.Password, c.Password, c.Password, c.Password, c.Password),
			string(js), logged.String(),
		}
		for _, out := range outputs {
			if strings.Contains(out, "hunter2") || strings.Contains(out, keyD) || strings.Contains(out, "PRIVATE") {
				t.Errorf("secret printed: %s", out)
			}
			if !strings.Contains(out, "redacted") {
				t.Errorf("no <redacted> marker in %s", out)
			}
		}
	}
}

func TestTrustPool(t *testing.T) {
	caDir := newCert(t, "folder ca", nil, true)
	caFile := newCert(t, "file ca", nil, true)
	caNet := newCert(t, "dotnet ca", nil, true)
	mount := t.TempDir()
	writeFile(t, filepath.Join(mount, "my-trust-list", "..data", "x.pem"), caFile.certPEM()) // ignored
	writeFile(t, filepath.Join(mount, "my-trust-list", "ca.crt"), caDir.certPEM())
	writeFile(t, filepath.Join(mount, "single-file-list"), caFile.certPEM())
	writeFile(t, filepath.Join(mount, "thermostat_rest"), caNet.certPEM())
	writeFile(t, filepath.Join(mount, "bad-list", "ca.crt"), []byte("junk"))

	tests := []struct {
		name                    string
		mount, list, device, ep string
		want                    *x509.CertPool
		wantErr                 string
	}{
		{name: "contract folder", mount: mount, list: "my-trust-list", device: "thermostat", ep: "rest", want: poolOf(caDir.cert)},
		{name: "trust list file", mount: mount, list: "single-file-list", device: "d", ep: "e", want: poolOf(caFile.cert)},
		{name: "dotnet fallback", mount: mount, list: "not-mounted", device: "thermostat", ep: "rest", want: poolOf(caNet.cert)},
		{name: "no trust list, dotnet file", mount: mount, device: "thermostat", ep: "rest", want: poolOf(caNet.cert)},
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
			got, err := akrimount.TrustPool(tt.mount, tt.list, tt.device, tt.ep)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tt.want == nil) || (got != nil && !got.Equal(tt.want)) {
				t.Errorf("pool mismatch: got nil=%v, want nil=%v", got == nil, tt.want == nil)
			}
		})
	}
}
