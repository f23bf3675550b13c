package browsertest

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// liveTTL is the CACHE_TTL of the live tests' service: an open stream makes
// the service refresh past it, so a change upstream reaches the page within
// about liveTTL (the feed checks every 250 ms; the page's query and redraw
// take milliseconds).
const liveTTL = time.Second

// liveWait bounds how long a change upstream may take to show: the TTL, and
// three seconds for the refresh, the event, the page's queries and its
// redraw.
const liveWait = liveTTL + 3*time.Second

// liveService starts the real service, with CACHE_TTL=liveTTL, against a
// simulator in this process whose data and faults the test changes (the
// demo mode's embedded simulator cannot be changed from outside), and
// returns its base URL and the simulator.
func liveService(t *testing.T, env ...string) (string, *simulator.Simulator) {
	t.Helper()
	creds := testkit.Creds()
	sim := simulator.New(simulator.Options{Credentials: creds, Recipe: signature.Default()})
	upstream := httptest.NewServer(sim)
	t.Cleanup(upstream.Close)
	// EXPLORER and PLAYGROUND: with UPSTREAM_URL they are off unless asked
	// for, and so is INTROSPECTION, which GraphiQL reads its schema by.
	// UPSTREAM_RETRIES=0: a fault makes the copy stale at the first failure.
	base := startService(t, append(append(proc.UpstreamEnv(upstream.URL, creds),
		"EXPLORER=true", "PLAYGROUND=true", "INTROSPECTION=true", "CACHE_TTL="+liveTTL.String(), "UPSTREAM_RETRIES=0"), env...)...)
	return base, sim
}

// renamedDataset is the demo dataset with the first stage of its first type
// (初步接洽 of 标准销售商机, 1001) renamed.
func renamedDataset(t *testing.T, name string) []byte {
	t.Helper()
	var raw []map[string]any
	if err := json.Unmarshal(simulator.DemoDataset(), &raw); err != nil {
		t.Fatal(err)
	}
	if raw[0]["typeId"] != 1001.0 {
		t.Fatalf("the demo dataset's first type is %v, want 1001", raw[0]["typeId"])
	}
	raw[0]["stages"].([]any)[0].(map[string]any)["name"] = name
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitWithin waits until the JavaScript expression is truthy, for at most d.
func (tb *tab) waitWithin(t *testing.T, what, expression string, d time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](expression, chromedp.WithPollingTimeout(d))); err != nil {
		t.Fatalf("waiting %s for %s: %v; console: %q", d, what, err, tb.problems())
	}
}

// liveState is what the page shows of its subscription and the user's place.
type liveState struct {
	Stream   string `json:"stream"`  // the dot's data-state: connecting, live, retrying, paused
	Updated  string `json:"updated"` // the notice's text, "" while hidden
	Stale    bool   `json:"stale"`   // the header's stale mark shows
	StaleBox bool   `json:"staleBox"`
	Version  string `json:"version"`
	Marker   string `json:"marker"` // window.__beforeChange: survives only without navigation
	Type     string `json:"type"`   // the selected tab's type id
	Picked   string `json:"picked"` // the pressed stage's id
	Moves    string `json:"moves"`  // the moves status's data-state
	FormOpen bool   `json:"formOpen"`
	Value    string `json:"value"`   // 决策人 (106) in the form
	Focused  string `json:"focused"` // the focused element's id
	Stage    string `json:"stage"`   // the name of stage 2001
	Mark     bool   `json:"mark"`    // the pipeline is the node marked before (no redraw since)
}

const readLiveJS = `(() => {
  const q = (sel) => document.querySelector(sel);
  const shown = (e) => e !== null && !e.hidden;
  const note = q('[data-testid="live-updated"]');
  const pressed = q('[data-testid="stage"]:has(> .stage-head [aria-pressed="true"])');
  const input = q('[data-testid="form-field"][data-field-id="106"] [data-testid="form-input"]');
  const name = q('[data-testid="stage"][data-stage-id="2001"] [data-testid="stage-name"]');
  const pipeline = q('[data-testid="pipeline"]');
  return {
    stream: q('[data-testid="live-state"]')?.dataset.state || '',
    updated: shown(note) ? note.textContent : '',
    stale: shown(q('[data-testid="live-stale"]')),
    staleBox: q('[data-testid="stale"]') !== null,
    version: shown(q('#version')) ? q('#version').textContent : '',
    marker: String(window.__beforeChange || ''),
    type: q('[data-testid="type-tab"][aria-selected="true"]')?.dataset.typeId || '',
    picked: pressed ? pressed.dataset.stageId : '',
    moves: q('[data-testid="moves-status"]')?.dataset.state || '',
    formOpen: shown(q('[data-testid="form-panel"]')),
    value: input ? input.value : '',
    focused: document.activeElement ? document.activeElement.id : '',
    stage: name ? name.textContent : '',
    mark: pipeline !== null && pipeline.__mark === true,
  };
})()`

func (tb *tab) live(t *testing.T) liveState {
	t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Evaluate[liveState](readLiveJS))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestExplorerLive changes the simulator's data under an open page: the page
// redraws the pipeline by itself within liveWait, without navigating (a
// marker set on window survives), with the user's type, picked stage, open
// form, typed value and focus kept, and says when it updated; then the
// upstream fails and recovers, and the page marks its data stale and fresh
// again without redrawing (same version).
func TestExplorerLive(t *testing.T) {
	browser := newBrowser(t)
	base, sim := liveService(t)
	tb := openTab(t, browser)

	// A user at 需求确定 of 标准销售商机, with its form open and 决策人 typed.
	tb.do(t, chromedp.Navigate(base+"/explorer#type=1001&stage=2002"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="stage"]`)))
	tb.waitFor(t, "the moves from 需求确定", `document.querySelector('[data-testid="moves-status"]').dataset.state === 'shown'`)
	tb.do(t, chromedp.Click(chromedp.CSS(`[data-testid="form-toggle"]`)), chromedp.WaitVisible(formInput(106)))
	const typed = "诸葛亮"
	tb.do(t, chromedp.SendKeys(formInput(106), typed))
	// The stream's first event names the version, which the page then shows.
	tb.waitFor(t, "the stream's first event", `document.querySelector('[data-testid="live-state"]').dataset.state === 'live' &&
  !document.getElementById('version').hidden`)

	before := tb.live(t)
	t.Run("before the change", func(t *testing.T) {
		if before.Updated != "" || before.Stale || before.StaleBox || !strings.HasPrefix(before.Version, " · 配置版本 ") {
			t.Errorf("the page shows %+v, want no notice, fresh, a version", before)
		}
		if before.Stage != "初步接洽" || before.Value != typed || before.Focused != "form-1001-f106" {
			t.Errorf("the page shows %+v", before)
		}
	})

	tb.do(t, chromedp.Evaluate[chromedp.Void](`window.__beforeChange = 'kept'`))
	const renamed = "初步接洽（新）"
	changed := time.Now()
	sim.SetDataset(renamedDataset(t, renamed))
	tb.waitWithin(t, "the renamed stage and the updated notice",
		`document.querySelector('[data-testid="stage"][data-stage-id="2001"] [data-testid="stage-name"]')?.textContent === `+testkit.JSONString(renamed)+
			` && !document.querySelector('[data-testid="live-updated"]').hidden`, liveWait)
	t.Logf("the page showed the change %v after it was made upstream", time.Since(changed).Round(10*time.Millisecond))

	after := tb.live(t)
	t.Run("after the change, without navigation", func(t *testing.T) {
		if after.Marker != "kept" {
			t.Errorf("window.__beforeChange = %q: the page was reloaded", after.Marker)
		}
		if !regexp.MustCompile(`^已更新 · updated \d\d:\d\d:\d\d$`).MatchString(after.Updated) {
			t.Errorf("notice = %q, want 已更新 · updated hh:mm:ss", after.Updated)
		}
		if after.Version == before.Version || after.Stream != "live" || after.Stale {
			t.Errorf("version %q (before %q), stream %q, stale %v", after.Version, before.Version, after.Stream, after.Stale)
		}
	})
	t.Run("the user's place is kept", func(t *testing.T) {
		want := liveState{Type: "1001", Picked: "2002", Moves: "shown", FormOpen: true, Value: typed, Focused: "form-1001-f106"}
		got := liveState{Type: after.Type, Picked: after.Picked, Moves: after.Moves, FormOpen: after.FormOpen, Value: after.Value, Focused: after.Focused}
		if got != want {
			t.Errorf("after the redraw %+v, want %+v", got, want)
		}
	})

	// The upstream fails: past the TTL the copy is served stale, at the same
	// version; the page says so, and redraws nothing.
	tb.do(t, chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="pipeline"]').__mark = true`))
	sim.SetFault(simulator.FaultServerError)
	tb.waitWithin(t, "the stale marks", `!document.querySelector('[data-testid="live-stale"]').hidden && document.querySelector('[data-testid="stale"]') !== null`, liveWait)
	sim.SetFault(simulator.FaultNone)
	tb.waitWithin(t, "the stale marks gone", `document.querySelector('[data-testid="live-stale"]').hidden && document.querySelector('[data-testid="stale"]') === null`, liveWait)
	t.Run("stale and fresh again, at the same version", func(t *testing.T) {
		got := tb.live(t)
		if !got.Mark || got.Updated != after.Updated || got.Version != after.Version || got.Stage != renamed || got.Marker != "kept" {
			t.Errorf("the page shows %+v after %+v; want the same drawing, notice and version", got, after)
		}
	})

	t.Run("no console errors and no CSP violations", func(t *testing.T) {
		if p := tb.problems(); len(p) > 0 {
			t.Errorf("console:\n%s", strings.Join(p, "\n"))
		}
		if c := tb.cspViolations(t); len(c) > 0 {
			t.Errorf("CSP violations:\n%s", strings.Join(c, "\n"))
		}
	})
}

// runPlaygroundTab opens GraphiQL's tab named name (its operation's name) and
// runs it.
func (tb *tab) runPlaygroundTab(t *testing.T, name string) {
	t.Helper()
	tb.waitFor(t, "the playground's "+name+" tab", `Array.from(document.querySelectorAll('.graphiql-tab-button'), (b) => b.textContent.trim()).includes(`+testkit.JSONString(name)+`)`)
	tb.do(t, chromedp.Evaluate[chromedp.Void](`Array.from(document.querySelectorAll('.graphiql-tab-button')).find((b) => b.textContent.trim() === `+testkit.JSONString(name)+`).click()`))
	// GraphiQL parses the editor's document a moment after it changes (a
	// debounce), and runs the operation that parse names: a click before it
	// would send the new document under the previous tab's operation name.
	tb.waitFor(t, "the "+name+" tab's operation in the editor",
		`document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror?.operationName === `+testkit.JSONString(name))
	tb.do(t, chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)))
}

// playgroundEvent is the subscription's latest event, as the result pane
// shows it.
type playgroundEvent struct {
	Data struct {
		OpportunityConfigChanged struct {
			Version        string
			ChangedTypeIDs []int `json:"changedTypeIds"`
			Stale          bool
		}
	}
	Errors []any
}

// resultJS is the result pane's text (its CodeMirror editor's value): one
// JSON document, the latest event of a subscription.
const resultJS = `(document.querySelector('.result-window .CodeMirror')?.CodeMirror?.getValue() || '')`

func (tb *tab) playgroundEvent(t *testing.T) playgroundEvent {
	t.Helper()
	text, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](resultJS))
	if err != nil {
		t.Fatal(err)
	}
	var ev playgroundEvent
	if err := json.Unmarshal([]byte(text), &ev); err != nil {
		t.Fatalf("the result pane is not one JSON document (%v): %.500s", err, text)
	}
	return ev
}

// TestPlaygroundSubscription runs the playground's ConfigChanges tab: GraphiQL
// subscribes over WebSocket (graphql-transport-ws, the bundle's graphql-ws
// client) and shows the first event; a change upstream shows as the next
// event, naming the changed type; stopping the subscription leaves no
// error behind.
func TestPlaygroundSubscription(t *testing.T) {
	browser := newBrowser(t)
	base, sim := liveService(t)
	tb := openTab(t, browser)

	tb.do(t, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`.graphiql-execute-button`)))
	tb.runPlaygroundTab(t, "ConfigChanges")
	tb.waitFor(t, "the first event in the result pane", resultJS+`.includes('"version"')`)
	first := tb.playgroundEvent(t)
	if c := first.Data.OpportunityConfigChanged; c.Version == "" || len(c.ChangedTypeIDs) != 0 || c.Stale || len(first.Errors) > 0 {
		t.Fatalf("first event = %+v, want a version, no changed types, fresh", first)
	}

	sim.SetDataset(renamedDataset(t, "初步接洽（新）"))
	tb.waitWithin(t, "the change's event", `/"changedTypeIds":\s*\[\s*1001\s*\]/.test(`+resultJS+`)`, liveWait)
	next := tb.playgroundEvent(t)
	if c := next.Data.OpportunityConfigChanged; c.Version == first.Data.OpportunityConfigChanged.Version || len(c.ChangedTypeIDs) != 1 || c.ChangedTypeIDs[0] != 1001 {
		t.Errorf("event after the change = %+v, want a new version naming type 1001", next)
	}

	// ■ stops the subscription (the WebSocket closes); ▶ is back.
	tb.do(t, chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)))
	tb.waitFor(t, "the subscription stopped", `document.querySelector('.graphiql-execute-button')?.getAttribute('aria-label')?.startsWith('Execute')`)
	if p := tb.problems(); len(p) > 0 {
		t.Errorf("console:\n%s", strings.Join(p, "\n"))
	}
	if c := tb.cspViolations(t); len(c) > 0 {
		t.Errorf("CSP violations:\n%s", strings.Join(c, "\n"))
	}
}

// TestExplorerReconnects fails the page's first streams (DevTools fails each
// SSE request, as a dropped network would) while the data changes upstream:
// the page retries after 1 s, 2 s and 4 s, its dot says it is retrying
// meanwhile, and once a stream opens its first event names the new version,
// so the page redraws without a reload.
func TestExplorerReconnects(t *testing.T) {
	browser := newBrowser(t)
	base, sim := liveService(t)
	tb := openTab(t, browser)

	const failures = 3
	var (
		mu       sync.Mutex
		attempts []time.Time
	)
	paused := chromedp.Events(tb.ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			stream := false
			for k, v := range ev.Request.Headers {
				if s, ok := v.(string); ok && strings.EqualFold(k, "Accept") && strings.Contains(s, "text/event-stream") {
					stream = true
				}
			}
			mu.Lock()
			if stream {
				attempts = append(attempts, time.Now())
			}
			fail := stream && len(attempts) <= failures
			mu.Unlock()
			if fail {
				_, _ = chromedp.Call(tb.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonFailed})
				continue
			}
			_, _ = chromedp.Call(tb.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()
	if _, err := chromedp.Call(tb.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/query"}}}); err != nil {
		t.Fatal(err)
	}

	tb.do(t, chromedp.Navigate(base+"/explorer#type=1001&stage=2001"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="stage"]`)))
	tb.waitFor(t, "the failed stream's retry", `document.querySelector('[data-testid="live-state"]').dataset.state === 'retrying'`)
	tb.do(t, chromedp.Evaluate[chromedp.Void](`window.__beforeChange = 'kept'`))
	const renamed = "初步接洽（重连后）"
	sim.SetDataset(renamedDataset(t, renamed))
	// 1 + 2 + 4 s of backoff, then the change as TestExplorerLive waits for it.
	tb.waitWithin(t, "the change after the stream reconnected",
		`document.querySelector('[data-testid="stage"][data-stage-id="2001"] [data-testid="stage-name"]')?.textContent === `+testkit.JSONString(renamed)+
			` && !document.querySelector('[data-testid="live-updated"]').hidden`, 7*time.Second+liveWait)

	got := tb.live(t)
	if got.Marker != "kept" || got.Stream != "live" || got.Picked != "2001" {
		t.Errorf("after reconnecting the page shows %+v, want no reload, a live stream, 2001 still picked", got)
	}
	mu.Lock()
	times := slices.Clone(attempts)
	mu.Unlock()
	if len(times) != failures+1 {
		t.Fatalf("%d stream requests, want %d failed and one that stayed open", len(times), failures)
	}
	// The backoff doubles from 1 s; the timers are the browser's, so a gap is
	// at least its wait (less a few ms of clock granularity) and at most a
	// second and a half more on a loaded machine.
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		gap := times[i+1].Sub(times[i])
		t.Logf("retry %d after %v", i+1, gap.Round(time.Millisecond))
		if gap < want-50*time.Millisecond || gap > want+1500*time.Millisecond {
			t.Errorf("retry %d came %v after the failure, want about %v", i+1, gap.Round(time.Millisecond), want)
		}
	}
	// The failed requests are logged by the browser; nothing else may be.
	for _, p := range tb.problems() {
		if !(strings.Contains(p, "net::ERR_FAILED") && strings.Contains(p, "/query")) {
			t.Errorf("console: %s", p)
		}
	}
	if c := tb.cspViolations(t); len(c) > 0 {
		t.Errorf("CSP violations:\n%s", strings.Join(c, "\n"))
	}
}
