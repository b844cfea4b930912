package akrimount

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/http-connector/http-connector/internal/adr"
)

// Secret is secret text read from a mounted file. It prints, formats and
// marshals as "<redacted>"; Reveal returns the value.
type Secret string

const redacted = "<redacted>"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns "<redacted>".
func (s Secret) String() string { return redacted }

// GoString returns "<redacted>".
func (s Secret) GoString() string { return redacted }

// Format writes "<redacted>" for every verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON encodes "<redacted>".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText encodes "<redacted>".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Credentials are what a device endpoint's authentication resolved to.
// Printing, formatting or marshalling them never shows the password or the
// private key.
type Credentials struct {
	Method   string // adr.AuthAnonymous, adr.AuthUsernamePassword or adr.AuthCertificate
	Username string
	Password Secret
	// Certificate is the client certificate chain and key for
	// adr.AuthCertificate.
	Certificate *tls.Certificate
}

// String describes the credentials without their secrets.
func (c Credentials) String() string {
	switch c.Method {
	case adr.AuthUsernamePassword:
		return fmt.Sprintf("Credentials{method:%s, username:%q, password:%s}", c.Method, c.Username, redacted)
	case adr.AuthCertificate:
		subject := ""
		chain := 0
		if c.Certificate != nil {
			chain = len(c.Certificate.Certificate)
			if c.Certificate.Leaf != nil {
				subject = c.Certificate.Leaf.Subject.String()
			}
		}
		return fmt.Sprintf("Credentials{method:%s, certificate:%q, chain:%d, key:%s}", c.Method, subject, chain, redacted)
	}
	return fmt.Sprintf("Credentials{method:%s}", c.Method)
}

// GoString is String.
func (c Credentials) GoString() string { return c.String() }

// Format writes String for every verb.
func (c Credentials) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// MarshalJSON encodes the description of String, so structured logs cannot
// leak the secrets.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%q", c.String())), nil
}

// ResolveCredentials reads the secrets an inbound endpoint's authentication
// names from the device credentials mount. Secret names are paths relative to
// mount; absolute names and ".." components are rejected. Files are read
// unmodified. nil or Anonymous authentication yields empty credentials.
// Errors name the secret, never its content.
func ResolveCredentials(mount string, auth *adr.Authentication) (*Credentials, error) {
	if auth == nil || auth.Method == adr.AuthAnonymous {
		return &Credentials{Method: adr.AuthAnonymous}, nil
	}
	switch auth.Method {
	case adr.AuthUsernamePassword:
		up := auth.UsernamePasswordCredentials
		if up == nil {
			return nil, errors.New("authentication: method UsernamePassword without usernamePasswordCredentials")
		}
		user, err := readSecret(mount, "usernameSecretName", up.UsernameSecretName)
		if err != nil {
			return nil, err
		}
		pass, err := readSecret(mount, "passwordSecretName", up.PasswordSecretName)
		if err != nil {
			return nil, err
		}
		return &Credentials{Method: auth.Method, Username: string(user), Password: Secret(pass)}, nil
	case adr.AuthCertificate:
		x := auth.X509Credentials
		if x == nil {
			return nil, errors.New("authentication: method Certificate without x509Credentials")
		}
		cert, err := loadClientCertificate(mount, x)
		if err != nil {
			return nil, err
		}
		return &Credentials{Method: auth.Method, Certificate: cert}, nil
	}
	return nil, fmt.Errorf("authentication: unknown method %q (want Anonymous, UsernamePassword or Certificate)", auth.Method)
}

func loadClientCertificate(mount string, x *adr.X509Credentials) (*tls.Certificate, error) {
	certPEM, err := readSecret(mount, "certificateSecretName", x.CertificateSecretName)
	if err != nil {
		return nil, err
	}
	keyPEM, keyFrom := certPEM, "certificateSecretName "+quote(x.CertificateSecretName)
	if x.KeySecretName != "" {
		if keyPEM, err = readSecret(mount, "keySecretName", x.KeySecretName); err != nil {
			return nil, err
		}
		keyFrom = "keySecretName " + quote(x.KeySecretName)
	}
	chainPEM := append([]byte(nil), certPEM...)
	if x.IntermediateCertificatesSecretName != "" {
		inter, err := readSecret(mount, "intermediateCertificatesSecretName", x.IntermediateCertificatesSecretName)
		if err != nil {
			return nil, err
		}
		if _, err := parseCertificates(inter); err != nil {
			return nil, fmt.Errorf("intermediateCertificatesSecretName %q: %w", x.IntermediateCertificatesSecretName, err)
		}
		chainPEM = append(append(chainPEM, '\n'), inter...)
	}
	if _, err := parseCertificates(certPEM); err != nil {
		return nil, fmt.Errorf("certificateSecretName %q: %w", x.CertificateSecretName, err)
	}
	cert, err := tls.X509KeyPair(chainPEM, keyPEM)
	if err != nil {
		// The tls errors describe the problem, never the key material.
		return nil, fmt.Errorf("certificateSecretName %q with key from %s: %w", x.CertificateSecretName, keyFrom, err)
	}
	return &cert, nil
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// readSecret reads join(mount, name) after checking that name is a relative
// path inside mount.
func readSecret(mount, field, name string) ([]byte, error) {
	p, err := secretPath(mount, field, name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s %q: no such file in %s", field, name, EnvDeviceCredentialsMountPath)
		}
		return nil, fmt.Errorf("%s %q: %w", field, name, err)
	}
	return b, nil
}

func secretPath(mount, field, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%s: empty secret name", field)
	}
	if mount == "" {
		return "", fmt.Errorf("%s %q: %s is not set", field, name, EnvDeviceCredentialsMountPath)
	}
	if err := checkRelative(name); err != nil {
		return "", fmt.Errorf("%s %q: %w", field, name, err)
	}
	return filepath.Join(mount, filepath.FromSlash(name)), nil
}

// checkRelative rejects absolute paths and ".." components.
func checkRelative(name string) error {
	if filepath.IsAbs(name) || strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) {
		return errors.New("must be a relative path")
	}
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return errors.New(`must not contain ".." path components`)
		}
	}
	return nil
}

// TrustPool returns the CA pool for an inbound endpoint's server
// certificate. With a trust list it reads the contract-document layout, a
// folder mount/<trustList>/ of PEM files (a file of that name is accepted
// too), and falls back to the .NET layout, the file mount/<device>_<endpoint>.
// Without a trust list it uses that file if present. It returns nil (use the
// system roots) when nothing is configured.
func TrustPool(mount, trustList, device, endpoint string) (*x509.CertPool, error) {
	fallback := ""
	if mount != "" {
		fallback = filepath.Join(mount, device+"_"+endpoint)
	}
	if trustList != "" {
		if mount == "" {
			return nil, fmt.Errorf("trust list %q: %s is not set", trustList, EnvDeviceTrustBundleMountPath)
		}
		if err := checkRelative(trustList); err != nil {
			return nil, fmt.Errorf("trust list %q: %w", trustList, err)
		}
		p := filepath.Join(mount, filepath.FromSlash(trustList))
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.IsDir():
			pool, err := LoadCertDir(p)
			if err != nil {
				return nil, fmt.Errorf("trust list %q: %w", trustList, err)
			}
			return pool, nil
		case err == nil:
			pool, err := LoadCertFile(p)
			if err != nil {
				return nil, fmt.Errorf("trust list %q: %w", trustList, err)
			}
			return pool, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("trust list %q: %w", trustList, err)
		}
		if _, err := os.Stat(fallback); err != nil {
			return nil, fmt.Errorf("trust list %q: neither %s nor %s exists", trustList, p, fallback)
		}
	}
	if fallback == "" {
		return nil, nil
	}
	fi, err := os.Stat(fallback)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.IsDir()) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("device trust bundle: %w", err)
	}
	pool, err := LoadCertFile(fallback)
	if err != nil {
		return nil, fmt.Errorf("device trust bundle: %w", err)
	}
	return pool, nil
}
