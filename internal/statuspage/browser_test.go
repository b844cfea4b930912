package statuspage

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/http-connector/http-connector/internal/testing/browser"
)

// The page as an operator uses it: the table with a healthy and a failing
// asset, search, a live update, then the playground.
func TestBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	evil := healthy()
	evil.Asset, evil.Dataset, evil.State = `<img src=x onerror=alert(1)>`, "status", StateDisabled
	evil.LastSample = time.Now().Add(-10 * time.Minute)
	fake := newFake(t, healthy(), failing(), evil)
	fake.connector.Started = time.Now().Add(-(49*time.Hour + 5*time.Minute))
	fake.change("boiler-1", "status", func(d *Dataset) {
		d.LastSample, d.LastPublish = time.Now().Add(-3*time.Second), time.Now().Add(-3*time.Second)
	})
	fake.change("chiller-7", "telemetry", func(d *Dataset) { d.LastSample = time.Now().Add(-time.Second) })
	statusPage := New(fake, Options{})
	srv := httptest.NewServer(statusPage)
	defer srv.Close()
	defer statusPage.Close()
	// Where events do not get through (a proxy that refuses them).
	noEvents := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/events" {
			http.Error(w, "no streaming here", http.StatusBadGateway)
			return
		}
		statusPage.ServeHTTP(w, r)
	}))
	defer noEvents.Close()
	b, problems := browser.Start(t, ctx)
	screenshots := os.Getenv("STATUSPAGE_SCREENSHOTS")

	browser.Do(t, b, "load the page", chromedp.Navigate(srv.URL))
	checkTable(t, b)
	browser.Screenshot(t, b, screenshots, "statuspage-table.png")
	checkDetailsLiveAndSearch(t, b, fake)
	checkPlayground(t, b)
	browser.Screenshot(t, b, screenshots, "statuspage-playground.png")

	browser.Do(t, b, "load the page without events", chromedp.Navigate(noEvents.URL))
	browser.WaitFor(t, b, "polling", `document.getElementById('live').textContent === 'polling' && document.querySelectorAll('#rows tr').length === 3`)
	fake.change("boiler-1", "status", func(d *Dataset) { d.Samples = 122 })
	browser.WaitFor(t, b, "the polled update of boiler-1", `[...document.querySelectorAll('#rows tr')].some(tr => tr.querySelector('.col-samples').textContent === '122')`)

	for _, p := range problems() {
		if strings.Contains(p, noEvents.URL+"/api/events") { // the refused stream
			continue
		}
		t.Errorf("the page: %s", p)
	}
	if n := fake.tryCalls.Load(); n != 1 {
		t.Errorf("%d tries, want 1", n)
	}
}

// checkTable checks the first view: the rows, their states and the header.
func checkTable(t *testing.T, b context.Context) {
	t.Helper()
	browser.WaitFor(t, b, "the three rows", `document.querySelectorAll('#rows tr:not(.detail)').length === 3`)
	browser.WaitFor(t, b, "live updates", `document.getElementById('live').textContent === 'live'`)
	rows := browser.Read[[]shownRow](t, b, rowsJS)
	checkRow(t, rows[0], shownRow{State: "failing", Asset: "chiller-7", Device: "chiller-gw / api", Dataset: "telemetry", Error: failing().LastError})
	checkRow(t, rows[1], shownRow{State: "sampling", Asset: "boiler-1", Device: "boiler-plc / rest", Dataset: "status"})
	checkRow(t, rows[2], shownRow{State: "disabled", Asset: `<img src=x onerror=alert(1)>`, Device: "boiler-plc / rest", Dataset: "status"})
	if n := browser.Read[int](t, b, `document.querySelectorAll('#rows img').length`); n != 0 {
		t.Errorf("a dataset's name became %d <img> elements", n)
	}
	if age := rows[1].Sample; !strings.HasSuffix(age, " s ago") {
		t.Errorf("last sample of boiler-1: %q, want an age in seconds", age)
	}
	colours := browser.Read[[]string](t, b, `[...document.querySelectorAll('#rows .col-state .badge')].map(e => getComputedStyle(e).color)`)
	if colours[0] == colours[1] {
		t.Errorf("failing and sampling have the same colour, %s", colours[0])
	}
	header := browser.Read[string](t, b, `document.querySelector('header').innerText`)
	for _, want := range []string{"v1.2.3 · 0123456789ab", "mqtts://aio-broker:18883", "connected", "2 d 1 h", "3 messages waiting", "1 failing", "1 sampling", "1 disabled"} {
		if !strings.Contains(header, want) {
			t.Errorf("the header has no %q:\n%s", want, header)
		}
	}
}

// checkDetailsLiveAndSearch expands a row, sees a live update and
// searches.
func checkDetailsLiveAndSearch(t *testing.T, b context.Context, fake *fakeBackend) {
	t.Helper()
	browser.Do(t, b, "expand chiller-7", chromedp.Click(chromedp.CSS("#rows tr:first-child .col-message button")))
	browser.WaitFor(t, b, "chiller-7's details", `(document.querySelector('#rows tr.detail') || {}).innerText?.includes('Last error')`)
	if s := browser.Read[string](t, b, `document.querySelector('#rows tr.detail').innerText`); !strings.Contains(s, failing().LastError) || !strings.Contains(s, "thermostat/status") {
		t.Errorf("the details of chiller-7:\n%s", s)
	}

	// The connector samples boiler-1 again: the page shows it, no reload.
	fake.change("boiler-1", "status", func(d *Dataset) { d.Samples, d.Messages = 121, 121 })
	browser.WaitFor(t, b, "the live update of boiler-1", `[...document.querySelectorAll('#rows tr:not(.detail)')].some(tr => tr.querySelector('.col-asset .name').textContent === 'boiler-1' && tr.querySelector('.col-samples').textContent === '121')`)

	browser.Do(t, b, "search for chiller", chromedp.SendKeys(chromedp.ID("q"), "chiller"))
	browser.WaitFor(t, b, "the table filtered to chiller-7", `document.querySelectorAll('#rows tr:not(.detail)').length === 1 && document.querySelector('#rows .col-asset .name').textContent === 'chiller-7'`)
	if s := browser.Read[string](t, b, `document.getElementById('summary').textContent + ' ' + location.search`); s != "1–1 of 1 matching (of 3) ?q=chiller" {
		t.Errorf("summary and address: %q", s)
	}
}

// checkPlayground picks a dataset, fetches a sample, edits the jq and
// runs it.
func checkPlayground(t *testing.T, b context.Context) {
	t.Helper()
	browser.Do(t, b, "open the playground", chromedp.Click(chromedp.ID("tab-playground")))
	browser.Do(t, b, "search for boiler-1", chromedp.SendKeys(chromedp.ID("pg-search"), "boiler-1"))
	browser.WaitFor(t, b, "boiler-1 found", `document.querySelectorAll('#pg-datasets option').length === 1`)
	browser.Do(t, b, "pick boiler-1", chromedp.Click(chromedp.CSS("#pg-datasets option")))
	browser.WaitFor(t, b, "boiler-1 picked", `document.getElementById('pg-picked').textContent === 'boiler-1 / status'`)
	browser.Do(t, b, "fetch a live sample", chromedp.Click(chromedp.ID("pg-fetch")))
	browser.WaitFor(t, b, "the sample's input, numbers as they came", `document.getElementById('pg-input').value.includes('"currentTemperature": 71.30')`)
	if s := browser.Read[string](t, b, `document.getElementById('pg-trial').innerText`); !strings.Contains(s, "GET http://thermostat.local:3000/api/thermostat/current → 200 in 3 ms") {
		t.Errorf("the trial shows:\n%s", s)
	}
	browser.Do(t, b, "edit the jq",
		chromedp.Click(chromedp.ID("pg-jq")),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), // select all, type over it
		chromedp.KeyEvent(`{celsius: ((.currentTemperature - 32) * 5 / 9 | floor), asset: $asset}`),
		chromedp.Click(chromedp.ID("pg-run")))
	browser.WaitFor(t, b, "the new message", `document.getElementById('pg-result').innerText.includes('{"asset":"boiler-1","celsius":21}')`)
	if s := browser.Read[string](t, b, `document.getElementById('pg-result').innerText`); !strings.Contains(s, "plant/boiler-1/status") {
		t.Errorf("the result has no topic:\n%s", s)
	}
	testCase := browser.Read[string](t, b, `document.getElementById('pg-testcase').textContent`)
	if !strings.Contains(testCase, "\n  input: {\"currentTemperature\":71.30,\"desiredTemperature\":72.5}\n") ||
		!strings.Contains(testCase, "\n  output: {\"asset\":\"boiler-1\",\"celsius\":21}\n") {
		t.Errorf("the test case:\n%s", testCase)
	}
}

// shownRow is what a table row shows.
type shownRow struct {
	State, Asset, Device, Dataset, Sample, Error string
}

const rowsJS = `[...document.querySelectorAll('#rows tr:not(.detail)')].map(tr => ({
	State: tr.querySelector('.col-state').textContent,
	Asset: tr.querySelector('.col-asset .name').textContent,
	Device: tr.querySelector('.col-asset .sub').textContent,
	Dataset: tr.querySelector('.col-dataset .name').textContent,
	Sample: tr.querySelector('.col-sample').textContent,
	Error: tr.querySelector('.col-error').textContent,
}))`

func checkRow(t *testing.T, got, want shownRow) {
	t.Helper()
	got.Sample = ""
	if got != want {
		t.Errorf("row %+v\nwant %+v", got, want)
	}
}
