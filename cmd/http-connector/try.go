package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/sampling"
	"github.com/http-connector/http-connector/internal/source/folder"
)

func cmdTry(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet("try", "Samples one asset once, as 'run' would, and prints every request with its status and\n"+
		"timing, each response (truncated), each data point value and the messages with their\n"+
		"topic and properties, without publishing anything. Exit status 0: every dataset gave\n"+
		"its messages; 1: a request, value or mapping failed, or the configuration has problems.", e)
	sf := addSettingFlags(fs, false)
	assetName := fs.String("asset", "", "`name` of the asset to sample (required)")
	datasetName := fs.String("dataset", "", "sample only this `dataset` of the asset")
	bodyLimit := fs.Int("body-limit", 1024, "show at most this many `bytes` of each response body")
	s, code, done := sf.parseSettings(fs, args, e)
	if done {
		return code
	}
	if s.Config == "" || *assetName == "" {
		fmt.Fprintln(e.stderr, "http-connector try: --config and --asset are required")
		return exitUsage
	}
	cfg, code, done := loadConfig(e, s)
	if done {
		return code
	}
	var asset *plan.Asset
	var names []string
	for _, a := range cfg.Assets {
		names = append(names, fmt.Sprintf("%q", a.Name))
		if a.Name == *assetName {
			asset = a
		}
	}
	if asset == nil {
		fmt.Fprintf(e.stderr, "http-connector try: no asset %q in %s (assets: %s)\n", *assetName, s.Config, strings.Join(names, ", "))
		return exitFailure
	}
	datasets := asset.Datasets
	if *datasetName != "" {
		datasets = nil
		names = names[:0]
		for _, d := range asset.Datasets {
			names = append(names, fmt.Sprintf("%q", d.Name))
			if d.Name == *datasetName {
				datasets = []*plan.Dataset{d}
			}
		}
		if datasets == nil {
			fmt.Fprintf(e.stderr, "http-connector try: asset %q has no dataset %q (datasets: %s)\n", asset.Name, *datasetName, strings.Join(names, ", "))
			return exitFailure
		}
	}
	if !asset.Enabled || !asset.Endpoint.Enabled {
		fmt.Fprintf(e.stdout, "note: asset %q is disabled (or its device is): run does not sample it\n", asset.Name)
	}

	creds, err := folder.Credentials(s, e.getenv)(asset.Endpoint)
	if err != nil {
		fmt.Fprintf(e.stderr, "http-connector try: device %q endpoint %q: credentials: %v\n", asset.Endpoint.Device, asset.Endpoint.Name, err)
		return exitFailure
	}
	fo := folder.FetchOptions(s)
	fo.Credentials = creds
	client := fetch.New(fo)
	defer client.Close()
	log := newLogger(e.stderr, s)

	failed := false
	for i, d := range datasets {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		sampler, err := sampling.New(d, client, nil, sampling.Options{Logger: log})
		if err != nil {
			fmt.Fprintln(e.stderr, err)
			return exitFailure
		}
		trace, err := sampler.Try(ctx)
		printTrace(e.stdout, d, trace, err, *bodyLimit)
		failed = failed || err != nil
	}
	if failed {
		return exitFailure
	}
	return exitOK
}

// printTrace writes what one tried sample did.
func printTrace(w io.Writer, d *plan.Dataset, t *sampling.Trace, err error, bodyLimit int) {
	mapping := "none"
	switch {
	case d.MappingName != "":
		mapping = d.MappingName
	case d.Mapping != nil:
		mapping = "jq"
	}
	fmt.Fprintf(w, "asset %q dataset %q: every %v, request timeout %v, mapping %s\n", d.Asset, d.Name, d.Interval, d.Timeout, mapping)
	fmt.Fprintf(w, "sampled at %s\n", t.Time.Format(time.RFC3339Nano))
	for _, r := range t.Requests {
		fmt.Fprintf(w, "  request %s\n", r.Request)
		if r.Err != nil {
			fmt.Fprintf(w, "    failed: %s\n", strings.TrimPrefix(r.Err.Error(), r.Request+": "))
			continue
		}
		fmt.Fprintf(w, "    %d %s in %v, %s, %d bytes\n", r.Status, http.StatusText(r.Status), r.Elapsed.Round(10*time.Microsecond), or(r.ContentType, "no content type"), len(r.Body))
		if len(r.Body) > 0 {
			fmt.Fprintln(w, indent(truncate(r.Body, bodyLimit), "    "))
		}
	}
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
