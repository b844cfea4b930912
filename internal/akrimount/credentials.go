package akrimount

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/http-connector/http-connector/internal/certbundle"
	"github.com/http-connector/http-connector/internal/plan"
)

// Secrets reads the device endpoint secrets the operator mounts: credential
// files named by the Device's secret names, relative to
// DEVICE_ENDPOINT_CREDENTIALS_MOUNT_PATH, and trust lists below
// DEVICE_ENDPOINT_TLS_TRUST_BUNDLE_CA_CERT_MOUNT_PATH. Files are read
// unmodified, as the SDKs read them. Absolute names and ".." components are
// refused.
type Secrets struct {
	CredentialsDir string
	TrustDir       string
	// ConnectorTrustDir is CONNECTOR_TRUST_SETTINGS_MOUNT_PATH: the folder
	// of the CA certificates every device endpoint trusts, besides its own
	// trust list (set with the operations experience or az iot ops
	// connector template update).
	ConnectorTrustDir string
}

// Secrets are the environment's device endpoint secrets.
func (env *Environment) Secrets() Secrets {
	return Secrets{CredentialsDir: env.DeviceCredentialsDir, TrustDir: env.DeviceTrustBundleDir, ConnectorTrustDir: env.TrustSettingsDir}
}

// ConnectorTrust reads the connector-level trust list: every certificate
// file of the folder (Kubernetes' ..data entries skipped); nil without the
// folder or when it holds none.
func (s Secrets) ConnectorTrust() ([]byte, error) {
	if s.ConnectorTrustDir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(s.ConnectorTrustDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvTrustSettingsMountPath, err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") {
			return certbundle.ReadDir(s.ConnectorTrustDir)
		}
	}
	return nil, nil
}

// Secret reads the credential file name names.
func (s Secrets) Secret(name string) ([]byte, error) {
	if s.CredentialsDir == "" {
		return nil, fmt.Errorf("%s is not set", EnvDeviceCredentialsMountPath)
	}
	if err := checkRelative(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(s.CredentialsDir, filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no such file in %s", EnvDeviceCredentialsMountPath)
	}
	return b, err
}

// TrustList reads the CA bundle an inbound endpoint's server certificate is
// checked against. With a trust list it reads the contract-document layout,
// a folder TrustDir/<trustList>/ of PEM files (a file of that name is
// accepted too), and falls back to the .NET layout, the file
// TrustDir/<device>_<endpoint>. Without a trust list it uses that file if
// present. It returns nil (the system roots) when nothing is configured.
func (s Secrets) TrustList(ep *plan.Endpoint) ([]byte, error) {
	mount, trustList := s.TrustDir, ep.Trust
	fallback := ""
	if mount != "" {
		fallback = filepath.Join(mount, ep.Device+"_"+ep.Name)
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
		case err == nil:
			read := certbundle.ReadFile
			if fi.IsDir() {
				read = certbundle.ReadDir
			}
			b, err := read(p)
			if err != nil {
				return nil, fmt.Errorf("trust list %q: %w", trustList, err)
			}
			return b, nil
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
	b, err := certbundle.ReadFile(fallback)
	if err != nil {
		return nil, fmt.Errorf("device trust bundle: %w", err)
	}
	return b, nil
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
