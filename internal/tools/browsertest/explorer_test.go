package browsertest

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
	"github.com/oppconfig/oppconfig-graphql/internal/simulator"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket/wire"
	"github.com/oppconfig/oppconfig-graphql/internal/testkit"
	"github.com/oppconfig/oppconfig-graphql/internal/tools/proc"
)

// demoTypes is the demo dataset (internal/simulator/dataset.json) in the
// vendor's shape, the source of truth the page is checked against.
func demoTypes(t *testing.T) []wire.Type {
	t.Helper()
	var types []wire.Type
	if err := json.Unmarshal(simulator.DemoDataset(), &types); err != nil {
		t.Fatal(err)
	}
	return types
}

// What the page shows, read through its data-testid hooks.
type (
	view struct {
		Tabs     []viewTab   `json:"tabs"`
		TypeName string      `json:"typeName"`
		Badges   []viewBadge `json:"badges"`
		Stages   []viewStage `json:"stages"`
		Fields   []viewField `json:"fields"`
	}
	viewTab struct {
		TypeID   int    `json:"typeId"`
		Name     string `json:"name"`
		Selected bool   `json:"selected"`
	}
	viewBadge struct {
		Flag  string `json:"flag"`
		Value string `json:"value"`
		Text  string `json:"text"`
	}
	viewStage struct {
		ID          int      `json:"id"`
		ParentID    int      `json:"parentId"` // 0 at the top level
		Depth       int      `json:"depth"`
		Name        string   `json:"name"`
		Possibility string   `json:"possibility"` // "70%"
		Remind      string   `json:"remind"`      // "提醒 3/7 天", or "" without reminder
		Required    []string `json:"required"`    // the required-field chips
		Box         box      `json:"box"`
	}
	box struct {
		X float64 `json:"x"`
		Y float64 `json:"y"`
		W float64 `json:"w"`
	}
	viewField struct {
		ID       int      `json:"id"`
		Name     string   `json:"name"`
		Type     string   `json:"type"`
		Required string   `json:"required"`
		Options  []string `json:"options"`
		Max      string   `json:"max"`
		Min      string   `json:"min"`
		Pattern  string   `json:"pattern"`
	}
)

// readViewJS returns the page as a view. Stages are listed in document order
// (depth first), each with its parent's id and its box on screen.
const readViewJS = `(() => {
  const all = (root, sel) => Array.from(root.querySelectorAll(sel));
  const txt = (root, sel) => { const e = root.querySelector(sel); return e ? e.textContent.trim() : ''; };
  return {
    tabs: all(document, '[data-testid="type-tab"]').map((b) => ({
      typeId: Number(b.dataset.typeId), name: txt(b, '[data-testid="type-tab-name"]'),
      selected: b.getAttribute('aria-selected') === 'true' })),
    typeName: txt(document, '[data-testid="type-name"]'),
    badges: all(document, '[data-testid="badge"]').map((b) => ({
      flag: b.dataset.flag, value: b.dataset.value, text: b.textContent.trim() })),
    stages: all(document, '[data-testid="stage"]').map((s) => {
      const list = s.parentElement.closest('[data-testid="stage-children"]');
      const parent = list ? list.parentElement.querySelector(':scope > [data-testid="stage"]') : null;
      const r = s.getBoundingClientRect();
      return {
        id: Number(s.dataset.stageId), parentId: parent ? Number(parent.dataset.stageId) : 0,
        depth: Number(s.dataset.depth), name: txt(s, '[data-testid="stage-name"]'),
        possibility: txt(s, '[data-testid="stage-possibility"]'), remind: txt(s, '[data-testid="stage-remind"]'),
        required: all(s, '[data-testid="required-field"]').map((c) => c.textContent.trim()),
        box: { x: r.left, y: r.top, w: r.width } };
    }),
    fields: all(document, '[data-testid="field-row"]').map((r) => ({
      id: Number(r.dataset.fieldId), name: txt(r, '[data-testid="field-name"]'),
      type: txt(r, '[data-testid="field-type"]'), required: txt(r, '[data-testid="field-required"]'),
      options: all(r, '[data-testid="field-option"]').map((o) => o.textContent.trim()),
      max: txt(r, '[data-testid="field-max"]'), min: txt(r, '[data-testid="field-min"]'),
      pattern: txt(r, '[data-testid="field-pattern"]') })),
  };
})()`

func (tb *tab) view(t *testing.T) view {
	t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[view](readViewJS))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// selectType clicks a type's tab and waits until its panel shows.
func (tb *tab) selectType(t *testing.T, typ wire.Type) {
	t.Helper()
	tb.do(t, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-testid="type-tab"][data-type-id="%d"]`, typ.TypeID))))
	tb.waitFor(t, typ.TypeName+"'s panel",
		`document.querySelector('[data-testid="type-name"]')?.textContent === `+testkit.JSONString(typ.TypeName)+
			` && document.querySelector('[data-testid="stage"]') !== null`)
}

func TestExplorer(t *testing.T) {
	browser := newBrowser(t) // first, so that a missing Chromium skips before the build
	base := startService(t)
	types := demoTypes(t)
	tb := openTab(t, browser)

	tb.do(t, chromedp.Navigate(base+"/explorer"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="stage"]`)))
	v := tb.view(t)

	t.Run("tabs, default type first and selected", func(t *testing.T) {
		want := []viewTab{
			{1001, "标准销售商机", true},
			{1002, "渠道合作商机", false},
			{1003, "续费商机", false},
			{1004, "大客户项目", false},
		}
		if !reflect.DeepEqual(v.Tabs, want) {
			t.Errorf("tabs = %+v, want %+v", v.Tabs, want)
		}
		if v.TypeName != "标准销售商机" {
			t.Errorf("type name = %q", v.TypeName)
		}
	})

	// Spelled out rather than derived, so that a wrong reading of the
	// dataset cannot hide a wrong page.
	t.Run("default type pipeline", func(t *testing.T) {
		var top, topPossibility []string
		byName := map[string]viewStage{}
		for _, s := range v.Stages {
			byName[s.Name] = s
			if s.Depth == 0 {
				top = append(top, s.Name)
				topPossibility = append(topPossibility, s.Possibility)
			}
		}
		if want := []string{"初步接洽", "需求确定", "方案报价", "商务谈判", "赢单", "输单"}; !slices.Equal(top, want) {
			t.Errorf("top-level stages = %q, want %q", top, want)
		}
		if want := []string{"10%", "30%", "50%", "70%", "100%", "0%"}; !slices.Equal(topPossibility, want) {
			t.Errorf("possibilities = %q, want %q", topPossibility, want)
		}
		visit, call := byName["上门拜访"], byName["首次拜访"]
		if visit.ParentID != 2012 || visit.Depth != 2 || call.ParentID != 2001 || call.Depth != 1 {
			t.Errorf("上门拜访 = %+v, 首次拜访 = %+v; want 初步接洽 > 首次拜访 > 上门拜访", visit, call)
		}
		if got := byName["报价审批"]; got.ParentID != 2003 || got.Possibility != "50%" || got.Remind != "提醒 2 天" ||
			!slices.Equal(got.Required, []string{"预计成交金额"}) {
			t.Errorf("报价审批 = %+v", got)
		}
		if got := byName["初步接洽"]; got.Remind != "提醒 3/7 天" || !slices.Equal(got.Required, []string{"商机名称", "商机来源"}) {
			t.Errorf("初步接洽 = %+v", got)
		}
		if got := byName["输单"]; got.Remind != "" || len(got.Required) != 0 {
			t.Errorf("输单 = %+v", got)
		}
	})

	t.Run("default type badges and fields", func(t *testing.T) {
		wantBadges := []string{"★ 默认类型", "✕ 允许跨阶段", "✓ 允许回退", "✓ 允许输单回退", "✓ 仅员工删除", "可删除天数 30"}
		var badges []string
		for _, b := range v.Badges {
			badges = append(badges, b.Text)
		}
		if !slices.Equal(badges, wantBadges) {
			t.Errorf("badges = %q, want %q", badges, wantBadges)
		}
		rows := map[string]viewField{}
		for _, f := range v.Fields {
			rows[f.Name] = f
		}
		if len(v.Fields) != 12 {
			t.Errorf("%d field rows, want 12", len(v.Fields))
		}
		if got := rows["商机来源"]; got.Type != "3" || got.Required != "必填" ||
			strings.Join(got.Options, ",") != "官网咨询,市场活动,老客户转介绍,电话外呼,展会" {
			t.Errorf("商机来源 = %+v", got)
		}
		if got := rows["竞争对手"]; got.Required != "否" || len(got.Options) != 5 || got.Options[0] != "纷享销客" {
			t.Errorf("竞争对手 = %+v", got)
		}
		if got := rows["决策人手机"]; got.Max != "11" || got.Min != "11" || got.Pattern != `^1[3-9]\d{9}$` {
			t.Errorf("决策人手机 = %+v", got)
		}
		if got := rows["商机名称"]; got.Max != "50" || got.Min != "2" || got.Pattern != "—" || len(got.Options) != 0 {
			t.Errorf("商机名称 = %+v", got)
		}
	})

	t.Run("layout: stages left to right, children below their parent", func(t *testing.T) {
		checkLayout(t, v.Stages)
	})

	// The live stream's first event names the version, which the header
	// then shows beside the stream's dot: the screenshot shows both.
	tb.waitFor(t, "the live stream's first event", `document.querySelector('[data-testid="live-state"]').dataset.state === 'live' &&
  !document.getElementById('version').hidden`)

	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "explorer.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote testdata/explorer.png (%d bytes)", len(png))
	}

	// Every type, the default one included, against the whole dataset.
	for _, typ := range types {
		t.Run("type "+strconv.Itoa(typ.TypeID)+" "+typ.TypeName, func(t *testing.T) {
			tb.selectType(t, typ)
			got := tb.view(t)
			checkType(t, typ, got)
			checkLayout(t, got.Stages)
			for _, tab := range got.Tabs {
				if tab.Selected != (tab.TypeID == typ.TypeID) {
					t.Errorf("tab %d selected = %v", tab.TypeID, tab.Selected)
				}
			}
		})
	}

	t.Run("another type: 渠道合作商机", func(t *testing.T) {
		tb.selectType(t, types[1])
		got := tb.view(t)
		var top []string
		for _, s := range got.Stages {
			if s.Depth == 0 {
				top = append(top, s.Name)
			}
		}
		if want := []string{"渠道报备", "资质审核", "联合拜访", "报价审批", "签约", "报备失效"}; !slices.Equal(top, want) {
			t.Errorf("top-level stages = %q, want %q", top, want)
		}
		for _, b := range got.Badges {
			if b.Flag == "defaultType" {
				t.Errorf("a non-default type shows %q", b.Text)
			}
			if b.Flag == "allowSkip" && b.Text != "✓ 允许跨阶段" {
				t.Errorf("allowSkip badge = %q", b.Text)
			}
		}
	})

	t.Run("deep link #type=1004", func(t *testing.T) {
		// From another document, so that this is a fresh load, not a hashchange.
		tb.do(t, chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/explorer#type=1004"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="stage"]`)))
		if got := tb.view(t); got.TypeName != "大客户项目" {
			t.Errorf("type name = %q, want 大客户项目", got.TypeName)
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

	// The check above is only worth something if a violation would show:
	// inject an inline script, which the page's CSP must block and report.
	t.Run("a CSP violation would be caught", func(t *testing.T) {
		tb.do(t, chromedp.Evaluate[chromedp.Void](`(() => {
  const s = document.createElement('script');
  s.textContent = 'window.__inlineRan = true';
  document.body.append(s);
})()`))
		tb.waitFor(t, "the violation event", `window.__csp.length > 0`)
		if ran, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](`window.__inlineRan === true`)); err != nil || ran {
			t.Errorf("inline script ran: %v %v", ran, err)
		}
		if c := tb.cspViolations(t); len(c) != 1 || !strings.HasPrefix(c[0], "script-src") {
			t.Errorf("violations = %q, want one script-src", c)
		}
		if !tb.waitProblem("Content Security Policy", 5*time.Second) {
			t.Errorf("console did not report the violation: %q", tb.problems())
		}
	})
}

// checkType compares everything the page shows for one type with the dataset.
func checkType(t *testing.T, typ wire.Type, got view) {
	t.Helper()
	if got.TypeName != typ.TypeName {
		t.Errorf("type name = %q, want %q", got.TypeName, typ.TypeName)
	}

	var badges []viewBadge
	if typ.DefaultType {
		badges = append(badges, viewBadge{"defaultType", "true", "★ 默认类型"})
	}
	for _, f := range []struct {
		flag  string
		on    bool
		label string
	}{
		{"allowSkip", typ.AllowSkip, "允许跨阶段"},
		{"allowGoBack", typ.AllowGoBack, "允许回退"},
		{"allowInvalidGoBack", typ.AllowInvalidGoBack, "允许输单回退"},
		{"allowDeleteOpportunity", typ.AllowDeleteOpportunity, "仅员工删除"},
	} {
		mark := "✕ "
		if f.on {
			mark = "✓ "
		}
		badges = append(badges, viewBadge{f.flag, strconv.FormatBool(f.on), mark + f.label})
	}
	days := strconv.Itoa(typ.DeleteOpportunityDate)
	badges = append(badges, viewBadge{"deleteOpportunityDate", days, "可删除天数 " + days})
	if !reflect.DeepEqual(got.Badges, badges) {
		t.Errorf("badges = %+v\nwant %+v", got.Badges, badges)
	}

	var want []viewStage
	var walk func(stages []wire.Stage, parent, depth int)
	walk = func(stages []wire.Stage, parent, depth int) {
		for _, s := range stages {
			remind := ""
			if s.Remind {
				remind = "提醒"
				if len(s.RemindAfterDays) > 0 {
					remind += " " + strings.Join(s.RemindAfterDays, "/") + " 天"
				}
			}
			required := []string{}
			for _, r := range s.RequiredOppTypeFields {
				required = append(required, r.Name)
			}
			want = append(want, viewStage{ID: s.ID, ParentID: parent, Depth: depth, Name: s.Name,
				Possibility: strconv.Itoa(s.Possibility) + "%", Remind: remind, Required: required})
			walk(s.Children, s.ID, depth+1)
		}
	}
	walk(typ.Stages, 0, 0)
	if len(got.Stages) != len(want) {
		t.Errorf("%d stages shown, want %d", len(got.Stages), len(want))
	}
	for i := range min(len(got.Stages), len(want)) {
		g := got.Stages[i]
		g.Box = box{}
		if !reflect.DeepEqual(g, want[i]) {
			t.Errorf("stage %d = %+v\nwant %+v", i, g, want[i])
		}
	}

	if len(got.Fields) != len(typ.Fields) {
		t.Errorf("%d field rows, want %d", len(got.Fields), len(typ.Fields))
	}
	for i := range min(len(got.Fields), len(typ.Fields)) {
		f := typ.Fields[i]
		w := viewField{ID: f.ID, Name: f.Name, Type: strconv.Itoa(f.Type), Required: "否", Options: []string{},
			Max: strconv.Itoa(f.MaxUnicode), Min: "—", Pattern: "—"}
		if f.Required {
			w.Required = "必填"
		}
		for _, o := range f.Options {
			w.Options = append(w.Options, o.Name)
		}
		if f.MinUnicode != nil {
			w.Min = strconv.Itoa(*f.MinUnicode)
		}
		if f.Pattern != nil {
			w.Pattern = *f.Pattern
		}
		if !reflect.DeepEqual(got.Fields[i], w) {
			t.Errorf("field row %d = %+v\nwant %+v", i, got.Fields[i], w)
		}
	}
}

// checkLayout checks the drawing: top-level stages side by side from left
// to right, each child below its parent and indented.
func checkLayout(t *testing.T, stages []viewStage) {
	t.Helper()
	byID := map[int]viewStage{}
	var prev *viewStage
	for i, s := range stages {
		byID[s.ID] = s
		if s.Box.W < 100 {
			t.Errorf("stage %s is %.0fpx wide", s.Name, s.Box.W)
		}
		if s.Depth != 0 {
			continue
		}
		if prev != nil && (s.Box.X <= prev.Box.X+prev.Box.W || s.Box.Y != prev.Box.Y) {
			t.Errorf("stage %s at %+v is not right of %s at %+v", s.Name, s.Box, prev.Name, prev.Box)
		}
		prev = &stages[i]
	}
	for _, s := range stages {
		if s.ParentID == 0 {
			continue
		}
		p := byID[s.ParentID]
		if s.Box.Y <= p.Box.Y || s.Box.X <= p.Box.X || s.Box.X+s.Box.W > p.Box.X+p.Box.W+1 {
			t.Errorf("child %s at %+v is not below and inside parent %s at %+v", s.Name, s.Box, p.Name, p.Box)
		}
	}
}

// TestExplorerErrorState runs the service against a failing upstream: the
// page shows the GraphQL error's message and code, and again after a retry;
// once the upstream recovers, the page draws its (hostile) data, as text, by
// itself: the live stream's first event tells it the configuration is there.
func TestExplorerErrorState(t *testing.T) {
	browser := newBrowser(t)
	creds := testkit.Creds()
	sim := simulator.New(simulator.Options{Credentials: creds, Recipe: signature.Default()})
	sim.SetFault(simulator.FaultServerError)
	upstream := httptest.NewServer(sim)
	t.Cleanup(upstream.Close)
	// EXPLORER=true: with UPSTREAM_URL set it is off unless asked for.
	base := startService(t, append(proc.UpstreamEnv(upstream.URL, creds), "UPSTREAM_RETRIES=0", "EXPLORER=true")...)
	tb := openTab(t, browser)

	tb.do(t, chromedp.Navigate(base+"/explorer"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="error"]`)))
	shown, err := chromedp.Run(tb.ctx, chromedp.Evaluate[struct {
		Codes    []string `json:"codes"`
		Messages []string `json:"messages"`
		Stages   int      `json:"stages"`
		Loading  bool     `json:"loading"`
	}](`({
  codes: Array.from(document.querySelectorAll('[data-testid="error-code"]'), (e) => e.textContent),
  messages: Array.from(document.querySelectorAll('[data-testid="error-message"]'), (e) => e.textContent),
  stages: document.querySelectorAll('[data-testid="stage"]').length,
  loading: document.querySelector('[data-testid="loading"]') !== null,
})`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shown.Codes, []string{"UPSTREAM_UNAVAILABLE"}) || len(shown.Messages) != 1 || shown.Messages[0] == "" {
		t.Errorf("error shown = %+v, want one UPSTREAM_UNAVAILABLE with a message", shown)
	}
	if shown.Stages != 0 || shown.Loading {
		t.Errorf("error state also shows %d stages, loading %v", shown.Stages, shown.Loading)
	}

	// The retry button asks again: a new error box replaces the marked one.
	tb.do(t, chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="error"]').dataset.old = 'true'`),
		chromedp.Click(chromedp.CSS(`[data-testid="retry"]`)))
	tb.waitFor(t, "the retry's error", `document.querySelector('[data-testid="error"]:not([data-old])') !== null`)
	if codes, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('[data-testid="error-code"]'), (e) => e.textContent)`)); err != nil ||
		!slices.Equal(codes, []string{"UPSTREAM_UNAVAILABLE"}) {
		t.Errorf("after a retry the page shows %q (%v), want UPSTREAM_UNAVAILABLE", codes, err)
	}

	// The upstream recovers, with names that are markup: the page must show
	// them as text.
	var raw []map[string]any
	if err := json.Unmarshal(simulator.DemoDataset(), &raw); err != nil {
		t.Fatal(err)
	}
	const hostileType = `<img src=x onerror="window.__xss=1">标准销售商机`
	const hostileStage = `<b>初步接洽</b>`
	raw[0]["typeName"] = hostileType
	raw[0]["stages"].([]any)[0].(map[string]any)["name"] = hostileStage
	hostile, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	sim.SetDataset(hostile)
	sim.SetFault(simulator.FaultNone)

	tb.do(t, chromedp.WaitVisible(chromedp.CSS(`[data-testid="stage"]`)))
	got := tb.view(t)
	if got.TypeName != hostileType || got.Stages[0].Name != hostileStage {
		t.Errorf("type %q, first stage %q; want the names as text", got.TypeName, got.Stages[0].Name)
	}
	injected, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](`document.querySelector('main img, main b') !== null || window.__xss !== undefined`))
	if err != nil || injected {
		t.Errorf("data became markup: %v %v", injected, err)
	}
	if p := tb.problems(); len(p) > 0 {
		t.Errorf("console:\n%s", strings.Join(p, "\n"))
	}
	if c := tb.cspViolations(t); len(c) > 0 {
		t.Errorf("CSP violations:\n%s", strings.Join(c, "\n"))
	}
}

// What the pipeline shows of the moves from the picked stage, per stage card,
// and what the form panel shows, read through their data-testid hooks.
type (
	viewMove struct {
		ID       int      `json:"id"`
		Kind     string   `json:"kind"`     // the kind badge's data-kind
		KindText string   `json:"kindText"` // and its text
		Pressed  string   `json:"pressed"`  // the stage button's aria-pressed
		Move     string   `json:"move"`     // data-move: from, allowed, refused; "" before a pick
		Refusal  string   `json:"refusal"`  // data-move-refusal
		Hidden   bool     `json:"hidden"`   // whether the card's move box is hidden
		Verdict  string   `json:"verdict"`  // the move box's verdict line
		Required []string `json:"required"` // the fields to fill to enter, for an allowed move
	}
	viewForm struct {
		Title  string          `json:"title"`
		Target string          `json:"target"`
		State  string          `json:"state"` // the status line's data-state
		Status string          `json:"status"`
		Fields []viewFormField `json:"fields"`
	}
	viewFormField struct {
		ID       int              `json:"id"`
		Kind     string           `json:"kind"` // text, select, multi
		Required bool             `json:"required"`
		Label    string           `json:"label"`
		Tag      string           `json:"tag"` // INPUT, TEXTAREA or SELECT; "" for checkboxes
		Value    string           `json:"value"`
		Options  int              `json:"options"` // select options, or checkboxes
		MaxAttr  bool             `json:"maxAttr"` // whether the input has a maxlength attribute
		Invalid  string           `json:"invalid"` // aria-invalid
		Count    string           `json:"count"`   // the code-point counter, "21/20"
		Errors   []viewFieldError `json:"errors"`
	}
	viewFieldError struct {
		Source  string `json:"source"` // client or service
		Code    string `json:"code"`
		Message string `json:"message"`
	}
)

const readMovesJS = `Array.from(document.querySelectorAll('[data-testid="stage"]'), (s) => {
  const txt = (sel) => { const e = s.querySelector(sel); return e ? e.textContent.trim() : ''; };
  const kind = s.querySelector('[data-testid="stage-kind"]');
  const move = s.querySelector('[data-testid="stage-move"]');
  return {
    id: Number(s.dataset.stageId), kind: kind ? kind.dataset.kind : '', kindText: kind ? kind.textContent.trim() : '',
    pressed: s.querySelector('[data-testid="stage-select"]').getAttribute('aria-pressed'),
    move: s.dataset.move || '', refusal: s.dataset.moveRefusal || '', hidden: move.hidden,
    verdict: txt('[data-testid="move-verdict"]'),
    required: Array.from(s.querySelectorAll('[data-testid="move-required-field"]'), (c) => c.textContent.trim()),
  };
})`

const readFormJS = `(() => {
  const txt = (root, sel) => { const e = root && root.querySelector(sel); return e ? e.textContent.trim() : ''; };
  const status = document.querySelector('[data-testid="form-status"]');
  return {
    title: txt(document, '[data-testid="form-title"]'), target: txt(document, '[data-testid="form-target"]'),
    state: status ? status.dataset.state : '', status: status ? status.textContent.trim() : '',
    fields: Array.from(document.querySelectorAll('[data-testid="form-field"]'), (f) => {
      const input = f.querySelector('[data-testid="form-input"]');
      const boxes = f.querySelectorAll('[data-testid="form-option"]');
      const label = f.querySelector('.field-label');
      return {
        id: Number(f.dataset.fieldId), kind: f.dataset.kind, required: f.dataset.required === 'true',
        label: label ? label.firstChild.textContent : '', tag: input ? input.tagName : '', value: input ? input.value : '',
        options: input && input.tagName === 'SELECT' ? input.options.length - 1 : boxes.length,
        maxAttr: input ? input.hasAttribute('maxlength') : false,
        invalid: (input || boxes[0] || f).getAttribute('aria-invalid') || '',
        count: txt(f, '[data-testid="form-count"]'),
        errors: Array.from(f.querySelectorAll('[data-testid="field-error"]'), (e) => ({
          source: e.dataset.source, code: e.dataset.code, message: txt(e, '[data-testid="field-error-message"]') })),
      };
    }),
  };
})()`

func (tb *tab) moves(t *testing.T) map[int]viewMove {
	t.Helper()
	list, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]viewMove](readMovesJS))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[int]viewMove, len(list))
	for _, m := range list {
		out[m.ID] = m
	}
	return out
}

func (tb *tab) form(t *testing.T) viewForm {
	t.Helper()
	f, err := chromedp.Run(tb.ctx, chromedp.Evaluate[viewForm](readFormJS))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f viewForm) field(id int) viewFormField {
	for _, ff := range f.Fields {
		if ff.ID == id {
			return ff
		}
	}
	return viewFormField{}
}

// stageButton selects the button that picks a stage.
func stageButton(id int) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`[data-testid="stage"][data-stage-id="%d"] [data-testid="stage-select"]`, id))
}

// formInput selects a field's input in the form panel.
func formInput(id int) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`[data-testid="form-field"][data-field-id="%d"] [data-testid="form-input"]`, id))
}

// fieldErrorJS is true when field id shows an error from source with code.
func fieldErrorJS(id int, source, code string) string {
	return fmt.Sprintf(`document.querySelector('[data-testid="form-field"][data-field-id="%d"] [data-testid="field-error"][data-source="%s"][data-code="%s"]') !== null`, id, source, code)
}

// noFieldErrorJS is true when field id shows no error at all.
func noFieldErrorJS(id int) string {
	return fmt.Sprintf(`document.querySelector('[data-testid="form-field"][data-field-id="%d"]') !== null &&
  document.querySelector('[data-testid="form-field"][data-field-id="%d"] [data-testid="field-error"]') === null`, id, id)
}

// TestExplorerMovesAndForm drives the rules front-ends share (moves,
// formSchema, validateOpportunity) through the page, with introspection off
// (the page must not need it): picking 需求确定 (2002) of 标准销售商机 (1001,
// allowSkip false) marks where an opportunity there may move and why not
// elsewhere; the form for that stage shows a too-long 决策人 (106, at most 20
// code points) as the page's own error while it is typed, then as the
// service's, and neither once the value fits.
func TestExplorerMovesAndForm(t *testing.T) {
	browser := newBrowser(t)
	base := startService(t, "INTROSPECTION=false")
	tb := openTab(t, browser)
	tb.do(t, chromedp.Navigate(base+"/explorer"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="stage"]`)))

	t.Run("kind badges before a pick", func(t *testing.T) {
		got := tb.moves(t)
		want := map[int]string{2001: "OPEN", 2011: "OPEN", 2013: "OPEN", 2002: "OPEN", 2003: "OPEN", 2031: "OPEN", 2004: "OPEN", 2005: "WON", 2006: "LOST"}
		for id, kind := range want {
			if m := got[id]; m.Kind != kind || m.KindText != kind {
				t.Errorf("stage %d kind badge = %q (%q), want %s", id, m.Kind, m.KindText, kind)
			}
		}
		for id, m := range got {
			if m.Move != "" || !m.Hidden || m.Pressed != "false" {
				t.Errorf("stage %d before a pick: %+v", id, m)
			}
		}
	})

	tb.do(t, chromedp.Click(stageButton(2002)))
	tb.waitFor(t, "the moves from 需求确定", `document.querySelector('[data-testid="moves-status"]').dataset.state === 'shown'`)

	t.Run("moves from 需求确定", func(t *testing.T) {
		got := tb.moves(t)
		if len(got) != 12 {
			t.Errorf("%d stage cards, want 12", len(got))
		}
		// Spelled out from the rules (README "Rules front-ends share"):
		// back (初步接洽 and its sub-stages) is allowed by allowGoBack, one
		// ahead (方案报价 and its sub-stages) always, two or more ahead refused
		// by allowSkip false, WON and LOST targets included.
		want := map[int]struct{ move, refusal string }{
			2001: {"allowed", ""}, 2011: {"allowed", ""}, 2012: {"allowed", ""}, 2013: {"allowed", ""}, 2014: {"allowed", ""},
			2002: {"from", "SAME_STAGE"},
			2003: {"allowed", ""}, 2031: {"allowed", ""}, 2032: {"allowed", ""},
			2004: {"refused", "SKIP_NOT_ALLOWED"}, 2005: {"refused", "SKIP_NOT_ALLOWED"}, 2006: {"refused", "SKIP_NOT_ALLOWED"},
		}
		for id, w := range want {
			m := got[id]
			if m.Move != w.move || m.Refusal != w.refusal || m.Hidden {
				t.Errorf("stage %d: move %q refusal %q hidden %v, want %q %q shown", id, m.Move, m.Refusal, m.Hidden, w.move, w.refusal)
			}
			if pressed := strconv.FormatBool(id == 2002); m.Pressed != pressed {
				t.Errorf("stage %d aria-pressed = %q, want %s", id, m.Pressed, pressed)
			}
		}
		if v := got[2004].Verdict; v != "✕ SKIP_NOT_ALLOWED — 此类型不允许跨阶段推进（allowSkip = false）" {
			t.Errorf("商务谈判's refusal reads %q", v)
		}
		if m := got[2003]; m.Verdict != "✓ 可推进到此阶段" || !slices.Equal(m.Required, []string{"预计成交金额", "预计成交日期", "意向产品"}) {
			t.Errorf("方案报价 = %+v, want allowed with its three required fields", m)
		}
		status, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="moves-status"]').textContent`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(status, "需求确定") || !strings.Contains(status, "可推进到 8 个阶段，3 个不允许") {
			t.Errorf("moves status = %q", status)
		}
		if hash, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`location.hash`)); hash != "#type=1001&stage=2002" {
			t.Errorf("location.hash = %q, want the pick in it", hash)
		}
	})

	tb.do(t, chromedp.Click(chromedp.CSS(`[data-testid="form-toggle"]`)), chromedp.WaitVisible(formInput(106)))

	t.Run("the form of 需求确定", func(t *testing.T) {
		f := tb.form(t)
		if f.Title != "标准销售商机 / 需求确定" || !strings.Contains(f.Target, "formSchema(stageId: 2002)") || f.State != "idle" {
			t.Errorf("form title %q, target %q, state %q", f.Title, f.Target, f.State)
		}
		var ids, required []int
		for _, ff := range f.Fields {
			ids = append(ids, ff.ID)
			if ff.Required {
				required = append(required, ff.ID)
			}
			if ff.MaxAttr {
				t.Errorf("field %d has a maxlength attribute: a user could not type too much and see why", ff.ID)
			}
			if len(ff.Errors) > 0 {
				t.Errorf("field %d shows errors before anything was typed: %+v", ff.ID, ff.Errors)
			}
		}
		if want := []int{101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112}; !slices.Equal(ids, want) {
			t.Errorf("fields %v, want %v", ids, want)
		}
		if want := []int{101, 102, 103, 104, 106, 107, 110}; !slices.Equal(required, want) {
			t.Errorf("required %v, want %v", required, want)
		}
		if ff := f.field(106); ff.Label != "决策人" || ff.Tag != "INPUT" || ff.Kind != "text" || ff.Count != "0/20" {
			t.Errorf("决策人 = %+v", ff)
		}
		if ff := f.field(104); ff.Tag != "SELECT" || ff.Kind != "select" || ff.Options != 5 {
			t.Errorf("商机来源 = %+v, want a select of 5 options", ff)
		}
		if ff := f.field(105); ff.Kind != "multi" || ff.Options != 4 {
			t.Errorf("意向产品 = %+v, want 4 checkboxes", ff)
		}
	})

	// 21 code points, typed key by key as a user would (CJK, each a key event
	// with its text).
	const tooLong = "诸葛亮司马懿曹孟德刘玄德孙仲谋关云长张翼德"
	tb.do(t, chromedp.SendKeys(formInput(106), tooLong))
	tb.waitFor(t, "the page's TOO_LONG on 决策人", fieldErrorJS(106, "client", "TOO_LONG"))

	t.Run("too long, as the page sees it", func(t *testing.T) {
		f := tb.form(t)
		ff := f.field(106)
		if ff.Value != tooLong || ff.Count != "21/20" || ff.Invalid != "true" {
			t.Errorf("决策人 = %+v", ff)
		}
		if len(ff.Errors) != 1 || ff.Errors[0].Message != "至多 20 个字符（Unicode 码点），已输入 21 个" {
			t.Errorf("决策人 errors = %+v", ff.Errors)
		}
		// Untouched required fields say nothing until the form is checked.
		for _, other := range f.Fields {
			if other.ID != 106 && len(other.Errors) > 0 {
				t.Errorf("field %d shows %+v", other.ID, other.Errors)
			}
		}
	})

	tb.do(t, chromedp.Click(chromedp.CSS(`[data-testid="form-check"]`)))
	tb.waitFor(t, "the service's TOO_LONG on 决策人", fieldErrorJS(106, "service", "TOO_LONG"))

	t.Run("too long, as the service says", func(t *testing.T) {
		f := tb.form(t)
		if f.State != "invalid" || !strings.Contains(f.Status, "7 个问题") {
			t.Errorf("status %q: %q, want invalid with 7 problems", f.State, f.Status)
		}
		ff := f.field(106)
		if len(ff.Errors) != 1 || ff.Errors[0].Message != "决策人 (field 106) allows at most 20 characters (Unicode code points); got 21" {
			t.Errorf("决策人 errors = %+v, want the service's one", ff.Errors)
		}
		// Every required field left blank, as the service says: the type's,
		// and the stage's, whose message names it.
		for _, id := range []int{101, 102, 103, 104, 107, 110} {
			if es := f.field(id).Errors; len(es) != 1 || es[0].Source != "service" || es[0].Code != "REQUIRED" {
				t.Errorf("field %d errors = %+v, want the service's REQUIRED", id, es)
			}
		}
		if es := f.field(110).Errors; len(es) == 1 && !strings.HasSuffix(es[0].Message, "is required to enter stage 需求确定") {
			t.Errorf("需求描述 = %q", es[0].Message)
		}
		if es := f.field(105).Errors; len(es) != 0 {
			t.Errorf("意向产品 (optional here) = %+v", es)
		}
	})

	// A valid value, in place of the other: 20 code points, one of them
	// outside the BMP (𠮷, two UTF-16 units), so a check by .length would
	// call it 21.
	const fits = "𠮷" + "诸葛亮司马懿曹孟德刘玄德孙仲谋关云长张"
	if utf8.RuneCountInString(tooLong) != 21 || utf8.RuneCountInString(fits) != 20 || len(utf16.Encode([]rune(fits))) != 21 {
		t.Fatal("the test's values are not 21 code points, and 20 code points in 21 UTF-16 units")
	}
	tb.do(t, chromedp.SendKeys(formInput(106), strings.Repeat("\b", len([]rune(tooLong)))+fits))
	tb.waitFor(t, "决策人 without the page's error", noFieldErrorJS(106)+
		` && document.querySelector('[data-testid="form-field"][data-field-id="106"] [data-testid="form-input"]').value === `+testkit.JSONString(fits))
	// The form asks the service again by itself once it has been asked.
	tb.waitFor(t, "the service's verdict on the new value",
		`document.querySelector('[data-testid="form-status"]').dataset.state === 'invalid' && `+noFieldErrorJS(106))

	t.Run("fits", func(t *testing.T) {
		f := tb.form(t)
		ff := f.field(106)
		if ff.Value != fits || ff.Count != "20/20" || ff.Invalid != "false" || len(ff.Errors) != 0 {
			t.Errorf("决策人 = %+v", ff)
		}
		if !strings.Contains(f.Status, "6 个问题") {
			t.Errorf("status = %q, want the 6 REQUIRED left", f.Status)
		}
	})

	t.Run("another stage: the form follows, the values stay", func(t *testing.T) {
		tb.do(t, chromedp.Click(stageButton(2003)))
		tb.waitFor(t, "the form of 方案报价", `document.querySelector('[data-testid="form-title"]')?.textContent === '标准销售商机 / 方案报价'`)
		tb.waitFor(t, "the service's verdict for 方案报价", fieldErrorJS(105, "service", "REQUIRED"))
		f := tb.form(t)
		if ff := f.field(106); ff.Value != fits || len(ff.Errors) != 0 {
			t.Errorf("决策人 = %+v, want its value kept, valid", ff)
		}
		if es := f.field(105).Errors; len(es) != 1 || !strings.HasSuffix(es[0].Message, "is required to enter stage 方案报价") {
			t.Errorf("意向产品 = %+v", es)
		}
		if m := tb.moves(t)[2005]; m.Move != "refused" || m.Refusal != "SKIP_NOT_ALLOWED" {
			t.Errorf("赢单 from 方案报价 = %+v, want refused (two ahead)", m)
		}
		if m := tb.moves(t)[2004]; m.Move != "allowed" {
			t.Errorf("商务谈判 from 方案报价 = %+v, want allowed (one ahead)", m)
		}
	})

	t.Run("nothing shows null or undefined", func(t *testing.T) {
		text, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.getElementById('app').textContent`))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, "null") || strings.Contains(text, "undefined") {
			t.Errorf("the page shows null or undefined: %.500s", text)
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

// answerChallenges lets every request of the tab go and answers each
// authentication challenge with user and password, as a person at the
// browser's prompt would; the function it returns lists the challenges so far.
func (tb *tab) answerChallenges(t *testing.T, user, password string) func() []fetch.AuthChallenge {
	t.Helper()
	var (
		mu      sync.Mutex
		prompts []fetch.AuthChallenge
	)
	paused := chromedp.Events(tb.ctx, fetch.RequestPaused)
	challenged := chromedp.Events(tb.ctx, fetch.AuthRequired)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(tb.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()
	go func() {
		for ev, err := range challenged {
			if err != nil {
				return
			}
			mu.Lock()
			prompts = append(prompts, *ev.AuthChallenge)
			mu.Unlock()
			_, _ = chromedp.Call(tb.ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: ev.RequestID,
				AuthChallengeResponse: &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: user, Password: password}})
		}
	}()
	handle := true
	if _, err := chromedp.Call(tb.ctx, fetch.Enable, fetch.EnableParams{HandleAuthRequests: &handle}); err != nil {
		t.Fatal(err)
	}
	return func() []fetch.AuthChallenge {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(prompts)
	}
}

// TestExplorerRulesWithCredential runs the service with AUTH_MODE=apikey:
// the browser gives the API key once, at the page's Basic challenge, and the
// page's moves, form and validation requests, and its live stream (SSE), carry
// it without asking again, because the page sends them as it sends its first
// (same-origin fetch).
func TestExplorerRulesWithCredential(t *testing.T) {
	browser := newBrowser(t)
	base := startService(t, "AUTH_MODE=apikey", "AUTH_API_KEYS=web:"+pageKey)
	tb := openTab(t, browser)
	prompts := tb.answerChallenges(t, "web", pageKey)

	// A deep link picks 需求确定 as the page loads.
	tb.do(t, chromedp.Navigate(base+"/explorer#type=1001&stage=2002"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="stage"]`)))
	tb.waitFor(t, "the moves from 需求确定", `document.querySelector('[data-testid="moves-status"]').dataset.state === 'shown'`)
	if m := tb.moves(t)[2004]; m.Refusal != "SKIP_NOT_ALLOWED" {
		t.Errorf("商务谈判 = %+v, want SKIP_NOT_ALLOWED", m)
	}
	tb.do(t, chromedp.Click(chromedp.CSS(`[data-testid="form-toggle"]`)), chromedp.WaitVisible(formInput(106)))
	tb.do(t, chromedp.SendKeys(formInput(106), "诸葛亮司马懿曹孟德刘玄德孙仲谋关云长张翼德"), chromedp.Click(chromedp.CSS(`[data-testid="form-check"]`)))
	tb.waitFor(t, "the service's TOO_LONG on 决策人", fieldErrorJS(106, "service", "TOO_LONG"))
	// The stream's first event came: the page shows the version it names.
	tb.waitFor(t, "the live stream's first event", `document.querySelector('[data-testid="live-state"]').dataset.state === 'live' &&
  !document.getElementById('version').hidden`)

	if p := prompts(); len(p) != 1 {
		t.Errorf("the browser was asked %d times, want once: %+v", len(p), p)
	}
	if p := tb.problems(); len(p) > 0 {
		t.Errorf("console:\n%s", strings.Join(p, "\n"))
	}
	if c := tb.cspViolations(t); len(c) > 0 {
		t.Errorf("CSP violations:\n%s", strings.Join(c, "\n"))
	}
}
