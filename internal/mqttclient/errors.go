package mqttclient

import (
	"errors"

	"github.com/eclipse/paho.golang/paho"
)

// IsConnectionError reports whether err from Publish means the connection was
// down or dropped while the message was in flight, so that sending again
// after the reconnect may succeed.
func IsConnectionError(err error) bool {
	return errors.Is(err, ErrNotConnected) ||
		errors.Is(err, paho.ErrConnectionLost) ||
		errors.Is(err, paho.ErrNetworkErrorAfterStored)
}
