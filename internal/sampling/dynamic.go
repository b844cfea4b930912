package sampling

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/placeholder"
	"github.com/http-connector/http-connector/internal/plan"
)

// dynamic reports whether the dataset's requests change from one sample to
// the next (templates) or follow pages: a sample then makes them one after
// the other, rendered for it.
func dynamic(ds *plan.Dataset) bool {
	if ds.Pages != nil {
		return true
	}
	for _, r := range ds.Requests {
		if r.Template != nil {
			return true
		}
	}
	return false
}

// vars are the values of a sample's placeholders.
func (s *Sampler) vars(now time.Time) plan.Vars {
	v := plan.Vars{Now: now, Previous: s.carry.Previous}
	if v.Previous.IsZero() {
		window := s.ds.Window.Initial
		if window == 0 {
			window = s.ds.Interval
		}
		v.Previous = now.Add(-window)
	}
	if c := s.ds.Cursor; c != nil {
		v.Cursor = c.Initial
		if s.carry.Cursor != nil {
			v.Cursor = *s.carry.Cursor
		}
	}
	v.Secrets = func(r placeholder.Ref) (string, error) {
		if s.opts.Secrets != nil {
			if val, err := s.opts.Secrets(r); !errors.Is(err, placeholder.ErrNoValue) {
				return val, err
			}
		}
		return s.client.Secret(r)
	}
	return v
}

// prepare is request i of the sample: the prepared one, or its template
// rendered for the sample.
func (sm *sample) prepare(i int) (*fetch.Request, error) {
	s := sm.s
	t := s.ds.Requests[i].Template
	if t == nil {
		return s.reqs[i], nil
	}
	vars := sm.vars
	var secrets []string
	vars.Secrets = func(r placeholder.Ref) (string, error) {
		v, err := sm.vars.Secrets(r)
		secrets = append(secrets, v)
		return v, err
	}
	p, err := t.Render(vars)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	p.Parse = s.ds.Requests[i].Parse
	r, err := s.client.PrepareWith(p, s.opts.Secrets)
	if err == nil && len(secrets) > 0 {
		s.client.Redact(r, secrets...)
	}
	return r, err
}

// fetchDynamic makes the sample's requests one after the other, rendered
// for it, following the pages of a paged dataset.
func (sm *sample) fetchDynamic() error {
	s := sm.s
	var errs []error
	for i := range sm.resps {
		r, err := sm.prepare(i)
		if err != nil {
			sm.resps[i].err = err
			errs = append(errs, err)
			continue
		}
		sm.reqs[i] = r
		if s.ds.Pages != nil {
			err = sm.pages(r)
		} else {
			sm.resps[i].r, err = s.client.DoRetry(sm.rctx, r, s.retry)
			s.c.Requests.Add(1)
			s.observe(sm.resps[i].r)
		}
		if err != nil {
			sm.resps[i].err = err
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return &deviceError{errors.Join(errs...)}
	}
	return nil
}

// pages follows the pages of the dataset's one request from r: the records
// of every page become the value of its response.
func (sm *sample) pages(r *fetch.Request) error {
	s, pg := sm.s, sm.s.ds.Pages
	rs := &sm.resps[0]
	if pg.Next == plan.NextPage || pg.Next == plan.NextOffset {
		first, err := s.client.Again(r, withParam(r.URL(), pg.Param, strconv.Itoa(pg.Start)))
		if err != nil {
			return err
		}
		r = first
	}
	var records []any
	for n := 1; ; n++ {
		if n > pg.MaxPages {
			return fmt.Errorf("%s: more than %d pages in one sample (pages.max)", r, pg.MaxPages)
		}
		resp, err := s.client.DoRetry(sm.rctx, r, s.retry)
		s.c.Requests.Add(1)
		if err != nil {
			return err
		}
		s.observe(resp)
		if rs.r != nil {
			rs.r.Release()
		}
		rs.r, rs.done, rs.raw = resp, false, rawBody{checked: true, members: rs.raw.members}
		page, err := rs.value()
		if err != nil {
			return fmt.Errorf("%s: page %d: %w", r, n, err)
		}
		got, err := sm.records(page)
		if err != nil {
			return fmt.Errorf("%s: page %d: records: %w", r, n, err)
		}
		records = append(records, got...)
		sm.trace(r, resp)
		next, err := sm.nextPage(r, resp, page, n, len(got), len(records))
		if err != nil {
			return fmt.Errorf("%s: page %d: next: %w", r, n, err)
		}
		if next == nil {
			break
		}
		r = next
	}
	if records == nil {
		records = []any{}
	}
	rs.parsed, rs.perr, rs.done, rs.paged = records, nil, true, true
	return nil
}

// records are a page's records.
func (sm *sample) records(page any) ([]any, error) {
	pg := sm.s.ds.Pages
	v := page
	if pg.Records != nil {
		out, err := pg.Records.One(sm.mctx, page)
		if err != nil {
			return nil, err
		}
		v = out
	}
	switch v := v.(type) {
	case []any:
		return v, nil
	case nil:
		return nil, nil
	}
	if pg.Records != nil {
		return nil, fmt.Errorf("want an array, got %s", kind(v))
	}
	return []any{v}, nil
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}

// nextPage is the request of the page after page n (got records, total
// so far), or nil after the last.
func (sm *sample) nextPage(r *fetch.Request, resp *fetch.Response, page any, n, got, total int) (*fetch.Request, error) {
	s, pg := sm.s, sm.s.ds.Pages
	cur := r.URL()
	var next *url.URL
	switch pg.Next {
	case plan.NextLink:
		link := nextLink(resp.Link)
		if link == "" {
			return nil, nil
		}
		u, err := cur.Parse(link)
		if err != nil {
			return nil, fmt.Errorf("header Link %q: %w", link, err)
		}
		next = u
	case plan.NextURL:
		text, err := sm.text(page)
		if text == "" || err != nil {
			return nil, err
		}
		u, err := cur.Parse(text)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", text, err)
		}
		next = u
	case plan.NextCursor:
		text, err := sm.text(page)
		if text == "" || err != nil {
			return nil, err
		}
		next = withParam(cur, pg.Param, text)
	case plan.NextPage, plan.NextOffset:
		if got == 0 {
			return nil, nil
		}
		at := pg.Start + n
		if pg.Next == plan.NextOffset {
			at = pg.Start + total
		}
		next = withParam(cur, pg.Param, strconv.Itoa(at))
	}
	if next.Scheme != cur.Scheme && !(cur.Scheme == "http" && next.Scheme == "https") {
		return nil, fmt.Errorf("refused next page %s: not %s", redact(next), cur.Scheme)
	}
	if next.Host != cur.Host {
		return nil, fmt.Errorf("refused next page on another host: %s", next.Host)
	}
	return s.client.Again(r, next)
}

// text is what NextJQ gives on a page: a URL or a cursor, "" for none.
func (sm *sample) text(page any) (string, error) {
	out, err := sm.s.ds.Pages.NextJQ.Run(sm.mctx, page)
	if err != nil || len(out) == 0 || out[0] == nil {
		return "", err
	}
	switch v := out[0].(type) {
	case string:
		return v, nil
	case bool:
		return "", fmt.Errorf("want a string or a number, got a boolean")
	default:
		return keyText(v), nil
	}
}

// nextLink is the target of the rel="next" link of a Link header.
func nextLink(header string) string {
	for _, part := range strings.Split(header, ",") {
		target, params, ok := strings.Cut(part, ";")
		if !ok {
			continue
		}
		target = strings.TrimSpace(target)
		if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "rel") {
				for _, rel := range strings.Fields(strings.Trim(v, `"`)) {
					if strings.EqualFold(rel, "next") {
						return target[1 : len(target)-1]
					}
				}
			}
		}
	}
	return ""
}

func withParam(u *url.URL, name, value string) *url.URL {
	cp := *u
	q := cp.Query()
	q.Set(name, value)
	cp.RawQuery = q.Encode()
	return &cp
}

func redact(u *url.URL) string {
	cp := *u
	cp.User, cp.RawQuery = nil, ""
	return cp.String()
}

// trace records a page for try.
func (sm *sample) trace(r *fetch.Request, resp *fetch.Response) {
	if sm.onPage != nil {
		sm.onPage(r, resp)
	}
}
