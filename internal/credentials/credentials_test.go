package credentials_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/akrimount"
	"github.com/http-connector/http-connector/internal/credentials"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/settings"
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

func endpoint(auth plan.Auth) *plan.Endpoint {
	return &plan.Endpoint{Device: "my-thermostat", Name: "my-rest-endpoint", Auth: auth}
}

// settingsSecrets are the connector settings' secrets, as standalone.
type settingsSecrets struct{ s settings.Secrets }

func (s settingsSecrets) Secret(name string) ([]byte, error) {
	return s.s.Lookup(name, func(string) (string, bool) { return "", false })
}

func (s settingsSecrets) TrustList(ep *plan.Endpoint) ([]byte, error) {
	if ep.Trust == "" {
		return nil, nil
	}
	return s.Secret(ep.Trust)
}

func TestResolveUsernamePassword(t *testing.T) {
	mount := t.TempDir()
	writeFile(t, filepath.Join(mount, "rest-server-auth-creds", "username"), []byte("admin"))
	writeFile(t, filepath.Join(mount, "rest-server-auth-creds", "password"), []byte("s3cr3t pass\n"))
	writeFile(t, filepath.Join(mount, "my-thermostat_my-rest-endpoint_username"), []byte("flat-user"))
	mounted := akrimount.Secrets{CredentialsDir: mount}

	tests := []struct {
		name, user, pass string
		secrets          credentials.Secrets
		wantUser         string
		wantPass         string
		wantErr          string
	}{
		{name: "secret/key layout", user: "rest-server-auth-creds/username", pass: "rest-server-auth-creds/password",
			wantUser: "admin", wantPass: "s3cr3t pass\n"},
		{name: "flat secretsync layout", user: "my-thermostat_my-rest-endpoint_username", pass: "rest-server-auth-creds/password",
			wantUser: "flat-user", wantPass: "s3cr3t pass\n"},
		{name: "settings trim the newline", user: "rest-server-auth-creds/username", pass: "rest-server-auth-creds/password",
			secrets: settingsSecrets{settings.Secrets{Dir: mount}}, wantUser: "admin", wantPass: "s3cr3t pass"},
		{name: "absolute path", user: "/etc/passwd", pass: "x",
			wantErr: `usernameSecretName "/etc/passwd": must be a relative path`},
		{name: "dot dot", user: "rest-server-auth-creds/username", pass: "a/../../password",
			wantErr: `passwordSecretName "a/../../password": must not contain ".." path components`},
		{name: "missing file", user: "rest-server-auth-creds/nope", pass: "x",
			wantErr: `usernameSecretName "rest-server-auth-creds/nope": no such file in DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH`},
		{name: "empty name", user: "", pass: "x", wantErr: "usernameSecretName: empty secret name"},
		{name: "no mount", user: "u", pass: "p", secrets: akrimount.Secrets{},
			wantErr: `usernameSecretName "u": DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH is not set`},
		{name: "settings without secrets", user: "u", pass: "p", secrets: settingsSecrets{},
			wantErr: `usernameSecretName "u": not configured: set secrets.env, secrets.files or secrets.dir in the connector settings`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.secrets
			if s == nil {
				s = mounted
			}
			c, err := credentials.Resolve(endpoint(plan.Auth{Method: adr.AuthUsernamePassword, UsernameSecret: tt.user, PasswordSecret: tt.pass}), s)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Username != tt.wantUser || c.Password != tt.wantPass || c.Fingerprint == "" {
				t.Errorf("got user %q password %q fingerprint %q", c.Username, c.Password, c.Fingerprint)
			}
		})
	}
}

func TestResolveOtherMethods(t *testing.T) {
	for _, method := range []adr.AuthMethod{"", adr.AuthAnonymous} {
		c, err := credentials.Resolve(endpoint(plan.Auth{Method: method}), akrimount.Secrets{})
		if err != nil || c.Username != "" || c.Password != "" || c.Certificate != nil || c.RootCAs != nil {
			t.Errorf("method %q: got %v, %v, want empty credentials", method, c, err)
		}
	}
	_, err := credentials.Resolve(endpoint(plan.Auth{Method: "Kerberos"}), akrimount.Secrets{})
	if want := `authentication: method "Kerberos" is not supported (want Anonymous, UsernamePassword or Certificate)`; err == nil || err.Error() != want {
		t.Errorf("unknown method: %v, want %s", err, want)
	}
}

func TestResolveCertificate(t *testing.T) {
	root := testcert.CA(t, "root")
	inter := testcert.New(t, "intermediate", &root, true)
	leaf := testcert.Leaf(t, "client", &inter)
	other := testcert.Leaf(t, "other", nil)

	mount := t.TempDir()
	writeFile(t, filepath.Join(mount, "c", "certificate"), leaf.CertPEM())
	writeFile(t, filepath.Join(mount, "c", "key"), leaf.KeyPEM(t))
	writeFile(t, filepath.Join(mount, "c", "intermediates"), append([]byte("Bag Attributes\n"), inter.CertPEM()...))
	writeFile(t, filepath.Join(mount, "c", "combined"), append(leaf.CertPEM(), leaf.KeyPEM(t)...))
	writeFile(t, filepath.Join(mount, "c", "otherkey"), other.KeyPEM(t))
	writeFile(t, filepath.Join(mount, "c", "garbage"), []byte("not pem"))

	tests := []struct {
		name    string
		auth    plan.Auth
		chain   []*x509.Certificate
		wantErr string
	}{
		{name: "separate key", auth: plan.Auth{CertificateSecret: "c/certificate", KeySecret: "c/key"},
			chain: []*x509.Certificate{leaf.Cert}},
		{name: "key in certificate file", auth: plan.Auth{CertificateSecret: "c/combined"},
			chain: []*x509.Certificate{leaf.Cert}},
		{name: "intermediates appended", auth: plan.Auth{CertificateSecret: "c/certificate",
			KeySecret: "c/key", IntermediatesSecret: "c/intermediates"},
			chain: []*x509.Certificate{leaf.Cert, inter.Cert}},
		{name: "wrong key", auth: plan.Auth{CertificateSecret: "c/certificate", KeySecret: "c/otherkey"},
			wantErr: `certificateSecretName "c/certificate" with key from keySecretName "c/otherkey": tls: private key does not match public key`},
		{name: "no key", auth: plan.Auth{CertificateSecret: "c/certificate"},
			wantErr: `certificateSecretName "c/certificate" with key from certificateSecretName "c/certificate": tls: found a certificate rather than a key in the PEM for the private key`},
		{name: "certificate not PEM", auth: plan.Auth{CertificateSecret: "c/garbage", KeySecret: "c/key"},
			wantErr: `certificateSecretName "c/garbage": no PEM certificate found`},
		{name: "intermediates not PEM", auth: plan.Auth{CertificateSecret: "c/certificate", KeySecret: "c/key",
			IntermediatesSecret: "c/garbage"},
			wantErr: `intermediateCertificatesSecretName "c/garbage": no PEM certificate found`},
		{name: "key outside mount", auth: plan.Auth{CertificateSecret: "c/certificate", KeySecret: "../key"},
			wantErr: `keySecretName "../key": must not contain ".." path components`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.auth.Method = adr.AuthCertificate
			c, err := credentials.Resolve(endpoint(tt.auth), akrimount.Secrets{CredentialsDir: mount})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Certificate == nil || c.Certificate.PrivateKey == nil {
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

// The fingerprint changes with the content of every secret and of the
// trust list, also when a CA is re-issued under the same name.
func TestFingerprintFollowsContent(t *testing.T) {
	mount := t.TempDir()
	writeFile(t, filepath.Join(mount, "creds", "u"), []byte("alice"))
	writeFile(t, filepath.Join(mount, "creds", "p"), []byte("one"))
	trustDir := t.TempDir()
	writeFile(t, filepath.Join(trustDir, "ca", "ca.crt"), testcert.CA(t, "device ca").CertPEM())
	s := akrimount.Secrets{CredentialsDir: mount, TrustDir: trustDir}
	ep := endpoint(plan.Auth{Method: adr.AuthUsernamePassword, UsernameSecret: "creds/u", PasswordSecret: "creds/p"})
	ep.Trust = "ca"
	fingerprint := func() string {
		t.Helper()
		c, err := credentials.Resolve(ep, s)
		if err != nil {
			t.Fatal(err)
		}
		return c.Fingerprint
	}
	first := fingerprint()
	if again := fingerprint(); again != first {
		t.Fatalf("the same secrets gave fingerprints %s and %s", first, again)
	}
	writeFile(t, filepath.Join(mount, "creds", "p"), []byte("two"))
	second := fingerprint()
	if second == first {
		t.Error("a new password did not change the fingerprint")
	}
	writeFile(t, filepath.Join(trustDir, "ca", "ca.crt"), testcert.CA(t, "device ca").CertPEM())
	if fingerprint() == second {
		t.Error("a CA re-issued under the same name did not change the fingerprint")
	}
}

func TestCredentialsNeverPrintSecrets(t *testing.T) {
	leaf := testcert.Leaf(t, "client", nil)
	mount := t.TempDir()
	writeFile(t, filepath.Join(mount, "u"), []byte("alice"))
	writeFile(t, filepath.Join(mount, "p"), []byte("hunter2"))
	writeFile(t, filepath.Join(mount, "cert"), append(leaf.CertPEM(), leaf.KeyPEM(t)...))
	s := akrimount.Secrets{CredentialsDir: mount}
	up, err := credentials.Resolve(endpoint(plan.Auth{Method: adr.AuthUsernamePassword, UsernameSecret: "u", PasswordSecret: "p"}), s)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := credentials.Resolve(endpoint(plan.Auth{Method: adr.AuthCertificate, CertificateSecret: "cert"}), s)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := leaf.Key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	keyD := new(big.Int).SetBytes(raw).String() // the private scalar, as a log could print it
	for _, c := range []credentials.Resolved{up, cert} {
		var logged bytes.Buffer
		logger := zerolog.New(&logged)
		logger.Info().Interface("creds", c).Interface("value", c.Credentials).Stringer("s", c.Credentials).Msg("x")
		js, _ := json.Marshal(struct{ C credentials.Resolved }{c})
		outputs := []string{
			fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q", c, c, c, c, c),
			fmt.Sprintf("%v %+v %#v", c.Credentials, c.Credentials, c.Credentials),
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

// connectorTrusting are secrets with a connector-level trust list.
type connectorTrusting struct {
	akrimount.Secrets
	ca []byte
}

func (c connectorTrusting) ConnectorTrust() ([]byte, error) { return c.ca, nil }

// The connector's trust list is trusted for every endpoint, on top of its
// own trust list or, without one, of the system roots.
func TestConnectorTrustList(t *testing.T) {
	ca := testcert.CA(t, "plant CA")
	leaf := testcert.Leaf(t, "device", &ca)
	other := testcert.CA(t, "device's own CA")
	trustDir := t.TempDir()
	writeFile(t, filepath.Join(trustDir, "own", "ca.crt"), other.CertPEM())
	s := connectorTrusting{Secrets: akrimount.Secrets{TrustDir: trustDir}, ca: ca.CertPEM()}
	for _, trust := range []string{"", "own"} {
		ep := endpoint(plan.Auth{Method: adr.AuthAnonymous})
		ep.Trust = trust
		c, err := credentials.Resolve(ep, s)
		if err != nil {
			t.Fatal(err)
		}
		if c.RootCAs == nil {
			t.Fatalf("trust list %q: no pool", trust)
		}
		if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: c.RootCAs}); err != nil {
			t.Errorf("trust list %q: a certificate of the connector's CA is not trusted: %v", trust, err)
		}
	}
	without, err := credentials.Resolve(endpoint(plan.Auth{Method: adr.AuthAnonymous}), akrimount.Secrets{TrustDir: trustDir})
	if err != nil || without.RootCAs != nil {
		t.Errorf("without a connector trust list: roots %v, %v; want the system roots (nil)", without.RootCAs, err)
	}
}
