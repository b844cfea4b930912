package statuspage

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// snapshotAge is how long a snapshot of the backend is reused: the page
// asks the backend at most once per snapshotAge, however many browsers
// look, and never while none does.
const snapshotAge = time.Second

// Paging bounds of /api/datasets.
const (
	defaultPageSize = 100
	maxPageSize     = 500
)

// snapshot is the backend's state at one time, with what filtering needs.
type snapshot struct {
	taken     time.Time
	datasets  []Dataset
	search    []string // per dataset: its names, lower-case, for ?q=
	connector Connector
	counts    map[State]int
}

// snapshots takes snapshots of a backend, at most one per snapshotAge.
type snapshots struct {
	backend Backend

	mu   sync.Mutex
	last *snapshot
}

// get returns the last snapshot if it is younger than snapshotAge, else a
// new one. Callers that come together share one.
func (s *snapshots) get() *snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.last != nil && now.Sub(s.last.taken) < snapshotAge {
		return s.last
	}
	datasets := s.backend.Datasets()
	snap := &snapshot{
		taken:     now,
		datasets:  datasets,
		search:    make([]string, len(datasets)),
		connector: s.backend.Connector(),
		counts:    make(map[State]int, len(States())),
	}
	for i := range datasets {
		d := &datasets[i]
		snap.search[i] = strings.ToLower(d.Asset + "\x00" + d.Dataset + "\x00" + d.Device + "\x00" + d.Endpoint)
		snap.counts[d.State]++
	}
	s.last = snap
	return snap
}

// find is the dataset of asset named dataset, or nil.
func (s *snapshot) find(asset, dataset string) *Dataset {
	for i := range s.datasets {
		if d := &s.datasets[i]; d.Asset == asset && d.Dataset == dataset {
			return d
		}
	}
	return nil
}

// listQuery is what /api/datasets and /api/events are asked for.
type listQuery struct {
	words  []string       // each must be in the asset, dataset, device or endpoint name
	states map[State]bool // nil: every state
	sort   sortKey
	desc   bool // the sort key's order reversed ("-asset")
	page   int  // from 1
	size   int
}

// sortKey orders datasets; each key has its natural order (the state
// failing first, names A to Z, times and counts largest first).
type sortKey string

func sortKeys() []sortKey {
	return []sortKey{"state", "asset", "dataset", "device", "lastSample", "lastPublish", "failures", "messages"}
}

// parseListQuery reads ?q=&state=&sort=&page=&size=. state may list
// several states separated by commas.
func parseListQuery(v url.Values) (listQuery, error) {
	q := listQuery{words: strings.Fields(strings.ToLower(v.Get("q"))), sort: "state", page: 1, size: defaultPageSize}
	if s := v.Get("state"); s != "" {
		q.states = map[State]bool{}
		for name := range strings.SplitSeq(s, ",") {
			st := State(strings.TrimSpace(name))
			if !slices.Contains(States(), st) {
				return q, fmt.Errorf("state: want one of %s, got %q", quoted(States()), st)
			}
			q.states[st] = true
		}
	}
	if s := v.Get("sort"); s != "" {
		key, desc := strings.CutPrefix(s, "-")
		if !slices.Contains(sortKeys(), sortKey(key)) {
			return q, fmt.Errorf("sort: want one of %s (- before it reverses), got %q", quoted(sortKeys()), s)
		}
		q.sort, q.desc = sortKey(key), desc
	}
	var err error
	if q.page, err = whole(v, "page", 1, 1, 1<<30); err != nil {
		return q, err
	}
	if q.size, err = whole(v, "size", defaultPageSize, 1, maxPageSize); err != nil {
		return q, err
	}
	return q, nil
}

func whole(v url.Values, name string, otherwise, low, high int) (int, error) {
	s := v.Get(name)
	if s == "" {
		return otherwise, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < low || n > high {
		return 0, fmt.Errorf("%s: want a whole number from %d to %d, got %q", name, low, high, s)
	}
	return n, nil
}

func quoted[T ~string](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = strconv.Quote(string(v))
	}
	return strings.Join(s, ", ")
}

// listJSON is one page of datasets.
type listJSON struct {
	Rows  []rowJSON `json:"rows"`
	Total int       `json:"total"` // datasets that match
	Page  int       `json:"page"`
	Pages int       `json:"pages"`
	Size  int       `json:"size"`
	// All and Counts are over every dataset, whatever matched.
	All    int           `json:"all"`
	Counts map[State]int `json:"counts"`
}

// list is the page of s that q asks for.
func (s *snapshot) list(q listQuery) listJSON {
	var match []int
	for i := range s.datasets {
		if s.matches(i, q) {
			match = append(match, i)
		}
	}
	slices.SortFunc(match, func(a, b int) int {
		c := compare(&s.datasets[a], &s.datasets[b], q.sort)
		if q.desc {
			c = -c
		}
		if c == 0 { // names break ties, always A to Z
			c = compare(&s.datasets[a], &s.datasets[b], "asset")
		}
		return c
	})
	out := listJSON{Total: len(match), Page: q.page, Size: q.size, All: len(s.datasets), Counts: s.counts}
	out.Pages = max(1, (len(match)+q.size-1)/q.size)
	from := min((q.page-1)*q.size, len(match))
	to := min(from+q.size, len(match))
	out.Rows = make([]rowJSON, 0, to-from)
	for _, i := range match[from:to] {
		out.Rows = append(out.Rows, row(&s.datasets[i], false))
	}
	return out
}

func (s *snapshot) matches(i int, q listQuery) bool {
	if q.states != nil && !q.states[s.datasets[i].State] {
		return false
	}
	for _, w := range q.words {
		if !strings.Contains(s.search[i], w) {
			return false
		}
	}
	return true
}

// compare orders a and b by key, in the key's natural order.
func compare(a, b *Dataset, key sortKey) int {
	switch key {
	case "state":
		return cmp.Compare(stateRank(a.State), stateRank(b.State))
	case "dataset":
		return cmp.Or(natural(a.Dataset, b.Dataset), natural(a.Asset, b.Asset))
	case "device":
		return cmp.Or(natural(a.Device, b.Device), natural(a.Endpoint, b.Endpoint))
	case "lastSample":
		return b.LastSample.Compare(a.LastSample)
	case "lastPublish":
		return b.LastPublish.Compare(a.LastPublish)
	case "failures":
		return cmp.Compare(b.Failures, a.Failures)
	case "messages":
		return cmp.Compare(b.Messages, a.Messages)
	default: // "asset"
		return cmp.Or(natural(a.Asset, b.Asset), natural(a.Dataset, b.Dataset))
	}
}

// natural orders names as people do, numbers by value: pump-9 before
// pump-10. Names equal so (pump-01, pump-1) are in byte order.
func natural(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			ei, ej := digitsEnd(a, i), digitsEnd(b, j)
			na, nb := strings.TrimLeft(a[i:ei], "0"), strings.TrimLeft(b[j:ej], "0")
			if c := cmp.Or(cmp.Compare(len(na), len(nb)), strings.Compare(na, nb)); c != 0 {
				return c
			}
			i, j = ei, ej
			continue
		}
		if a[i] != b[j] {
			return cmp.Compare(a[i], b[j])
		}
		i, j = i+1, j+1
	}
	return cmp.Or(cmp.Compare(len(a)-i, len(b)-j), strings.Compare(a, b))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digitsEnd(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// stateRank orders the states as States does; an unknown one goes last.
func stateRank(s State) int {
	switch s {
	case StateFailing:
		return 0
	case StateBackingOff:
		return 1
	case StateSuppressed:
		return 2
	case StateSampling:
		return 3
	case StateDisabled:
		return 4
	default:
		return 5
	}
}
