package statuspage

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"
)

// fleet is n datasets: every seventh failing, every eleventh disabled,
// one backing off, one suppressed; asset-0001 … asset-n.
func fleet(n int) []Dataset {
	out := make([]Dataset, n)
	for i := range out {
		d := Dataset{
			Asset: fmt.Sprintf("asset-%04d", i+1), Dataset: "status", Device: fmt.Sprintf("plc-%d", i%50), Endpoint: "rest",
			State: StateSampling, Samples: int64(i), Messages: int64(i), Topic: "plant/status",
			LastSample: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(-time.Duration(i) * time.Second),
		}
		switch {
		case i == 3:
			d.State = StateBackingOff
		case i == 4:
			d.State = StateSuppressed
		case i%7 == 0:
			d.State, d.Failures, d.LastError = StateFailing, int64(i%13), "connection refused"
		case i%11 == 0:
			d.State = StateDisabled
		}
		out[i] = d
	}
	return out
}

type listed struct {
	Rows []struct {
		Asset    string `json:"asset"`
		Dataset  string `json:"dataset"`
		State    State  `json:"state"`
		Failures int64  `json:"failures"`
	} `json:"rows"`
	Total  int           `json:"total"`
	Page   int           `json:"page"`
	Pages  int           `json:"pages"`
	Size   int           `json:"size"`
	All    int           `json:"all"`
	Counts map[State]int `json:"counts"`
}

func (l listed) assets() []string {
	var out []string
	for _, r := range l.Rows {
		out = append(out, r.Asset)
	}
	return out
}

func (l listed) states() []State {
	var out []State
	for _, r := range l.Rows {
		out = append(out, r.State)
	}
	return out
}

func TestDatasetsFilterSortPage(t *testing.T) {
	page := New(newFake(t, fleet(250)...), Options{})
	defer page.Close()
	tests := []struct {
		name   string
		query  string
		total  int
		pages  int
		assets []string // the rows' assets, when given
		check  func(t *testing.T, l listed)
	}{
		{name: "failing first by default, a hundred a page", query: "", total: 250, pages: 3, check: func(t *testing.T, l listed) {
			if len(l.Rows) != 100 {
				t.Errorf("got %d rows, want 100", len(l.Rows))
			}
			// 36 failing (i%7 == 0), then backing off, suppressed, sampling.
			want := append(slices.Repeat([]State{StateFailing}, 36), StateBackingOff, StateSuppressed)
			if got := l.states()[:38]; !slices.Equal(got, want) {
				t.Errorf("first states: got %v, want %v", got, want)
			}
			if l.Rows[0].Asset != "asset-0001" || l.Rows[1].Asset != "asset-0008" {
				t.Errorf("failing ones are not by name: %v", l.assets()[:2])
			}
		}},
		{name: "the last page is short", query: "page=3", total: 250, pages: 3, check: func(t *testing.T, l listed) {
			if len(l.Rows) != 50 || l.Rows[49].State != StateDisabled {
				t.Errorf("got %d rows ending with %v, want 50 ending with disabled", len(l.Rows), l.states()[len(l.Rows)-1:])
			}
		}},
		{name: "past the last page is empty", query: "page=9", total: 250, pages: 3, assets: nil},
		{name: "search is a substring of the names, any case", query: "q=ASSET-012&sort=asset", total: 10, pages: 1,
			assets: []string{"asset-0120", "asset-0121", "asset-0122", "asset-0123", "asset-0124", "asset-0125", "asset-0126", "asset-0127", "asset-0128", "asset-0129"}},
		{name: "every word must match, in any name", query: "q=plc-7+0058&sort=asset", total: 1, pages: 1, assets: []string{"asset-0058"}},
		{name: "search finds the device", query: "q=plc-49&size=3&sort=asset", total: 5, pages: 2, assets: []string{"asset-0050", "asset-0100", "asset-0150"}},
		{name: "state", query: "state=backing+off", total: 1, pages: 1, assets: []string{"asset-0004"}},
		{name: "several states", query: "state=backing%20off,suppressed&sort=-asset", total: 2, pages: 1, assets: []string{"asset-0005", "asset-0004"}},
		{name: "state and search", query: "state=failing&q=asset-000", total: 2, pages: 1, assets: []string{"asset-0001", "asset-0008"}},
		// 12 failures: asset-0078 and asset-0169; 11: asset-0064 and asset-0155.
		{name: "most failures first, names break ties", query: "sort=failures&size=3", total: 250, pages: 84, assets: []string{"asset-0078", "asset-0169", "asset-0064"}},
		{name: "newest sample first", query: "sort=lastSample&size=2", total: 250, pages: 125, assets: []string{"asset-0001", "asset-0002"}},
		{name: "oldest sample first", query: "sort=-lastSample&size=2", total: 250, pages: 125, assets: []string{"asset-0250", "asset-0249"}},
		{name: "nothing matches", query: "q=pump", total: 0, pages: 1, assets: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l listed
			if code, _ := call(t, page, "GET", "/api/datasets?"+tt.query, "", &l); code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			if l.Total != tt.total || l.Pages != tt.pages || l.All != 250 {
				t.Errorf("got total %d of %d in %d pages, want %d of 250 in %d", l.Total, l.All, l.Pages, tt.total, tt.pages)
			}
			if l.Counts[StateFailing] != 36 || l.Counts[StateDisabled] != 19 || l.Counts[StateSampling] != 193 {
				t.Errorf("counts %v, want 36 failing, 19 disabled, 193 sampling", l.Counts)
			}
			if tt.check != nil {
				tt.check(t, l)
			} else if got := l.assets(); !slices.Equal(got, tt.assets) {
				t.Errorf("got %v, want %v", got, tt.assets)
			}
		})
	}
}

func TestDatasetsBadQuery(t *testing.T) {
	page := New(newFake(t), Options{})
	defer page.Close()
	tests := []struct{ query, want string }{
		{"state=broken", `state: want one of "failing", "backing off", "suppressed", "sampling", "disabled", got "broken"`},
		{"sort=name", `sort: want one of "state", "asset", "dataset", "device", "lastSample", "lastPublish", "failures", "messages" (- before it reverses), got "name"`},
		{"page=0", `page: want a whole number from 1 to 1073741824, got "0"`},
		{"size=501", `size: want a whole number from 1 to 500, got "501"`},
		{"size=ten", `size: want a whole number from 1 to 500, got "ten"`},
	}
	for _, tt := range tests {
		for _, path := range []string{"/api/datasets?", "/api/events?"} {
			var e apiError
			code, h := call(t, page, "GET", path+tt.query, "", &e)
			if code != http.StatusBadRequest || e.Error != tt.want || h.Get("Content-Type") != "application/json" {
				t.Errorf("%s%s: got %d %q (%s), want 400 %q", path, tt.query, code, e.Error, h.Get("Content-Type"), tt.want)
			}
		}
	}
}

// With 10,000 datasets a browser gets the page it shows, not the fleet.
func TestTenThousandDatasetsArePaged(t *testing.T) {
	page := New(newFake(t, fleet(10000)...), Options{})
	defer page.Close()
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, localRequest("GET", "/api/datasets?sort=asset&page=42", nil))
	body := rec.Body.String()
	if n := strings.Count(body, `"asset":`); n != 100 {
		t.Errorf("the answer has %d rows, want 100", n)
	}
	if !strings.Contains(body, `"asset":"asset-4101"`) || !strings.Contains(body, `"asset":"asset-4200"`) || strings.Contains(body, `"asset":"asset-4201"`) {
		t.Errorf("page 42 is not asset-4101 to asset-4200: %.300s", body)
	}
	if rec.Body.Len() > 64<<10 {
		t.Errorf("one page is %d bytes, want under 64 KiB", rec.Body.Len())
	}
}

func TestDatasetDetail(t *testing.T) {
	long := healthy()
	long.Asset = "big"
	// A backend that does not truncate: 10 KiB of "é" (2 bytes each).
	long.LastMessage = []byte(`"` + strings.Repeat("é", 5<<10) + `"`)
	long.LastError = strings.Repeat("refused; ", 200)
	page := New(newFake(t, healthy(), long), Options{})
	defer page.Close()

	var rows struct {
		Rows []rowJSON `json:"rows"`
	}
	call(t, page, "GET", "/api/datasets?q=big", "", &rows)
	r := rows.Rows[0]
	if len(r.LastMessage) > rowMessageBytes || !utf8.ValidString(r.LastMessage) || r.LastMessageBytes != len(long.LastMessage) {
		t.Errorf("row: message of %d bytes (valid UTF-8: %v), size %d; want at most %d bytes and size %d",
			len(r.LastMessage), utf8.ValidString(r.LastMessage), r.LastMessageBytes, rowMessageBytes, len(long.LastMessage))
	}
	if len(r.LastError) > rowErrorBytes {
		t.Errorf("row: error of %d bytes, want at most %d", len(r.LastError), rowErrorBytes)
	}

	var d rowJSON
	if code, _ := call(t, page, "GET", "/api/dataset?asset=big&dataset=status", "", &d); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if n := len(d.LastMessage); n > MaxPayloadBytes || n < MaxPayloadBytes-1 || !utf8.ValidString(d.LastMessage) {
		t.Errorf("detail: message of %d bytes (valid UTF-8: %v), want the first %d bytes, whole characters", n, utf8.ValidString(d.LastMessage), MaxPayloadBytes)
	}
	if d.LastError != long.LastError {
		t.Errorf("detail: error of %d bytes, want the whole %d", len(d.LastError), len(long.LastError))
	}

	var e apiError
	code, _ := call(t, page, "GET", "/api/dataset?asset=big&dataset=nope", "", &e)
	if code != http.StatusNotFound || e.Error != `no dataset "nope" of asset "big"` {
		t.Errorf("unknown dataset: got %d %q", code, e.Error)
	}
}

func TestConnector(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		page := New(newFake(t, healthy(), failing()), Options{})
		defer page.Close()
		var c connectorJSON
		call(t, page, "GET", "/api/connector", "", &c)
		want := connectorJSON{
			Version: "v1.2.3", Commit: "0123456789abcdef0123", Started: "2026-01-01T00:00:00Z",
			BrokerURL: "mqtts://aio-broker:18883", Connected: true, Assets: 2, Datasets: 2, QueueDepth: 3,
			Now: timeText(time.Now()),
		}
		settings := c.Settings
		c.Settings = nil
		if fmt.Sprint(c) != fmt.Sprint(want) {
			t.Errorf("got %+v\nwant %+v", c, want)
		}
		if fmt.Sprint(settings) != "map[logLevel:info secrets:map[api-key:(redacted)]]" {
			t.Errorf("settings: got %v", settings)
		}
	})
}

// However many ask at once, the backend is asked once per second.
func TestOneSnapshotPerSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFake(t, fleet(10)...)
		page := New(fake, Options{})
		defer page.Close()
		get := func() {
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					rec := httptest.NewRecorder()
					page.ServeHTTP(rec, localRequest("GET", "/api/datasets", nil))
				})
			}
			wg.Wait()
		}
		get()
		time.Sleep(999 * time.Millisecond)
		get()
		if n := fake.datasetCalls.Load(); n != 1 {
			t.Errorf("40 requests within a second made %d Datasets calls, want 1", n)
		}
		time.Sleep(time.Millisecond)
		get()
		if n := fake.datasetCalls.Load(); n != 2 {
			t.Errorf("a second later: %d Datasets calls, want 2", n)
		}
	})
}

func TestNaturalOrder(t *testing.T) {
	want := []string{"", "pump", "pump-2", "pump-9", "pump-10", "pump-010b", "pump-10b", "pump-100", "pump-a", "tank-1"}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, natural)
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
