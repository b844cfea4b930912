package statuspage

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium is Debian's package's browser (apt-get install chromium).
const chromium = "/usr/bin/chromium"

// browser starts headless Chromium for t, stopped when t ends. Without it
// the test is skipped, except under CI=true, where it fails. The returned
// func reports what the page did wrong: script exceptions, console errors
// (a Content-Security-Policy violation is one) and dialogs (an alert).
func browser(t *testing.T, ctx context.Context) (context.Context, func() []string) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v: CI must install it (apt-get install chromium)", chromium, err)
		}
		t.Skipf("%s not found (apt-get install chromium): the browser test does not run", chromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // as root, as in CI
		chromedp.WindowSize(1440, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		t.Fatalf("start %s: %v", chromium, err)
	}

	var mu sync.Mutex
	var problems []string
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	exceptions := chromedp.Events(bctx, runtime.ExceptionThrown)
	console := chromedp.Events(bctx, runtime.ConsoleAPICalled)
	logs := chromedp.Events(bctx, cdplog.EntryAdded)
	dialogs := chromedp.Events(bctx, page.JavascriptDialogOpening)
	var wg sync.WaitGroup
	wg.Go(func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			what := d.Text
			if d.Exception != nil {
				what += " " + d.Exception.Description
			}
			report("exception at %s:%d: %s", d.URL, d.LineNumber+1, what)
		}
	})
	wg.Go(func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				report("console.%s: %v", ev.Type, ev.Args)
			}
		}
	})
	wg.Go(func() { // a refused script or style (CSP), a failed request
		for ev, err := range logs {
			if err != nil {
				return
			}
			if e := ev.Entry; e.Level == cdplog.EntryLevelError || e.Level == cdplog.EntryLevelWarning {
				report("%s %s: %s %s", e.Source, e.Level, e.Text, e.URL)
			}
		}
	})
	wg.Go(func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			report("dialog %s: %q", ev.Type, ev.Message)
			chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	})
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		wg.Wait()
	})
	return bctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

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
	b, problems := browser(t, ctx)
	screenshots := os.Getenv("STATUSPAGE_SCREENSHOTS")

	do(t, b, "load the page", chromedp.Navigate(srv.URL))
	checkTable(t, b)
	screenshot(t, b, screenshots, "statuspage-table.png")
	checkDetailsLiveAndSearch(t, b, fake)
	checkPlayground(t, b)
	screenshot(t, b, screenshots, "statuspage-playground.png")

	do(t, b, "load the page without events", chromedp.Navigate(noEvents.URL))
	waitFor(t, b, "polling", `document.getElementById('live').textContent === 'polling' && document.querySelectorAll('#rows tr').length === 3`)
	fake.change("boiler-1", "status", func(d *Dataset) { d.Samples = 122 })
	waitFor(t, b, "the polled update of boiler-1", `[...document.querySelectorAll('#rows tr')].some(tr => tr.querySelector('.col-samples').textContent === '122')`)

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
	waitFor(t, b, "the three rows", `document.querySelectorAll('#rows tr:not(.detail)').length === 3`)
	waitFor(t, b, "live updates", `document.getElementById('live').textContent === 'live'`)
	rows := read[[]shownRow](t, b, rowsJS)
	checkRow(t, rows[0], shownRow{State: "failing", Asset: "chiller-7", Device: "chiller-gw / api", Dataset: "telemetry", Error: failing().LastError})
	checkRow(t, rows[1], shownRow{State: "sampling", Asset: "boiler-1", Device: "boiler-plc / rest", Dataset: "status"})
	checkRow(t, rows[2], shownRow{State: "disabled", Asset: `<img src=x onerror=alert(1)>`, Device: "boiler-plc / rest", Dataset: "status"})
	if n := read[int](t, b, `document.querySelectorAll('#rows img').length`); n != 0 {
		t.Errorf("a dataset's name became %d <img> elements", n)
	}
	if age := rows[1].Sample; !strings.HasSuffix(age, " s ago") {
		t.Errorf("last sample of boiler-1: %q, want an age in seconds", age)
	}
	colours := read[[]string](t, b, `[...document.querySelectorAll('#rows .col-state .badge')].map(e => getComputedStyle(e).color)`)
	if colours[0] == colours[1] {
		t.Errorf("failing and sampling have the same colour, %s", colours[0])
	}
	header := read[string](t, b, `document.querySelector('header').innerText`)
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
	do(t, b, "expand chiller-7", chromedp.Click(chromedp.CSS("#rows tr:first-child .col-message button")))
	waitFor(t, b, "chiller-7's details", `(document.querySelector('#rows tr.detail') || {}).innerText?.includes('Last error')`)
	if s := read[string](t, b, `document.querySelector('#rows tr.detail').innerText`); !strings.Contains(s, failing().LastError) || !strings.Contains(s, "thermostat/status") {
		t.Errorf("the details of chiller-7:\n%s", s)
	}

	// The connector samples boiler-1 again: the page shows it, no reload.
	fake.change("boiler-1", "status", func(d *Dataset) { d.Samples, d.Messages = 121, 121 })
	waitFor(t, b, "the live update of boiler-1", `[...document.querySelectorAll('#rows tr:not(.detail)')].some(tr => tr.querySelector('.col-asset .name').textContent === 'boiler-1' && tr.querySelector('.col-samples').textContent === '121')`)

	do(t, b, "search for chiller", chromedp.SendKeys(chromedp.ID("q"), "chiller"))
	waitFor(t, b, "the table filtered to chiller-7", `document.querySelectorAll('#rows tr:not(.detail)').length === 1 && document.querySelector('#rows .col-asset .name').textContent === 'chiller-7'`)
	if s := read[string](t, b, `document.getElementById('summary').textContent + ' ' + location.search`); s != "1–1 of 1 matching (of 3) ?q=chiller" {
		t.Errorf("summary and address: %q", s)
	}
}

// checkPlayground picks a dataset, fetches a sample, edits the jq and
// runs it.
func checkPlayground(t *testing.T, b context.Context) {
	t.Helper()
	do(t, b, "open the playground", chromedp.Click(chromedp.ID("tab-playground")))
	do(t, b, "search for boiler-1", chromedp.SendKeys(chromedp.ID("pg-search"), "boiler-1"))
	waitFor(t, b, "boiler-1 found", `document.querySelectorAll('#pg-datasets option').length === 1`)
	do(t, b, "pick boiler-1", chromedp.Click(chromedp.CSS("#pg-datasets option")))
	waitFor(t, b, "boiler-1 picked", `document.getElementById('pg-picked').textContent === 'boiler-1 / status'`)
	do(t, b, "fetch a live sample", chromedp.Click(chromedp.ID("pg-fetch")))
	waitFor(t, b, "the sample's input, numbers as they came", `document.getElementById('pg-input').value.includes('"currentTemperature": 71.30')`)
	if s := read[string](t, b, `document.getElementById('pg-trial').innerText`); !strings.Contains(s, "GET http://thermostat.local:3000/api/thermostat/current → 200 in 3 ms") {
		t.Errorf("the trial shows:\n%s", s)
	}
	do(t, b, "edit the jq",
		chromedp.Click(chromedp.ID("pg-jq")),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), // select all, type over it
		chromedp.KeyEvent(`{celsius: ((.currentTemperature - 32) * 5 / 9 | floor), asset: $asset}`),
		chromedp.Click(chromedp.ID("pg-run")))
	waitFor(t, b, "the new message", `document.getElementById('pg-result').innerText.includes('{"asset":"boiler-1","celsius":21}')`)
	if s := read[string](t, b, `document.getElementById('pg-result').innerText`); !strings.Contains(s, "plant/boiler-1/status") {
		t.Errorf("the result has no topic:\n%s", s)
	}
	testCase := read[string](t, b, `document.getElementById('pg-testcase').textContent`)
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

func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func read[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// waitFor waits until the page makes js true, as a person waits to see it.
func waitFor(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting for %s: %v\nthe page shows:\n%s", what, err, body)
	}
}

// screenshot writes the page as a PNG into dir, when dir is set.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
