package statestore

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/statestore/resp3"
)

// NotifyTopicPrefix starts every notification topic:
// "<prefix><HEX(client id)>/command/notify/<HEX(key)>".
const NotifyTopicPrefix = "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/"

// Operations of a Notification.
const (
	OperationSet    = "SET"
	OperationDelete = "DELETE" // also sent when the key expires
)

// NotifyTopic is the topic of the notifications about key sent to the client
// with clientID. Both are upper-case hex, as the Go and Rust SDKs encode them.
func NotifyTopic(clientID string, key []byte) string {
	return NotifyTopicPrefix + upperHex([]byte(clientID)) + "/command/notify/" + upperHex(key)
}

// NotifyFilter is the topic filter of every notification for clientID.
func NotifyFilter(clientID string) string {
	return NotifyTopicPrefix + upperHex([]byte(clientID)) + "/command/notify/+"
}

func upperHex(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// Notification is one KEYNOTIFY message.
type Notification struct {
	Key       []byte
	Operation string // OperationSet or OperationDelete
	Value     []byte // the new value, for OperationSet
	// Version is the message's __ts: the key's version after the change; ""
	// if absent.
	Version string
}

// ParseNotification decodes a message received on NotifyFilter: the key
// from the hex last topic level, the payload "*2 NOTIFY DELETE" or
// "*4 NOTIFY SET VALUE <value>".
func ParseNotification(m mqttclient.Message) (Notification, error) {
	rest, ok := strings.CutPrefix(m.Topic, NotifyTopicPrefix)
	levels := strings.Split(rest, "/")
	if !ok || len(levels) != 4 || levels[1] != "command" || levels[2] != "notify" {
		return Notification{}, fmt.Errorf("state store notification: topic %q is not a notification topic", m.Topic)
	}
	key, err := hex.DecodeString(levels[3])
	if err != nil || len(key) == 0 {
		return Notification{}, fmt.Errorf("state store notification: topic %q: key is not hex", m.Topic)
	}
	v, err := resp3.Parse(m.Payload)
	if err != nil {
		return Notification{}, fmt.Errorf("state store notification: %w", err)
	}
	parts, err := v.BlobArray()
	if err != nil {
		return Notification{}, fmt.Errorf("state store notification: %w", err)
	}
	n := Notification{Key: key}
	n.Version, _ = m.Property(aiorpc.PropTimestamp)
	switch {
	case len(parts) == 2 && string(parts[0]) == "NOTIFY" && string(parts[1]) == OperationDelete:
		n.Operation = OperationDelete
	case len(parts) == 4 && string(parts[0]) == "NOTIFY" && string(parts[1]) == OperationSet && string(parts[2]) == "VALUE":
		n.Operation, n.Value = OperationSet, append([]byte{}, parts[3]...)
	default:
		return Notification{}, fmt.Errorf("state store notification: payload %q is neither NOTIFY DELETE nor NOTIFY SET VALUE", truncate(m.Payload))
	}
	return n, nil
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
