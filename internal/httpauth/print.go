package httpauth

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
)

// redacted stands for a secret in what is printed.
const redacted = "<redacted>"

// String shows the configuration without its secrets.
func (c OAuth2) String() string {
	return fmt.Sprintf("OAuth2{token URL:%q client ID:%s client secret:%s scopes:%q params:%q auth style:%v renew before:%v}",
		where(c.TokenURL), redacted, redacted, c.Scopes, paramNames(c), c.AuthStyle, c.RenewBefore)
}

// GoString keeps %#v from printing the secrets.
func (c OAuth2) GoString() string { return "httpauth." + c.String() }

// Format prints String for every verb (GoString for %#v), so that no verb
// or flag reaches the fields.
func (c OAuth2) Format(f fmt.State, verb rune) { format(f, verb, c.String(), c.GoString()) }

// MarshalJSON writes the configuration with the secrets redacted.
func (c OAuth2) MarshalJSON() ([]byte, error) { return json.Marshal(c.public()) }

// LogValue keeps log/slog from printing the secrets.
func (c OAuth2) LogValue() slog.Value { return slog.AnyValue(c.public()) }

type oauth2JSON struct {
	TokenURL     string   `json:"token_url"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	Scopes       []string `json:"scopes,omitempty"`
	Params       []string `json:"params,omitempty"` // names only
	AuthStyle    string   `json:"auth_style"`
	RenewBefore  string   `json:"renew_before"`
}

func (c OAuth2) public() oauth2JSON {
	return oauth2JSON{where(c.TokenURL), redacted, redacted, c.Scopes, paramNames(c), c.AuthStyle.String(), c.RenewBefore.String()}
}

// paramNames are the names of the extra parameters, sorted: their values
// may be secrets.
func paramNames(c OAuth2) []string {
	names := make([]string, 0, len(c.Params))
	for k := range c.Params {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// format writes s for every verb, gs for %#v and s quoted for %q.
func format(f fmt.State, verb rune, s, gs string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, gs)
	case verb == 'q':
		io.WriteString(f, strconv.Quote(s))
	default:
		io.WriteString(f, s)
	}
}
