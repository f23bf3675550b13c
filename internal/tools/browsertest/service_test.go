package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// defaultChromium is Debian's Chromium; the CHROMIUM variable overrides it.
const defaultChromium = "/usr/bin/chromium"

// requiredEnv turns a missing Chromium from a skip into a failure.
const requiredEnv = "BROWSER_TEST_REQUIRED"

// testTimeout bounds one test: browser start, service build and start, and
// every browser action.
const testTimeout = 3 * time.Minute

// chromiumPath returns the browser to drive, or skips the test when it is
// missing (fails with BROWSER_TEST_REQUIRED=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = defaultChromium
	}
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("headless Chromium not found at %s (%v): install it with "+
			"`apt-get install -y --no-install-recommends chromium`, set CHROMIUM to its path, or run `bash .ci/browser.sh`", path, err)
		if os.Getenv(requiredEnv) == "1" {
			t.Fatal(msg + "; " + requiredEnv + "=1 forbids skipping")
		}
		t.Skip(msg)
	}
	return path
}

// startService builds the real service and runs it on a free port with env
// added to the defaults (demo data, no rate limit), and returns its base
// URL. It is stopped with SIGTERM when the test ends. Each test builds its
// own binary (testkit.StartBinary) rather than sharing one through package
// state.
func startService(t *testing.T, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	// The service's whole log, to show when a test fails: a browser test's
	// service answers a few dozen requests.
	p, _ := testkit.StartBinary(ctx, t, proc.MergeEnv([]string{"PORT=0", "RATE_LIMIT=0", "LOG_FORMAT=json"}, env...))
	checkAssetRoute(t, p.Base)
	return p.Base
}

// checkAssetRoute fails early, with the fix, when the service serves the
// page but not its assets. A 401 (AUTH_MODE set) says the route is mounted:
// an unmounted one is a 404 whatever the credentials.
func checkAssetRoute(t *testing.T, base string) {
	t.Helper()
	res, _ := testkit.Get(t, base+"/explorer/explorer.js", nil)
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /explorer/explorer.js = %d: mount explorer.Handler at both /explorer and /explorer/* in internal/server/routes.go", res.StatusCode)
	}
}

// newBrowser starts headless Chromium for one test and returns its context.
// Without disable-background-networking and disable-component-update, its
// background connections are refused on CI machines and logged.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	)
	base, cancelBase := context.WithTimeout(context.Background(), testTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		cancelBase()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// cspHook records Content-Security-Policy violations in window.__csp; it is
// injected by DevTools, so the page's CSP does not apply to it.
const cspHook = `window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + ' (' + e.sourceFile + ':' + e.lineNumber + ')');
}, true);`

// tab is one browser tab with everything its page writes to the console.
type tab struct {
	ctx context.Context
	mu  sync.Mutex
	log []chromedp.ConsoleMessage
}

func openTab(t *testing.T, browser context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	tb := &tab{ctx: ctx}
	// Console subscribes when it returns, so nothing the page writes later
	// is lost: console API calls, uncaught exceptions and Log.entryAdded
	// (network failures, CSP violations and other browser messages).
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.log = append(tb.log, m)
			tb.mu.Unlock()
		}
	}()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspHook}); err != nil {
		t.Fatal(err)
	}
	return tb
}

// problems returns the console messages that a clean page never writes:
// errors, warnings, exceptions and anything about security (CSP).
func (tb *tab) problems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, m := range tb.log {
		switch {
		case m.Type == chromedp.ConsoleError, m.Type == chromedp.ConsoleWarning, m.IsException(),
			m.Type == "assert", m.Source == "security":
			out = append(out, fmt.Sprintf("%s [%s] %s (%s:%d)", m.Type, m.Source, m.Text, m.URL, m.Line))
		}
	}
	return out
}

// waitProblem waits up to timeout for a problem whose text contains substr:
// the browser's log events arrive asynchronously.
func (tb *tab) waitProblem(substr string, timeout time.Duration) bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		for _, p := range tb.problems() {
			if strings.Contains(p, substr) {
				return true
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			return false
		}
	}
}

// cspViolations returns what the page's securitypolicyviolation events
// recorded.
func (tb *tab) cspViolations(t *testing.T) []string {
	t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// actionTimeout bounds one call into the browser, so that a page that never
// renders fails in seconds rather than at testTimeout.
const actionTimeout = 20 * time.Second

// do runs actions in the tab and fails the test on error, with what the
// page wrote to the console.
func (tb *tab) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%v; console: %q", err, tb.problems())
	}
}

// waitFor waits until the JavaScript expression is truthy.
func (tb *tab) waitFor(t *testing.T, what, expression string) {
	t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](expression, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
