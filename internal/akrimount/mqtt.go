package akrimount

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/certbundle"
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
			bundle, err := certbundle.ReadDir(env.BrokerTrustBundleDir)
			if err == nil {
				tlsCfg.RootCAs, err = certbundle.Pool(bundle)
			}
			if err != nil {
				return mqttclient.Options{}, fmt.Errorf("mqtt options: %s: %w", EnvBrokerTrustBundleMountPath, err)
			}
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
