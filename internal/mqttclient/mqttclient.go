// Package mqttclient is the connector's MQTT v5 connection: one autopaho
// connection manager that reconnects forever, restores subscriptions after
// every reconnect, routes incoming messages to handlers by topic filter and
// supports enhanced authentication (K8S-SAT) with re-authentication. Paho's
// types stay inside this package.
package mqttclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session/state"
	"github.com/eclipse/paho.golang/paho/store/memory"
	"github.com/rs/zerolog"
)

// Message is one MQTT v5 PUBLISH, sent or received.
type Message struct {
	Topic           string
	Payload         []byte
	QoS             byte
	Retain          bool
	MessageExpiry   uint32 // seconds; 0 means no expiry interval
	ContentType     string
	UTF8Payload     bool // payload format indicator 1
	ResponseTopic   string
	CorrelationData []byte
	UserProperties  []UserProperty
	// Time is when the message's data was taken (a sample's time, a
	// record's); it is not sent, but decorators use it (the CloudEvents
	// time). The zero value is now.
	Time time.Time
}

// UserProperty is one MQTT v5 user property; order and duplicates matter.
type UserProperty struct {
	Key, Value string
}

// Property returns the value of the first user property with key.
func (m *Message) Property(key string) (string, bool) {
	for _, p := range m.UserProperties {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Authenticator supplies enhanced-authentication data (for example a
// Kubernetes service-account token) for every CONNECT.
type Authenticator interface {
	Method() string
	Data() ([]byte, error)
}

// Options configure a Client.
type Options struct {
	Servers        []*url.URL // mqtt://, mqtts://, tls:// or ssl://
	ClientID       string
	KeepAlive      uint16        // seconds
	SessionExpiry  uint32        // seconds
	ReceiveMaximum uint16        // 0 leaves the MQTT default (65535)
	CleanStart     bool          // only for the first connection
	TLS            *tls.Config   // used for TLS URLs
	Auth           Authenticator // optional enhanced authentication
	Username       string        // optional plain credentials
	Password       []byte
	ConnectTimeout time.Duration
	MaxBackoff     time.Duration // cap of the reconnect back-off; default 30 s
	Logger         zerolog.Logger
	// OnConnectionUp, if set, runs (in its own goroutine) after every
	// successful connection, once subscriptions are restored.
	OnConnectionUp func(ctx context.Context, sessionPresent bool)
	// OnConnectionDown, if set, is called when an established connection drops.
	OnConnectionDown func()
}

// Handler receives a message that matched a subscription. It runs on the
// client's receive path: it must not block for long.
type Handler func(Message)

type subscription struct {
	filter  string
	qos     byte
	handler Handler
}

// Client is a connected (or reconnecting) MQTT v5 client.
type Client struct {
	opts   Options
	cm     *autopaho.ConnectionManager
	log    zerolog.Logger
	cancel context.CancelFunc

	mu   sync.Mutex
	subs []subscription
	up   bool

	wg    sync.WaitGroup // goroutines started from connection callbacks
	reach *reachability
	ups   atomic.Int64 // connections made
}

// redactURL is u without user information.
func redactURL(u *url.URL) string {
	cp := *u
	cp.User = nil
	return cp.String()
}

// ErrNotConnected is returned by Publish while the connection is down.
var ErrNotConnected = errors.New("not connected to the MQTT broker")

// Connect starts connecting in the background and returns at once; use
// AwaitConnection to wait for the first connection. The connection lives until
// Close or until ctx is cancelled.
func Connect(ctx context.Context, opts Options) (*Client, error) {
	if len(opts.Servers) == 0 {
		return nil, errors.New("mqtt: no broker address")
	}
	if opts.ClientID == "" {
		return nil, errors.New("mqtt: empty client id")
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &Client{opts: opts, log: opts.Logger, cancel: cancel}
	c.reach = newReachability(redactURL(opts.Servers[0]), opts.Logger)

	cfg := autopaho.ClientConfig{
		ServerUrls:                    opts.Servers,
		TlsCfg:                        opts.TLS,
		KeepAlive:                     opts.KeepAlive,
		CleanStartOnInitialConnection: opts.CleanStart,
		SessionExpiryInterval:         opts.SessionExpiry,
		ConnectTimeout:                opts.ConnectTimeout,
		ReconnectBackoff:              backoff(opts.MaxBackoff),
		ConnectUsername:               opts.Username,
		ConnectPassword:               opts.Password,
		OnConnectionUp: func(cm *autopaho.ConnectionManager, ack *paho.Connack) {
			c.connectionUp(ctx, cm, ack.SessionPresent)
		},
		OnConnectionDown: func() bool {
			c.mu.Lock()
			c.up = false
			c.mu.Unlock()
			c.log.Warn().Msg("mqtt connection lost; reconnecting")
			if opts.OnConnectionDown != nil {
				opts.OnConnectionDown()
			}
			return true
		},
		OnConnectError:       c.reach.failed,
		ConnectPacketBuilder: c.buildConnect,
		DisconnectPacketBuilder: func() *paho.Disconnect {
			// A deliberate disconnect ends the session (AIO SDK behaviour).
			zero := uint32(0)
			return &paho.Disconnect{ReasonCode: 0, Properties: &paho.DisconnectProperties{SessionExpiryInterval: &zero}}
		},
		ClientConfig: paho.ClientConfig{
			ClientID: opts.ClientID,
			// One session state for every connection of the client (as
			// autopaho's default), with the packets awaiting their
			// acknowledgement kept as they are (see packetStore).
			Session: state.New(newPacketStore(), memory.New()),
			// Set here, not with AddOnPublishReceived: that one only
			// reaches the current connection and is lost on reconnect.
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){c.route},
			OnClientError: func(err error) {
				c.log.Warn().Err(err).Msg("mqtt client error")
			},
			OnServerDisconnect: func(d *paho.Disconnect) {
				ev := c.log.Warn().Uint8("reason_code", d.ReasonCode)
				if d.Properties != nil && d.Properties.ReasonString != "" {
					ev = ev.Str("reason", d.Properties.ReasonString)
				}
				ev.Msg("mqtt broker disconnected us")
			},
		},
	}
	if dial := dialer(opts.Servers, opts.ConnectTimeout); dial != nil {
		cfg.AttemptConnection = func(ctx context.Context, cc autopaho.ClientConfig, u *url.URL) (net.Conn, error) {
			return dial(ctx, u, cc.TlsCfg)
		}
	}
	if opts.Auth != nil {
		// paho needs an auth handler whenever the broker answers with an
		// authentication method, which it does after K8S-SAT.
		cfg.ClientConfig.AuthHandler = &authHandler{}
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	c.mu.Lock()
	c.cm = cm
	c.mu.Unlock()
	return c, nil
}

func backoff(limit time.Duration) func(int) time.Duration {
	return func(attempt int) time.Duration {
		if attempt == 0 {
			return 0
		}
		d := 250 * time.Millisecond << min(attempt-1, 10)
		return min(d, limit)
	}
}

func (c *Client) buildConnect(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
	if cp.Properties == nil {
		cp.Properties = &paho.ConnectProperties{}
	}
	// Without it mochi drops user properties from what it sends us.
	cp.Properties.RequestProblemInfo = true
	if c.opts.ReceiveMaximum != 0 {
		rm := c.opts.ReceiveMaximum
		cp.Properties.ReceiveMaximum = &rm
	}
	if c.opts.Auth != nil {
		data, err := c.opts.Auth.Data()
		if err != nil {
			return nil, fmt.Errorf("read authentication data: %w", err)
		}
		cp.Properties.AuthMethod = c.opts.Auth.Method()
		cp.Properties.AuthData = data
	}
	return cp, nil
}

func (c *Client) connectionUp(ctx context.Context, cm *autopaho.ConnectionManager, sessionPresent bool) {
	c.ups.Add(1)
	c.reach.connected(sessionPresent)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.mu.Lock()
		subs := append([]subscription(nil), c.subs...)
		c.mu.Unlock()
		for _, s := range subs {
			if err := subscribe(ctx, cm, s.filter, s.qos); err != nil {
				c.log.Error().Err(err).Str("filter", s.filter).Msg("mqtt resubscribe failed")
			}
		}
		c.mu.Lock()
		c.up = true
		c.mu.Unlock()
		if c.opts.OnConnectionUp != nil {
			c.opts.OnConnectionUp(ctx, sessionPresent)
		}
	}()
}

// AwaitConnection blocks until the client is connected or ctx ends.
func (c *Client) AwaitConnection(ctx context.Context) error {
	return c.cm.AwaitConnection(ctx)
}

// Connected reports whether the connection is up right now.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up
}

// Publish sends m and, for QoS 1, waits for the broker's acknowledgement.
func (c *Client) Publish(ctx context.Context, m *Message) error {
	p := toPaho(m)
	resp, err := c.cm.Publish(ctx, p)
	if err != nil {
		if errors.Is(err, autopaho.ConnectionDownError) {
			return ErrNotConnected
		}
		return fmt.Errorf("publish to %q: %w", m.Topic, err)
	}
	if resp != nil && resp.ReasonCode >= 0x80 {
		return fmt.Errorf("publish to %q: broker refused with reason code 0x%02x", m.Topic, resp.ReasonCode)
	}
	return nil
}

// pahoPublish holds a PUBLISH and the properties it points to, so that
// converting a message is one allocation, not four.
type pahoPublish struct {
	publish paho.Publish
	props   paho.PublishProperties
	expiry  uint32
	format  byte
}

func toPaho(m *Message) *paho.Publish {
	pp := &pahoPublish{
		publish: paho.Publish{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain},
		props: paho.PublishProperties{
			ContentType:     m.ContentType,
			ResponseTopic:   m.ResponseTopic,
			CorrelationData: m.CorrelationData,
		},
	}
	p := &pp.publish
	p.Properties = &pp.props
	if m.MessageExpiry > 0 {
		pp.expiry = m.MessageExpiry
		p.Properties.MessageExpiry = &pp.expiry
	}
	if m.UTF8Payload {
		pp.format = 1
		p.Properties.PayloadFormat = &pp.format
	}
	if len(m.UserProperties) > 0 {
		p.Properties.User = make(paho.UserProperties, len(m.UserProperties))
		for i, u := range m.UserProperties {
			p.Properties.User[i] = paho.UserProperty{Key: u.Key, Value: u.Value}
		}
	}
	return p
}

func fromPaho(p *paho.Publish) Message {
	m := Message{Topic: p.Topic, Payload: p.Payload, QoS: p.QoS, Retain: p.Retain}
	if pr := p.Properties; pr != nil {
		m.ContentType = pr.ContentType
		m.ResponseTopic = pr.ResponseTopic
		m.CorrelationData = pr.CorrelationData
		if pr.MessageExpiry != nil {
			m.MessageExpiry = *pr.MessageExpiry
		}
		if pr.PayloadFormat != nil && *pr.PayloadFormat == 1 {
			m.UTF8Payload = true
		}
		for _, u := range pr.User {
			m.UserProperties = append(m.UserProperties, UserProperty{Key: u.Key, Value: u.Value})
		}
	}
	return m
}

// Subscribe subscribes to filter and sends matching messages to h. The
// subscription is restored after every reconnect. If the client is not
// connected now, the subscription is made when it connects.
func (c *Client) Subscribe(ctx context.Context, filter string, qos byte, h Handler) error {
	c.mu.Lock()
	c.subs = append(c.subs, subscription{filter: filter, qos: qos, handler: h})
	c.mu.Unlock()
	// Subscribing twice is harmless; missing one is not: the connection may
	// have come up after the restore loop copied the list.
	c.mu.Lock()
	cm := c.cm
	c.mu.Unlock()
	err := subscribe(ctx, cm, filter, qos)
	if errors.Is(err, autopaho.ConnectionDownError) {
		return nil // made on connect
	}
	return err
}

// Unsubscribe removes every subscription for filter.
func (c *Client) Unsubscribe(ctx context.Context, filter string) error {
	c.mu.Lock()
	kept := c.subs[:0]
	for _, s := range c.subs {
		if s.filter != filter {
			kept = append(kept, s)
		}
	}
	c.subs = kept
	c.mu.Unlock()
	_, err := c.cm.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{filter}})
	if err != nil && !errors.Is(err, autopaho.ConnectionDownError) {
		return fmt.Errorf("unsubscribe %q: %w", filter, err)
	}
	return nil
}

func subscribe(ctx context.Context, cm *autopaho.ConnectionManager, filter string, qos byte) error {
	ack, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil {
		return fmt.Errorf("subscribe %q: %w", filter, err)
	}
	if ack == nil {
		return nil
	}
	if len(ack.Reasons) > 0 && ack.Reasons[0] >= 0x80 {
		return fmt.Errorf("subscribe %q: broker refused with reason code 0x%02x", filter, ack.Reasons[0])
	}
	return nil
}

func (c *Client) route(pr paho.PublishReceived) (bool, error) {
	c.mu.Lock()
	var handlers []Handler
	for _, s := range c.subs {
		if MatchTopic(s.filter, pr.Packet.Topic) {
			handlers = append(handlers, s.handler)
		}
	}
	c.mu.Unlock()
	if len(handlers) == 0 {
		return false, nil
	}
	m := fromPaho(pr.Packet)
	for _, h := range handlers {
		h(m)
	}
	return true, nil
}

// Reauthenticate sends an AUTH packet (reason 0x19) with fresh data from the
// authenticator, as K8S-SAT requires when the token is renewed.
func (c *Client) Reauthenticate(ctx context.Context) error {
	if c.opts.Auth == nil {
		return errors.New("re-authenticate: no authenticator configured")
	}
	data, err := c.opts.Auth.Data()
	if err != nil {
		return fmt.Errorf("re-authenticate: %w", err)
	}
	resp, err := c.cm.Authenticate(ctx, &paho.Auth{
		ReasonCode: 0x19,
		Properties: &paho.AuthProperties{AuthMethod: c.opts.Auth.Method(), AuthData: data},
	})
	if err != nil {
		return fmt.Errorf("re-authenticate: %w", err)
	}
	if resp != nil && !resp.Success {
		return fmt.Errorf("re-authenticate: broker refused with reason code 0x%02x", resp.ReasonCode)
	}
	return nil
}

// Reconnects is how many times the client connected again after its
// first connection.
func (c *Client) Reconnects() int64 { return max(c.ups.Load()-1, 0) }

// Close disconnects (ending the session) and stops reconnecting. It waits for
// the goroutines the client started.
func (c *Client) Close(ctx context.Context) error {
	err := c.cm.Disconnect(ctx)
	c.cancel()
	select {
	case <-c.cm.Done():
	case <-ctx.Done():
	}
	c.wg.Wait()
	if err != nil && !errors.Is(err, autopaho.ConnectionDownError) {
		return fmt.Errorf("mqtt disconnect: %w", err)
	}
	return nil
}

// MatchTopic reports whether topic matches the MQTT filter (with + and #).
func MatchTopic(filter, topic string) bool {
	if strings.HasPrefix(filter, "$share/") {
		parts := strings.SplitN(filter, "/", 3)
		if len(parts) < 3 {
			return false
		}
		filter = parts[2]
	}
	for {
		fi := strings.IndexByte(filter, '/')
		ti := strings.IndexByte(topic, '/')
		var f, t string
		if fi < 0 {
			f = filter
		} else {
			f = filter[:fi]
		}
		if ti < 0 {
			t = topic
		} else {
			t = topic[:ti]
		}
		switch {
		case f == "#":
			return true
		case f != "+" && f != t:
			return false
		}
		if fi < 0 || ti < 0 {
			if fi < 0 && ti < 0 {
				return true
			}
			// "a/#" also matches "a".
			return ti < 0 && filter[fi+1:] == "#"
		}
		filter, topic = filter[fi+1:], topic[ti+1:]
	}
}

// authHandler satisfies paho's Auther for brokers that echo the
// authentication method; K8S-SAT needs no continuation round trip.
type authHandler struct{}

func (authHandler) Authenticate(a *paho.Auth) *paho.Auth {
	return &paho.Auth{ReasonCode: 0x18, Properties: &paho.AuthProperties{AuthMethod: a.Properties.AuthMethod}}
}

func (authHandler) Authenticated() {}
