package httpauth

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/http-connector/http-connector/internal/mapping"
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

// String shows the login without the header values, the query of the URL
// or the body.
func (l Login) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Login{%s %q", cmp.Or(l.Method, "POST"), where(l.URL))
	if len(l.Header) > 0 {
		fmt.Fprintf(&b, " header:%q", headerNames(l.Header))
	}
	if l.Body != nil {
		fmt.Fprintf(&b, " body:<redacted, %d bytes>", len(l.Body))
	}
	if l.ContentType != "" {
		fmt.Fprintf(&b, " content type:%q", l.ContentType)
	}
	p := l.public()
	for _, f := range []struct{ name, v string }{
		{"token jq", p.TokenJQ}, {"token header", p.TokenHeader}, {"error jq", p.ErrorJQ},
		{"use header", p.UseHeader}, {"use prefix", p.UsePrefix}, {"use query", p.UseQuery},
		{"expires in jq", p.ExpiresInJQ}, {"relogin jq", p.ReloginJQ},
	} {
		if f.v != "" {
			fmt.Fprintf(&b, " %s:%q", f.name, f.v)
		}
	}
	if l.Lifetime != 0 {
		fmt.Fprintf(&b, " lifetime:%v", l.Lifetime)
	}
	if len(l.ReloginStatus) > 0 {
		fmt.Fprintf(&b, " relogin status:%v", l.ReloginStatus)
	}
	b.WriteString("}")
	return b.String()
}

// GoString keeps %#v from printing the secrets.
func (l Login) GoString() string { return "httpauth." + l.String() }

// Format prints String for every verb (GoString for %#v), so that no verb
// or flag reaches the fields.
func (l Login) Format(f fmt.State, verb rune) { format(f, verb, l.String(), l.GoString()) }

// MarshalJSON writes the login without the header values, the query of
// the URL or the body.
func (l Login) MarshalJSON() ([]byte, error) { return json.Marshal(l.public()) }

// LogValue keeps log/slog from printing the secrets.
func (l Login) LogValue() slog.Value { return slog.AnyValue(l.public()) }

type loginJSON struct {
	Method        string   `json:"method,omitempty"`
	URL           string   `json:"url"`
	Header        []string `json:"header,omitempty"` // names only
	Body          string   `json:"body,omitempty"`
	ContentType   string   `json:"content_type,omitempty"`
	TokenJQ       string   `json:"token_jq,omitempty"`
	TokenHeader   string   `json:"token_header,omitempty"`
	ErrorJQ       string   `json:"error_jq,omitempty"`
	UseHeader     string   `json:"use_header,omitempty"`
	UsePrefix     string   `json:"use_prefix,omitempty"`
	UseQuery      string   `json:"use_query,omitempty"`
	Lifetime      string   `json:"lifetime,omitempty"`
	ExpiresInJQ   string   `json:"expires_in_jq,omitempty"`
	ReloginStatus []int    `json:"relogin_status,omitempty"`
	ReloginJQ     string   `json:"relogin_jq,omitempty"`
}

func (l Login) public() loginJSON {
	p := loginJSON{Method: l.Method, URL: where(l.URL), Header: headerNames(l.Header), ContentType: l.ContentType,
		TokenJQ: source(l.TokenJQ), TokenHeader: l.TokenHeader, ErrorJQ: source(l.ErrorJQ),
		UseHeader: l.UseHeader, UsePrefix: l.UsePrefix, UseQuery: l.UseQuery,
		ExpiresInJQ: source(l.ExpiresInJQ), ReloginStatus: l.ReloginStatus, ReloginJQ: source(l.ReloginJQ)}
	if l.Body != nil {
		p.Body = redacted
	}
	if l.Lifetime != 0 {
		p.Lifetime = l.Lifetime.String()
	}
	return p
}

func headerNames(h http.Header) []string {
	if len(h) == 0 {
		return nil
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func source(p *mapping.Program) string {
	if p == nil {
		return ""
	}
	return p.Source()
}
