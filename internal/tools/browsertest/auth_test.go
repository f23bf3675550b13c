package browsertest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// pageKey is the API key the browser is given when the service asks.
const pageKey = "k-BROWSER-0123456789abcdef0123456789"

// TestPagesAskForTheCredential runs the service with AUTH_MODE=apikey: the
// playground's navigation is answered with a Basic challenge, the browser
// (as its user would at the prompt) gives the API key as the password, once,
// and from then on the page's assets, GraphiQL's own requests to /query (its
// subscription's WebSocket too) and the explorer carry it without asking
// again.
func TestPagesAskForTheCredential(t *testing.T) {
	browser := newBrowser(t)
	base := startService(t, "AUTH_MODE=apikey", "AUTH_API_KEYS=web:"+pageKey)
	tb := openTab(t, browser)

	// Every request is paused by Fetch.enable; the handler lets it go, and
	// answers an authentication challenge as a person at the prompt would.
	challenges := tb.answerChallenges(t, "web", pageKey)

	// GraphiQL renders only once its assets loaded; it asks /query for the
	// schema (introspection) and then shows the docs of the root type.
	tb.do(t, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`.graphiql-execute-button`)))
	tb.do(t, chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)))
	tb.waitFor(t, "the answer of the playground's first tab", `(() => {
  const r = document.querySelector('.result-window');
  return r && r.textContent.includes('"data"');
})()`)
	answer, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.querySelector('.result-window').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if !containsAll(answer, `"data"`) || containsAll(answer, "UNAUTHENTICATED") {
		t.Errorf("the playground's query was not answered with data: %.300s", answer)
	}
	// The page's own fetch, as GraphiQL makes it, carries the credential.
	status, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`fetch('/query', {method: 'POST', headers: {'Content-Type': 'application/json'},
  body: JSON.stringify({query: '{ __typename }'})}).then((r) => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != 200 {
		t.Errorf("a same-origin fetch from the playground = %d, %v; want 200", status, err)
	}
	// A subscription runs over a WebSocket, whose handshake carries the
	// credential the browser holds as well (the headers pane is empty, so
	// connection_init carries none): its first event comes, not an error.
	tb.runPlaygroundTab(t, "ConfigChanges")
	tb.waitFor(t, "the subscription's first event", resultJS+`.includes('"opportunityConfigChanged"')`)
	if event, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](resultJS)); err != nil || !containsAll(event, `"version"`) || containsAll(event, `"errors"`) {
		t.Errorf("the playground's subscription answered %.300s (%v), want an event", event, err)
	}

	// The explorer is in the same protection space: no second prompt.
	tb.do(t, chromedp.Navigate(base+"/explorer"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="stage"]`)))

	prompts := challenges()
	if len(prompts) != 1 {
		t.Fatalf("the browser was asked %d times, want once: %+v", len(prompts), prompts)
	}
	if p := prompts[0]; p.Scheme != "basic" || p.Realm != "oppconfig-graphql" {
		t.Errorf("challenge = %+v, want Basic in realm oppconfig-graphql", p)
	}
	if v := tb.cspViolations(t); len(v) > 0 {
		t.Errorf("CSP violations: %q", v)
	}
}

// containsAll reports whether s contains every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
