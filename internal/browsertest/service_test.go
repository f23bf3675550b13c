package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// defaultChromium is Debian's Chromium; the CHROMIUM variable overrides it.
const defaultChromium = "/usr/bin/chromium"

// requiredEnv turns a missing Chromium from a skip into a failure.
const requiredEnv = "BROWSER_TEST_REQUIRED"

// testTimeout bounds one test: browser start, service build and start, and
// every browser action.
const testTimeout = 3 * time.Minute

// binDir holds the service binary, built once for all the tests.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "browsertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browsertest:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

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

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// serviceBinary builds the service from the module root, once.
func serviceBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(binDir, "oppconfig-graphql")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// logLines keeps the service's stderr and reports the address of its
// {"msg":"listening","addr":"http://[::]:PORT"} line.
type logLines struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	addr    chan string
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		var entry struct{ Msg, Addr string }
		if json.Unmarshal(l.partial[:i], &entry) == nil && entry.Msg == "listening" && entry.Addr != "" {
			select {
			case l.addr <- entry.Addr:
			default:
			}
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// startService runs the real service on a free port with env added to the
// defaults (demo data, no rate limit) and returns its base URL. It is stopped
// with SIGINT when the test ends.
func startService(t *testing.T, env ...string) string {
	t.Helper()
	cmd := exec.Command(serviceBinary(t))
	cmd.Env = append(os.Environ(), "PORT=0", "RATE_LIMIT=0", "LOG_FORMAT=json", "UPSTREAM_URL=")
	cmd.Env = append(cmd.Env, env...)
	logs := &logLines{addr: make(chan string, 1)}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("service log:\n%s", logs)
		}
	})
	select {
	case addr := <-logs.addr:
		u, err := url.Parse(addr)
		if err != nil || u.Port() == "" {
			t.Fatalf("listening address %q: %v", addr, err)
		}
		base := "http://127.0.0.1:" + u.Port()
		checkAssetRoute(t, base)
		return base
	case err := <-exited:
		t.Fatalf("service exited before listening: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("service did not log its address in 30s:\n%s", logs)
	}
	return ""
}

// checkAssetRoute fails early, with the fix, when the service serves the
// page but not its assets.
func checkAssetRoute(t *testing.T, base string) {
	t.Helper()
	res, err := http.Get(base + "/explorer/explorer.js")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
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

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
