package statuspage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// maxRequestBytes bounds the body of a POST: a mapping input pasted in
// the playground.
const maxRequestBytes = 1 << 20

type tryRequestJSON struct {
	Asset   string `json:"asset"`
	Dataset string `json:"dataset"`
}

type mapRequestJSON struct {
	Asset   string          `json:"asset"`
	Dataset string          `json:"dataset"`
	Input   json.RawMessage `json:"input"`
	Jq      string          `json:"jq"`
	Mapping string          `json:"mapping"`
}

// serveTry samples one dataset once, publishing nothing.
func (p *Page) serveTry(w http.ResponseWriter, r *http.Request) {
	var req tryRequestJSON
	if !p.readPost(w, r, &req) {
		return
	}
	if req.Asset == "" || req.Dataset == "" {
		writeError(w, http.StatusBadRequest, errors.New("try: give the asset and the dataset"))
		return
	}
	what := fmt.Sprintf("try asset %q dataset %q", req.Asset, req.Dataset)
	release, ok := p.acquire(w, what)
	if !ok {
		return
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), p.opts.Timeout)
	defer cancel()
	trial, err := p.backend.Try(ctx, req.Asset, req.Dataset)
	if err == nil && trial == nil {
		err = errors.New("the connector gave no trial")
	}
	if err != nil {
		p.writeBackendError(ctx, w, what, err)
		return
	}
	writeJSON(w, http.StatusOK, trialView(trial))
}

// serveMap runs a program on an input as a dataset would, publishing
// nothing, and writes the run as a test case.
func (p *Page) serveMap(w http.ResponseWriter, r *http.Request) {
	var body mapRequestJSON
	if !p.readPost(w, r, &body) {
		return
	}
	req, err := mapRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	what := fmt.Sprintf("map asset %q dataset %q", req.Asset, req.Dataset)
	release, ok := p.acquire(w, what)
	if !ok {
		return
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), p.opts.Timeout)
	defer cancel()
	res, err := p.backend.Map(ctx, req)
	if err == nil && res == nil {
		err = errors.New("the connector gave no result")
	}
	if err != nil {
		p.writeBackendError(ctx, w, what, err)
		return
	}
	res.TestCase = testCase(req, res)
	writeJSON(w, http.StatusOK, mapView(res))
}

// mapRequest checks what the playground asks to map.
func mapRequest(b mapRequestJSON) (MapRequest, error) {
	req := MapRequest{Asset: b.Asset, Dataset: b.Dataset, Jq: b.Jq, Mapping: b.Mapping}
	switch {
	case b.Asset == "" || b.Dataset == "":
		return req, errors.New("map: give the asset and the dataset")
	case len(b.Input) == 0:
		return req, errors.New("map: give the input, as JSON")
	case strings.TrimSpace(b.Jq) != "" && b.Mapping != "":
		return req, errors.New("map: give jq or a mapping, not both")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b.Input); err != nil {
		return req, fmt.Errorf("map: the input is not JSON: %w", err)
	}
	req.Input = compact.Bytes()
	if strings.TrimSpace(req.Jq) == "" {
		req.Jq = ""
	}
	return req, nil
}

// readPost refuses a cross-origin or non-JSON POST and decodes its body
// into v; it answers the error itself and returns false.
func (p *Page) readPost(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := p.csrf.Check(r); err != nil {
		writeError(w, http.StatusForbidden, fmt.Errorf("%s: refused: %w", r.URL.Path, err))
		return false
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Errorf("%s: send application/json, not %q", r.URL.Path, r.Header.Get("Content-Type")))
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("%s: the request is larger than %d bytes", r.URL.Path, maxRequestBytes))
			return false
		}
		writeError(w, http.StatusBadRequest, fmt.Errorf("%s: read the request: %w", r.URL.Path, err))
		return false
	}
	return true
}

// acquire takes one of the MaxConcurrent tokens, or answers 429 at once.
func (p *Page) acquire(w http.ResponseWriter, what string) (release func(), ok bool) {
	select {
	case p.trials <- struct{}{}:
		return func() { <-p.trials }, true
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, fmt.Errorf("%s: %d tries and mappings are running already, the most at once: try again when one has ended", what, cap(p.trials)))
		return nil, false
	}
}

// writeBackendError answers a Try or Map error with its status.
func (p *Page) writeBackendError(ctx context.Context, w http.ResponseWriter, what string, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
		err = fmt.Errorf("no answer within %v: %w", p.opts.Timeout, err)
	}
	writeError(w, status, fmt.Errorf("%s: %w", what, err))
}
