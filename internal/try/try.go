// Package try samples one asset once, as a run would, without publishing,
// and writes what happened: every request with its status, timing and
// (truncated) body, every data point value and every message with its
// topic and properties. It is the command an integrator runs while shaping
// a configuration against a live device.
package try

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/credentials"
	"github.com/http-connector/http-connector/internal/endpointclient"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/httpauth"
	"github.com/http-connector/http-connector/internal/placeholder"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/sampling"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/source/folder"
)

// Options say what to try.
type Options struct {
	Settings *settings.Settings // Config is the folder
	Asset    string
	Dataset  string // empty: every dataset of the asset
	// BodyLimit is how many bytes of each response body are shown.
	BodyLimit int
	Getenv    func(string) (string, bool)
	Logger    zerolog.Logger
	Out       io.Writer
}

// Run samples the asset once and writes what happened to o.Out. It
// returns false when a request, value or mapping failed; an error when the
// configuration cannot be loaded (a config.Errors) or names no such asset.
func Run(ctx context.Context, o Options) (bool, error) {
	s := o.Settings
	loader, err := config.ForSettings(s)
	if err != nil {
		return false, err
	}
	cfg, err := loader.LoadDir(os.DirFS(s.Config), ".", s.Config)
	if err != nil {
		return false, err
	}
	asset, datasets, err := pick(cfg, s.Config, o.Asset, o.Dataset)
	if err != nil {
		return false, err
	}
	if !asset.Active() {
		fmt.Fprintf(o.Out, "note: asset %q is disabled (or its device is): run does not sample it\n", asset.Name)
	}
	secrets := folder.Secrets(s, o.Getenv)
	creds, err := credentials.Resolve(asset.Endpoint, secrets)
	if err != nil {
		return false, fmt.Errorf("device %q endpoint %q: credentials: %w", asset.Endpoint.Device, asset.Endpoint.Name, err)
	}
	var lookup func(placeholder.Ref) (string, error)
	if names := asset.SecretNames(); len(names) > 0 {
		values, _, err := credentials.Named(names, secrets)
		if err != nil {
			return false, fmt.Errorf("asset %q: request secrets: %w", asset.Name, err)
		}
		lookup = credentials.Lookup(values)
	}
	var auth authEvents
	client, err := endpointclient.Build(asset.Endpoint, creds, endpointclient.Options{
		Fetch:    fetch.Options{MaxResponseBytes: s.MaxResponseBytes, MaxConns: s.MaxConnsPerDevice},
		Observer: auth.add,
	})
	if err != nil {
		return false, err
	}
	defer client.Close()
	ok := true
	for i, d := range datasets {
		if i > 0 {
			fmt.Fprintln(o.Out)
		}
		sampler, err := sampling.New(d, client, nil, sampling.Options{Logger: o.Logger, Secrets: lookup})
		if err != nil {
			return false, err
		}
		trace, err := sampler.Try(ctx)
		printTrace(o.Out, d, trace, auth.take(), err, o.BodyLimit)
		ok = ok && err == nil
	}
	return ok, nil
}

// printAuth writes a sample's login and token requests.
func printAuth(w io.Writer, auth []httpauth.Event) {
	for _, e := range auth {
		fmt.Fprintf(w, "  %s %s %s\n", e.Step, e.Method, e.URL)
		switch {
		case e.Err != nil:
			fmt.Fprintf(w, "    failed: %v\n", e.Err)
		default:
			fmt.Fprintf(w, "    %d %s in %v (token and secrets not shown)\n", e.Status, http.StatusText(e.Status), e.Elapsed.Round(10*time.Microsecond))
		}
	}
}

// printRequests writes a sample's requests as sent (pages one by one),
// their answers and, for a body that is not JSON, what it parsed to.
func printRequests(w io.Writer, reqs []sampling.RequestTrace, bodyLimit int) {
	for _, r := range reqs {
		if r.Page > 0 {
			fmt.Fprintf(w, "  request %s (page %d)\n", r.Request, r.Page)
		} else {
			fmt.Fprintf(w, "  request %s\n", r.Request)
		}
		if r.Err != nil {
			fmt.Fprintf(w, "    failed: %s\n", strings.TrimPrefix(r.Err.Error(), r.Request+": "))
			continue
		}
		fmt.Fprintf(w, "    %d %s in %v, %s, %d bytes\n", r.Status, http.StatusText(r.Status), r.Elapsed.Round(10*time.Microsecond), or(r.ContentType, "no content type"), len(r.Body))
		if len(r.Body) > 0 {
			fmt.Fprintln(w, indent(truncate(r.Body, bodyLimit), "    "))
		}
		if r.Format != "" && r.Parsed != nil {
			fmt.Fprintf(w, "    read as %s: %s\n", r.Format, truncate([]byte(compactJSON(r.Parsed)), bodyLimit))
		}
	}
}

// authEvents are the login and token requests of a sample.
type authEvents struct {
	mu     sync.Mutex
	events []httpauth.Event
}

func (a *authEvents) add(e httpauth.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

// take returns the events so far and forgets them.
func (a *authEvents) take() []httpauth.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.events
	a.events = nil
	return out
}

// pick finds the asset and the datasets to try.
func pick(cfg *config.Config, folder, assetName, datasetName string) (*plan.Asset, []*plan.Dataset, error) {
	var asset *plan.Asset
	var names []string
	for _, a := range cfg.Assets {
		names = append(names, fmt.Sprintf("%q", a.Name))
		if a.Name == assetName {
			asset = a
		}
	}
	if asset == nil {
		return nil, nil, fmt.Errorf("no asset %q in %s (assets: %s)", assetName, folder, strings.Join(names, ", "))
	}
	if datasetName == "" {
		return asset, asset.Datasets, nil
	}
	names = names[:0]
	for _, d := range asset.Datasets {
		names = append(names, fmt.Sprintf("%q", d.Name))
		if d.Name == datasetName {
			return asset, []*plan.Dataset{d}, nil
		}
	}
	return nil, nil, fmt.Errorf("asset %q has no dataset %q (datasets: %s)", asset.Name, datasetName, strings.Join(names, ", "))
}

// printTrace writes what one tried sample did: its login or token
// requests, then its requests, values and messages.
func printTrace(w io.Writer, d *plan.Dataset, t *sampling.Trace, auth []httpauth.Event, err error, bodyLimit int) {
	mapping := "none"
	switch {
	case d.MappingName != "":
		mapping = d.MappingName
	case d.Mapping != nil:
		mapping = "jq"
	}
	fmt.Fprintf(w, "asset %q dataset %q: every %v, request timeout %v, mapping %s\n", d.Asset, d.Name, d.Interval, d.Timeout, mapping)
	fmt.Fprintf(w, "sampled at %s\n", t.Time.Format(time.RFC3339Nano))
	printAuth(w, auth)
	printRequests(w, t.Requests, bodyLimit)
	for _, v := range t.Values {
		if v.Err != nil {
			fmt.Fprintf(w, "  value %s failed: %v\n", v.Name, v.Err)
			continue
		}
		fmt.Fprintf(w, "  value %s = %s\n", v.Name, compactJSON(v.Value))
	}
	if err != nil {
		fmt.Fprintf(w, "  no message: the sample failed: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	if t.Cursor != "" {
		fmt.Fprintf(w, "  next cursor: %s\n", t.Cursor)
	}
	if t.Duplicates > 0 {
		fmt.Fprintf(w, "  %d messages dropped as duplicates (dedup)\n", t.Duplicates)
	}
	if t.Suppressed != "" {
		fmt.Fprintf(w, "  not published: %s; the messages would be:\n", t.Suppressed)
	}
	if len(t.Messages) == 0 {
		fmt.Fprintln(w, "  no message: the mapping gave no output, so nothing is published for this sample (filtered)")
		return
	}
	for _, m := range t.Messages {
		retain := "no"
		if m.Retain {
			retain = "yes"
		}
		expiry := "none"
		if m.MessageExpiry > 0 {
			expiry = (time.Duration(m.MessageExpiry) * time.Second).String()
		}
		fmt.Fprintf(w, "  message to %s: qos %d, retain %s, expiry %s, content type %s", m.Topic, m.QoS, retain, expiry, or(m.ContentType, "none"))
		if m.UTF8Payload {
			fmt.Fprint(w, ", UTF-8 payload")
		}
		fmt.Fprintln(w)
		if len(m.UserProperties) > 0 {
			props := make([]string, len(m.UserProperties))
			for i, p := range m.UserProperties {
				props[i] = p.Key + "=" + p.Value
			}
			sort.Strings(props)
			fmt.Fprintf(w, "    user properties: %s\n", strings.Join(props, ", "))
		}
		fmt.Fprintln(w, indent(string(m.Payload), "    "))
	}
}

func or(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

// truncate shows at most limit bytes of a body as text.
func truncate(b []byte, limit int) string {
	b = bytes.TrimRight(b, "\r\n")
	more := 0
	if limit >= 0 && len(b) > limit {
		more = len(b) - limit
		b = b[:limit]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1] // do not cut a character
			more++
		}
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if more > 0 {
		s += fmt.Sprintf("… (%d more bytes)", more)
	}
	return s
}

func compactJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v (not JSON: %v)", v, err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func indent(text, prefix string) string {
	return prefix + strings.ReplaceAll(text, "\n", "\n"+prefix)
}
