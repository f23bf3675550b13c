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
	"testing"
	"time"

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
// page shows the GraphQL error's message and code, and after a retry the
// (hostile) data as text.
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

	tb.do(t, chromedp.Click(chromedp.CSS(`[data-testid="retry"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="stage"]`)))
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
