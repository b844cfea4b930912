// Package browser drives headless Chromium (Debian's chromium package)
// for the tests of web pages: a page is loaded, clicked and read as a
// person would, and what it does wrong (script exceptions, console
// errors, refused resources, dialogs) is reported.
package browser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TB is what the helpers need of a *testing.T.
type TB interface {
	Helper()
	Cleanup(func())
	TempDir() string
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// Chromium is the browser of Debian's chromium package (apt-get install chromium).
const Chromium = "/usr/bin/chromium"

// Start starts headless Chromium for t, stopped when t ends. Without it
// the test is skipped, except under CI=true, where it fails. The returned
// func reports what the page did wrong: script exceptions, console errors
// (a Content-Security-Policy violation is one) and dialogs (an alert).
func Start(t TB, ctx context.Context) (context.Context, func() []string) {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v: CI must install it (apt-get install chromium)", Chromium, err)
		}
		t.Skipf("%s not found (apt-get install chromium): the browser test does not run", Chromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium),
		chromedp.NoSandbox, // as root, as in CI
		chromedp.WindowSize(1440, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		t.Fatalf("start %s: %v", Chromium, err)
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

// Do runs actions in the browser, failing t if one fails.
func Do(t TB, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Read evaluates js in the page.
func Read[T any](t TB, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// WaitFor waits until the page makes js true, as a person waits to see it.
func WaitFor(t TB, ctx context.Context, what, js string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting for %s: %v\nthe page shows:\n%s", what, err, body)
	}
}

// Screenshot writes the page as a PNG into dir, when dir is set.
func Screenshot(t TB, ctx context.Context, dir, name string) {
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
