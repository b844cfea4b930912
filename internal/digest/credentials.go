package digest

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Credentials are a username and password. However they are printed,
// marshalled or logged, the password shows as <redacted>.
type Credentials struct {
	Username string
	Password string
}

// Get returns the credentials, so that a fixed pair can serve as
// Transport.Credentials:
//
//	&digest.Transport{Credentials: digest.Credentials{Username: "admin", Password: pw}.Get}
func (c Credentials) Get() (user, pass string, err error) { return c.Username, c.Password, nil }

// String shows the username only.
func (c Credentials) String() string {
	return "Credentials{username:" + strconv.Quote(c.Username) + " password:<redacted>}"
}

// GoString keeps %#v from printing the password.
func (c Credentials) GoString() string { return "digest." + c.String() }

// Format prints String for every verb (GoString for %#v), so that no verb
// or flag reaches the fields.
func (c Credentials) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, c.GoString())
	case verb == 'q':
		io.WriteString(f, strconv.Quote(c.String()))
	default:
		io.WriteString(f, c.String())
	}
}

// MarshalJSON writes the username and a redacted password.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}{c.Username, "<redacted>"})
}

// LogValue keeps log/slog from printing the password.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", c.Username), slog.String("password", "<redacted>"))
}
