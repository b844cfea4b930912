package akrimount

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/mqttclient"
)

// MQTTOptions builds the broker connection the operator configured: client id
// CONNECTOR_ID, TLS with the broker trust bundle when tls.mode is Enabled,
// K8S-SAT authentication when BROKER_SAT_MOUNT_PATH is set, and a persistent
// session (Clean Start false).
func (env *Environment) MQTTOptions(logger zerolog.Logger) (mqttclient.Options, error) {
	c := env.MQTT
	if c.Host == "" {
		return mqttclient.Options{}, errors.New("mqtt options: no broker host")
	}
	scheme := "mqtt"
	var tlsCfg *tls.Config
	if c.TLS {
		scheme = "mqtts"
		tlsCfg = &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}
		if env.BrokerTrustBundleDir != "" {
			pool, err := LoadCertDir(env.BrokerTrustBundleDir)
			if err != nil {
				return mqttclient.Options{}, fmt.Errorf("mqtt options: %s: %w", EnvBrokerTrustBundleMountPath, err)
			}
			tlsCfg.RootCAs = pool
		}
	}
	server := &url.URL{Scheme: scheme, Host: net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))}
	opts := mqttclient.Options{
		Servers:        []*url.URL{server},
		ClientID:       env.ConnectorID,
		KeepAlive:      c.KeepAliveSeconds,
		SessionExpiry:  c.SessionExpirySeconds,
		ReceiveMaximum: c.MaxInflightMessages,
		CleanStart:     false,
		TLS:            tlsCfg,
		Logger:         logger,
	}
	if env.BrokerSATFile != "" {
		opts.Auth = NewSAT(env.BrokerSATFile)
	}
	return opts, nil
}

// LoadCertDir loads every certificate of every file in dir into a pool. Names
// starting with ".." (Kubernetes atomic-writer artefacts) and directories are
// skipped; symbolic links are followed.
func LoadCertDir(dir string) (*x509.CertPool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read trust bundle: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read trust bundle: %w", err)
		}
		if fi.IsDir() {
			continue
		}
		k, err := addCertFile(pool, p)
		if err != nil {
			return nil, err
		}
		n += k
	}
	if n == 0 {
		return nil, fmt.Errorf("trust bundle %s holds no certificate", dir)
	}
	return pool, nil
}

// LoadCertFile loads every certificate of one PEM file into a pool.
func LoadCertFile(path string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if _, err := addCertFile(pool, path); err != nil {
		return nil, err
	}
	return pool, nil
}

// addCertFile adds the CERTIFICATE blocks of a PEM file to pool. Text before,
// between and after the blocks (such as OpenSSL "Bag Attributes") is ignored.
func addCertFile(pool *x509.CertPool, path string) (int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read certificates: %w", err)
	}
	certs, err := parseCertificates(raw)
	if err != nil {
		return 0, fmt.Errorf("certificate file %s: %w", path, err)
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return len(certs), nil
}

func parseCertificates(raw []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return certs, nil
}
