// Pipeline explorer: one GraphQL query draws every type's pipeline; picking
// a stage asks where an opportunity there may move, and the form panel
// renders the type's form schema, checks values as they are typed and asks
// the service for the final word. A subscription, held open over Server-Sent
// Events, redraws the page when the configuration changes. The DOM is built with
// createElement/textContent only (never innerHTML), so data cannot become
// markup, and nothing here needs 'unsafe-inline' or 'unsafe-eval'.
'use strict';

(function () {
  const app = document.getElementById('app');
  const endpoint = app.dataset.endpoint;
  const query = app.dataset.query;
  // The documents of the page's other operations (moves.graphql,
  // form.graphql, validate.graphql), carried like query.
  const movesQuery = app.dataset.movesQuery;
  const formQuery = app.dataset.formQuery;
  const validateQuery = app.dataset.validateQuery;
  // The subscription the page holds open (live.graphql): see liveLoop.
  const liveQuery = app.dataset.liveQuery;

  // Flag badges, in display order. defaultType is shown only when true.
  const FLAGS = [
    { key: 'allowSkip', label: '允许跨阶段', help: '是否允许跨阶段跳转' },
    { key: 'allowGoBack', label: '允许回退', help: '是否允许回退到之前的阶段' },
    { key: 'allowInvalidGoBack', label: '允许输单回退', help: '输单/无效阶段是否允许回退' },
    { key: 'allowDeleteOpportunity', label: '仅员工删除', help: '仅允许员工删除商机' },
  ];

  // Stage kinds (Stage.kind), as the service reads them.
  const KINDS = {
    OPEN: '进行中：商机仍在推进',
    WON: '赢单：商机以赢单关闭',
    LOST: '输单/无效：商机以输单关闭',
  };

  // Why a move is refused (MoveRefusal), in words, with the flag that
  // forbids it.
  const REFUSALS = {
    SAME_STAGE: '商机已在此阶段',
    SKIP_NOT_ALLOWED: '此类型不允许跨阶段推进（allowSkip = false）',
    GO_BACK_NOT_ALLOWED: '此类型不允许回退到之前的阶段（allowGoBack = false）',
    CLOSED_GO_BACK_NOT_ALLOWED: '此类型不允许从输单/无效阶段回退（allowInvalidGoBack = false）',
  };

  // AUTO_CHECK_MS is how long the form waits after the last keystroke before
  // it asks the service again (once the user has asked it once): long enough
  // not to send a request per key, short enough to feel live.
  const AUTO_CHECK_MS = 600;

  // LIVE_MAX_BACKOFF_MS caps the wait before a stream that ended or failed
  // is opened again: 1 s, 2 s, 4 s … 30 s, back to 1 s once one delivers.
  const LIVE_MAX_BACKOFF_MS = 30000;
  // LIVE_IDLE_MS: a stream that sends nothing, not even a keep-alive, for
  // this long is taken for dead (a laptop's sleep, a proxy that dropped it)
  // and opened again; five times the service's default STREAM_KEEPALIVE (15 s).
  const LIVE_IDLE_MS = 75000;
  // LIVE_HIDDEN_MS: a page hidden this long closes its stream, which holds a
  // slot of MAX_STREAMS_PER_CLIENT, and opens it again when shown.
  const LIVE_HIDDEN_MS = 30000;
  // SWAP_WAIT_MS bounds how long a redraw waits, off screen, for the picked
  // stage's moves and the open form before it is swapped in anyway.
  const SWAP_WAIT_MS = 5000;
  // REFRESH_TRIES: how often a redraw whose query fails is tried (with the
  // stream's backoff) before it waits for the next event.
  const REFRESH_TRIES = 5;

  // el builds an element: attrs are set as attributes (never "style"),
  // children are nodes or strings (strings become text nodes).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'testid') e.setAttribute('data-testid', v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c); // a string is appended as a text node
    }
    return e;
  }

  function show(...nodes) {
    app.replaceChildren(...nodes);
    app.setAttribute('aria-busy', 'false');
  }

  function showLoading() {
    app.setAttribute('aria-busy', 'true');
    app.replaceChildren(el('div', { class: 'state loading', testid: 'loading', role: 'status' }, '正在加载商机配置…'));
  }

  // errors: [{ message, code }]
  function errorBox(title, errors) {
    return el('div', { class: 'state error', testid: 'error', role: 'alert' },
      el('strong', { class: 'error-title' }, title),
      el('ul', { class: 'error-list' }, errors.map((e) => el('li', null,
        e.code ? el('code', { class: 'error-code', testid: 'error-code' }, e.code) : null,
        el('span', { class: 'error-message', testid: 'error-message' }, e.message || '未知错误')))),
      el('button', { type: 'button', class: 'retry', testid: 'retry' }, '重试'));
  }

  function showError(title, errors) {
    show(errorBox(title, errors));
  }

  // inlineError is errorBox for one part of the page: its retry button
  // calls retry rather than reloading everything.
  function inlineError(title, errors, retry) {
    const again = el('button', { type: 'button', class: 'retry', testid: 'inline-retry' }, '重试');
    again.addEventListener('click', retry);
    return el('div', { class: 'state error inline', testid: 'inline-error', role: 'alert' },
      el('strong', { class: 'error-title' }, title),
      el('ul', { class: 'error-list' }, errors.map((e) => el('li', null,
        e.code ? el('code', { class: 'error-code', testid: 'error-code' }, e.code) : null,
        el('span', { class: 'error-message', testid: 'error-message' }, e.message || '未知错误')))),
      again);
  }

  function gqlErrors(list) {
    return list.map((e) => ({
      message: String((e && e.message) || '未知错误'),
      code: e && e.extensions && e.extensions.code ? String(e.extensions.code) : '',
    }));
  }

  // RequestError is a request that brought no usable answer, with a title
  // and errors in the shape errorBox shows.
  class RequestError extends Error {
    constructor(title, errors) {
      super(title);
      this.title = title;
      this.errors = errors;
    }
  }

  // post sends one operation the way every request of the page goes: a
  // same-origin POST, so the credential the browser holds for this origin
  // (AUTH_MODE's Basic prompt, or a session cookie) goes along, and nothing
  // is learnt by introspection. It resolves to the answer once it is JSON.
  async function post(operationName, document, variables) {
    const payload = { query: document, operationName: operationName };
    if (variables) payload.variables = variables;
    let res;
    try {
      res = await fetch(endpoint, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(payload),
      });
    } catch (err) {
      throw new RequestError('无法连接 GraphQL 端点', [{ message: String(err && err.message ? err.message : err), code: 'NETWORK_ERROR' }]);
    }
    let body;
    try {
      body = await res.json();
    } catch (err) {
      throw new RequestError('GraphQL 端点的响应无法解析', [{ message: 'HTTP ' + res.status + ' ' + res.statusText + '：响应不是 JSON', code: 'BAD_RESPONSE' }]);
    }
    return {
      status: res.status,
      data: body && body.data ? body.data : null,
      errors: Array.isArray(body && body.errors) ? gqlErrors(body.errors) : [],
      extensions: (body && body.extensions) || null,
    };
  }

  // need returns what pick finds in an answer's data, or throws the
  // answer's errors under title (BAD_RESPONSE, naming what, when it has none).
  function need(answer, title, what, pick) {
    const v = answer.data ? pick(answer.data) : null;
    if (v !== null && v !== undefined) return v;
    const errors = answer.errors.length > 0 ? answer.errors
      : [{ message: 'HTTP ' + answer.status + '：响应中没有 ' + what, code: 'BAD_RESPONSE' }];
    throw new RequestError(title, errors);
  }

  // What the page shows: the configuration version its data is from (null
  // while unknown: a fresh POST answer does not name it, the live stream
  // does), whether that copy was stale, the answer drawn (as JSON, to tell a
  // redraw that would change nothing), and whether it drew data at all.
  const shown = { version: null, stale: false, key: null, ok: false };
  // The drawing on screen (build's result), and the sequence number of the
  // latest load or live refresh: an older one's answer is dropped.
  let active = null;
  let loadSeq = 0;
  let pageLoad = Promise.resolve(); // the load in flight, or the last one

  // fetchPage runs the page's first query: { types, errors, freshness } to
  // draw, or { failed: { title, errors } } to show as the page's error.
  async function fetchPage() {
    let answer;
    try {
      answer = await post('ExplorerPipelines', query);
    } catch (err) {
      if (!(err instanceof RequestError)) throw err;
      return { failed: { title: err.title, errors: err.errors } };
    }
    const errors = answer.errors;
    const types = answer.data && Array.isArray(answer.data.opportunityTypes) ? answer.data.opportunityTypes : null;
    if (!types) {
      if (errors.length === 0) errors.push({ message: 'HTTP ' + answer.status + '：响应中没有 data.opportunityTypes', code: 'BAD_RESPONSE' });
      return { failed: { title: '加载商机配置失败', errors: errors } };
    }
    return { types: types, errors: errors, freshness: (answer.extensions && answer.extensions.opportunityConfig) || null };
  }

  // load (re)draws the page from scratch: on arrival, and from the error
  // state's retry button.
  function load() {
    const mine = ++loadSeq;
    // What the stream named before the query left: the answer is from that
    // version or a later one, and a later one has an event of its own.
    const seen = live.latest;
    showLoading();
    pageLoad = fetchPage().then((page) => {
      if (mine !== loadSeq) return;
      if (page.failed) {
        showFailed(page.failed);
        return;
      }
      install(build(page, null), page, seen ? seen.version : null, false);
    });
    return pageLoad;
  }

  function showFailed(failed) {
    active = null;
    shown.ok = false;
    shown.key = null;
    showError(failed.title, failed.errors);
  }

  // pageKey is what a redraw compares: the data and errors drawn.
  function pageKey(page) {
    return JSON.stringify([page.types, page.errors]);
  }

  // install puts a drawing on screen and records what it shows. A redraw
  // (keepScroll) leaves the window scrolled where it was; a load leaves the
  // scrolling to the browser, which restores it on a reload.
  function install(built, page, version, keepScroll) {
    const x = window.scrollX;
    const y = window.scrollY;
    show(...built.nodes);
    if (keepScroll) window.scrollTo(x, y);
    active = built;
    shown.ok = true;
    shown.key = pageKey(page);
    setFreshness(page.freshness, version);
  }

  // setFreshness shows the version (when known) and, when the answer came
  // from a stale copy, says so above the tabs.
  function setFreshness(freshness, version) {
    shown.stale = Boolean(freshness && freshness.stale);
    shown.version = (freshness && freshness.version) || version || null;
    const v = document.getElementById('version');
    if (v && shown.version) {
      v.textContent = ' · 配置版本 ' + String(shown.version).slice(0, 8);
      v.hidden = false;
    }
    if (!active) return;
    active.staleSlot.replaceChildren(...(shown.stale
      ? [el('div', { class: 'state stale', testid: 'stale', role: 'status' },
        '上游暂不可用：显示的是 ' + Number(freshness.ageSeconds || 0) + ' 秒前缓存的配置。')]
      : []));
  }

  // Tabs with the default type first, then upstream order.
  function ordered(types) {
    return types.filter((t) => t.defaultType).concat(types.filter((t) => !t.defaultType));
  }

  function selectedFromHash(types) {
    const m = /(?:^#|&)type=(-?\d+)/.exec(location.hash);
    if (!m) return null;
    return types.find((t) => String(t.typeId) === m[1]) || null;
  }

  // stageFromHash is the picked stage's id in "#type=1001&stage=2002", or null.
  function stageFromHash() {
    const m = /(?:^#|&)stage=(-?\d+)/.exec(location.hash);
    return m ? Number(m[1]) : null;
  }

  // build draws a page off screen: the tabs, and the type the address names
  // (its picked stage too), with keep's form state when keep is that type's
  // (a live redraw). It returns the nodes; ready, settled once the picked
  // stage's moves and the open form have loaded; the form panel on screen
  // (form()); and onHash, which follows the address.
  function build(page, keep) {
    const types = ordered(page.types);
    const staleSlot = el('div', { class: 'stale-slot' });
    const nodes = [staleSlot];
    const built = { nodes: nodes, staleSlot: staleSlot, ready: Promise.resolve(), form: () => null, typeId: () => null, onHash: () => {} };
    if (page.errors.length > 0) nodes.push(errorBox('部分数据加载失败', page.errors));
    if (types.length === 0) {
      nodes.push(el('div', { class: 'state', testid: 'empty' }, '没有商机类型。'));
      return built;
    }

    const tablist = el('div', { class: 'tabs', role: 'tablist', 'aria-label': '商机类型' });
    const panel = el('section', { class: 'panel', role: 'tabpanel', id: 'type-panel' });
    const tabs = types.map((t) => {
      const tab = el('button', {
        type: 'button', role: 'tab', class: 'tab', testid: 'type-tab',
        'data-type-id': t.typeId, 'aria-controls': 'type-panel', id: 'tab-' + t.typeId,
      },
      el('span', { class: 'tab-name', testid: 'type-tab-name' }, t.typeName),
      t.defaultType ? el('span', { class: 'tab-default' }, '默认') : null);
      tab.addEventListener('click', () => select(t, true));
      return tab;
    });
    tablist.addEventListener('keydown', (ev) => {
      const i = tabs.indexOf(document.activeElement);
      if (i < 0) return;
      let j = -1;
      if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
      else if (ev.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
      else if (ev.key === 'Home') j = 0;
      else if (ev.key === 'End') j = tabs.length - 1;
      if (j < 0) return;
      ev.preventDefault();
      tabs[j].focus();
      select(types[j], true);
    });
    tablist.append(...tabs);

    let form = null;
    let typeId = null;
    function select(t, fromUser, saved) {
      tabs.forEach((tab, i) => {
        const on = types[i] === t;
        tab.setAttribute('aria-selected', on ? 'true' : 'false');
        tab.tabIndex = on ? 0 : -1;
      });
      panel.setAttribute('aria-labelledby', 'tab-' + t.typeId);
      const view = typeView(t, fromUser ? null : stageFromHash(), saved || null);
      panel.replaceChildren(...view.nodes);
      form = view.form;
      typeId = t.typeId;
      if (fromUser) history.replaceState(null, '', '#type=' + t.typeId);
      return view.ready;
    }

    nodes.push(tablist, panel);
    const first = selectedFromHash(types) || types[0];
    built.ready = select(first, false, keep && keep.typeId === first.typeId ? keep.form : null);
    built.form = () => form;
    built.typeId = () => typeId;
    built.onHash = () => {
      const t = selectedFromHash(types);
      if (t) select(t, false);
    };
    return built;
  }

  // One listener for the page's life, whatever drawing is on screen.
  window.addEventListener('hashchange', () => {
    if (active) active.onHash();
  });

  // typeView draws one type: its flags, its pipeline, where an opportunity
  // at a picked stage may move (pickedId, from the address, or a click), the
  // form panel (with saved's state, from the drawing it replaces) and the
  // fields table. It returns the nodes, the form panel, and ready, settled
  // once the picked stage's moves and the open form have loaded.
  function typeView(t, pickedId, saved) {
    const badges = el('ul', { class: 'badges', testid: 'badges' });
    if (t.defaultType) {
      badges.append(el('li', { class: 'badge default', testid: 'badge', 'data-flag': 'defaultType', 'data-value': 'true', title: '是否是默认类型 defaultType' }, '★ 默认类型'));
    }
    for (const f of FLAGS) {
      const on = Boolean(t[f.key]);
      badges.append(el('li', {
        class: 'badge ' + (on ? 'on' : 'off'), testid: 'badge', 'data-flag': f.key, 'data-value': String(on),
        title: f.help + ' ' + f.key + ' = ' + on,
      }, (on ? '✓ ' : '✕ ') + f.label));
    }
    badges.append(el('li', {
      class: 'badge days', testid: 'badge', 'data-flag': 'deleteOpportunityDate', 'data-value': String(t.deleteOpportunityDate),
      title: '允许删除天数 deleteOpportunityDate',
    }, '可删除天数 ' + t.deleteOpportunityDate));

    const stages = t.stages || [];
    const moves = movesView(t);
    const pipeline = el('ol', { class: 'pipeline', testid: 'pipeline' },
      stages.map((s, i) => el('li', { class: 'column' + (i < stages.length - 1 ? ' has-next' : '') }, stageView(s, [i + 1], 0, moves))));
    const form = formPanel(t, saved);
    moves.onPick = form.setStage;
    const picked = pickedId === null ? null : moves.stage(pickedId);
    // Picking loads the form for the stage; without a pick, the form loads
    // now if it is open (a redraw of an open form).
    const ready = picked ? moves.pick(picked) : form.start();

    // Filtered: replaceChildren, unlike el, would write null as text.
    const nodes = [
      el('div', { class: 'type-head' },
        el('h2', { testid: 'type-name' }, t.typeName),
        el('span', { class: 'type-id' }, 'typeId ' + t.typeId)),
      badges,
      el('h3', null, '销售阶段 ', el('span', { class: 'count' }, countStages(stages) + ' 个阶段')),
      stages.length ? moves.status : null,
      stages.length ? pipeline : el('p', { class: 'none' }, '没有阶段。'),
      el('h3', null, '商机表单 ', el('span', { class: 'count' }, 'formSchema · validateOpportunity')),
      form.node,
      el('h3', null, '商机字段 ', el('span', { class: 'count' }, (t.fields || []).length + ' 个字段')),
      fieldsTable(t.fields || []),
    ].filter(Boolean);
    return { nodes: nodes, form: form, ready: ready };
  }

  function countStages(stages) {
    return (stages || []).reduce((n, s) => n + 1 + countStages(s.children), 0);
  }

  // stageClass colours a card by the stage's kind, as the service reads it.
  function stageClass(s) {
    if (s.kind === 'WON') return ' won';
    if (s.kind === 'LOST') return ' lost';
    return '';
  }

  function kindBadge(kind) {
    const k = Object.hasOwn(KINDS, kind) ? kind : 'OPEN';
    return el('span', {
      class: 'kind kind-' + k.toLowerCase(), testid: 'stage-kind', 'data-kind': kind,
      title: '阶段类型 kind = ' + kind + '：' + (KINDS[kind] || '未知'),
    }, String(kind));
  }

  function stageView(s, number, depth, moves) {
    const pct = Math.max(0, Math.min(100, Number(s.possibility) || 0));
    const fill = el('span', { class: 'prob-fill' });
    fill.style.width = pct + '%'; // CSSOM, which CSP allows (a style attribute would not be)
    const required = s.requiredOppTypeFields || [];
    const days = (s.remindAfterDays || []).filter((d) => d !== '');
    const moveId = 'move-' + s.id;
    // The stage's number and name are the button that picks it: a
    // <button> may hold only phrasing content, so not the whole card.
    const select = el('button', {
      type: 'button', class: 'stage-select', testid: 'stage-select', 'aria-pressed': 'false',
      'aria-describedby': moveId, title: '点选：查看商机从此阶段可以推进到哪里',
    },
    el('span', { class: 'stage-no' }, number.join('.')),
    el('span', { class: 'stage-name', testid: 'stage-name' }, s.name));
    const move = el('div', { class: 'move', testid: 'stage-move', id: moveId, hidden: true });
    const card = el('div', {
      class: 'stage depth-' + Math.min(depth, 3) + stageClass(s), testid: 'stage',
      'data-stage-id': s.id, 'data-depth': depth, 'data-kind': s.kind,
    },
    el('div', { class: 'stage-head' },
      select,
      s.remind ? el('span', {
        class: 'remind', testid: 'stage-remind', title: '是否提醒 remind' + (days.length ? '；提醒天数 ' + days.join('、') : ''),
      }, '提醒' + (days.length ? ' ' + days.join('/') + ' 天' : '')) : null),
    el('div', { class: 'prob', title: '赢率 possibility' },
      kindBadge(s.kind),
      el('span', { class: 'prob-bar' }, fill),
      el('span', { class: 'prob-num', testid: 'stage-possibility' }, pct + '%')),
    s.requirement ? el('p', { class: 'req', title: s.requirement }, s.requirement) : null,
    required.length ? el('ul', { class: 'chips', testid: 'stage-required', 'aria-label': '商机必填字段' },
      el('li', { class: 'chips-label' }, '必填'),
      required.map((f) => el('li', { class: 'chip', testid: 'required-field', 'data-field-id': f.id }, f.name))) : null,
    move);
    select.addEventListener('click', () => moves.pick(s));
    // A click anywhere else on the card picks it too, for the mouse; the
    // keyboard and screen readers have the button.
    card.addEventListener('click', (ev) => {
      if (ev.target instanceof Element && !ev.target.closest('button')) select.click();
    });
    moves.add(s, card, select, move);

    const children = s.children || [];
    if (children.length === 0) return card;
    return el('div', { class: 'stage-tree' }, card,
      el('ol', { class: 'children', testid: 'stage-children' },
        children.map((c, i) => el('li', null, stageView(c, number.concat(i + 1), depth + 1, moves)))));
  }

  // movesView holds one type's stage cards and marks them with the moves
  // (OpportunityType.moves) of the picked stage: every other stage allowed,
  // with what must be filled to enter it, or refused, with the rule.
  function movesView(t) {
    const cards = new Map(); // stage id → { stage, card, select, move }
    const hint = () => el('span', { class: 'moves-hint' }, '点选一个阶段，查看商机从那里可以推进到哪些阶段、为何不能去其他阶段。');
    const status = el('div', { class: 'moves-status', testid: 'moves-status', 'data-state': 'idle', 'aria-live': 'polite' }, hint());
    let from = null; // the picked stage
    let seq = 0; // the latest moves request: an older answer is dropped

    const view = {
      status: status,
      onPick: () => {},
      add(s, card, select, move) {
        cards.set(s.id, { stage: s, card: card, select: select, move: move });
      },
      stage(id) {
        const c = cards.get(id);
        return c ? c.stage : null;
      },
      // pick makes s the stage an opportunity is at; picking it again
      // clears the choice. It returns a promise settled once the moves and
      // the form that follows the pick (onPick's promise) have loaded.
      pick(s) {
        from = s && from && from.id === s.id ? null : s;
        seq++;
        history.replaceState(null, '', '#type=' + t.typeId + (from ? '&stage=' + from.id : ''));
        for (const c of cards.values()) {
          c.select.setAttribute('aria-pressed', from && c.stage.id === from.id ? 'true' : 'false');
          unmark(c);
        }
        const formReady = view.onPick(from);
        if (!from) {
          status.dataset.state = 'idle';
          status.replaceChildren(hint());
          return Promise.resolve(formReady);
        }
        return Promise.all([formReady, load(from)]);
      },
    };

    async function load(s) {
      const mine = seq;
      status.dataset.state = 'loading';
      status.replaceChildren(el('span', { class: 'loading' }, '正在查询从「' + s.name + '」出发的推进规则…'));
      let list;
      try {
        const answer = await post('ExplorerMoves', movesQuery, { typeId: t.typeId, from: s.id });
        list = need(answer, '查询推进规则失败', 'data.opportunityType.moves',
          (d) => d.opportunityType && Array.isArray(d.opportunityType.moves) ? d.opportunityType.moves : null);
      } catch (err) {
        if (!(err instanceof RequestError)) throw err;
        if (mine !== seq) return;
        status.dataset.state = 'error';
        status.replaceChildren(inlineError(err.title, err.errors, () => load(s)));
        return;
      }
      if (mine !== seq) return;
      let allowed = 0;
      let refused = 0;
      for (const m of list) {
        const c = m && m.to ? cards.get(m.to.id) : undefined;
        if (!c) continue;
        mark(c, m, c.stage.id === s.id);
        if (c.stage.id === s.id) continue;
        if (m.allowed) allowed++;
        else refused++;
      }
      const clear = el('button', { type: 'button', class: 'link', testid: 'moves-clear' }, '取消选择');
      clear.addEventListener('click', () => view.pick(null));
      status.dataset.state = 'shown';
      status.replaceChildren(el('span', null,
        '商机在「', el('strong', { testid: 'moves-from' }, s.name), '」：',
        el('span', { class: 'move-ok' }, '可推进到 ' + allowed + ' 个阶段'), '，',
        el('span', { class: 'move-no' }, refused + ' 个不允许'), '。'), ' ', clear);
    }

    function unmark(c) {
      delete c.card.dataset.move;
      delete c.card.dataset.moveRefusal;
      c.move.hidden = true;
      c.move.replaceChildren();
    }

    // mark shows one move on its target's card: data-move is "from",
    // "allowed" or "refused", data-move-refusal the MoveRefusal.
    function mark(c, m, isFrom) {
      c.card.dataset.move = isFrom ? 'from' : m.allowed ? 'allowed' : 'refused';
      if (m.refusal) c.card.dataset.moveRefusal = String(m.refusal);
      c.move.hidden = false;
      if (isFrom) {
        c.move.replaceChildren(el('p', { class: 'move-verdict from', testid: 'move-verdict' },
          '● 商机所在阶段 ', el('code', { class: 'refusal', testid: 'move-refusal' }, String(m.refusal || 'SAME_STAGE'))));
        return;
      }
      if (!m.allowed) {
        c.move.replaceChildren(el('p', { class: 'move-verdict no', testid: 'move-verdict' },
          '✕ ', el('code', { class: 'refusal', testid: 'move-refusal' }, String(m.refusal)),
          ' — ', el('span', { testid: 'move-reason' }, REFUSALS[m.refusal] || '此类型的规则不允许')));
        return;
      }
      const req = m.requiredFields || [];
      const cust = m.customerFields || [];
      c.move.replaceChildren(...[
        el('p', { class: 'move-verdict ok', testid: 'move-verdict' }, '✓ 可推进到此阶段'),
        req.length ? el('ul', { class: 'chips', testid: 'move-required', 'aria-label': '进入此阶段需填的商机字段' },
          el('li', { class: 'chips-label' }, '进入需填'),
          req.map((f) => el('li', { class: 'chip need', testid: 'move-required-field', 'data-field-id': f.id }, f.name)))
          : el('p', { class: 'move-none' }, '进入无需填写商机字段'),
        cust.length ? el('ul', { class: 'chips', testid: 'move-customer', 'aria-label': '进入此阶段需填的客户字段' },
          el('li', { class: 'chips-label' }, '客户需填'),
          cust.map((f) => el('li', { class: 'chip cust', testid: 'move-customer-field', 'data-field-id': f.fieldId }, f.name)))
          : null,
      ].filter(Boolean)); // replaceChildren, unlike el, would write null as text
    }

    return view;
  }

  // formPanel renders the type's form schema (formSchema) for the picked
  // stage, or for saving when none is picked, as inputs; it checks the
  // values from the schema alone as they are typed, and sends them to
  // validateOpportunity, whose answer is the final word: while a field keeps
  // the value the service saw, the service's verdict is shown for it, and
  // when the value changes the page's own again, until the service answers
  // anew. saved, from state() of the panel a live redraw replaces, carries
  // the user's values, whether the form was open and whether the service
  // was asked (it is asked again, with the new configuration).
  function formPanel(t, saved) {
    const typeFields = t.fields || [];
    const fieldType = new Map(typeFields.map((f) => [String(f.id), f.type]));
    const id = (suffix) => 'form-' + t.typeId + '-' + suffix;
    let stage = null; // the stage to enter; null: to save
    let open = false;
    let schema = null; // compiled; null until loaded for stage
    let schemaSeq = 0;
    let checkSeq = 0;
    let checking = false;
    let asked = false; // once the user asked the service, edits ask again by themselves
    let timer = 0;
    let verdict = null; // the service's last answer, { valid, count, other }, or { error } when there was none
    const values = new Map(); // field key → string, or string[] for a multi-select; kept across schemas
    const touched = new Set(); // keys the user edited or left: REQUIRED shows for them
    let service = new Map(); // key → { sent: JSON of the value the service saw, error or null }
    let rows = new Map(); // key → { prop, errors, count, controls }
    let statusLine = null; // the drawn form's status line and its list of errors for no field
    let otherErrors = null;
    let loading = null; // the schema load in flight
    if (saved) {
      for (const [k, v] of saved.values) values.set(k, v);
      for (const k of saved.touched) touched.add(k);
      asked = saved.asked;
    }

    const toggle = el('button', {
      type: 'button', class: 'form-toggle', testid: 'form-toggle', 'aria-expanded': 'false', 'aria-controls': id('body'),
    }, '打开表单');
    const target = el('p', { class: 'form-target', testid: 'form-target' });
    const content = el('div', { class: 'form-content' });
    const body = el('div', { class: 'form-body', id: id('body'), testid: 'form-panel', hidden: true }, content);
    const node = el('section', { class: 'form-panel', 'aria-label': '商机表单' },
      el('div', { class: 'form-bar' }, toggle, target), body);
    showTarget();
    if (saved && saved.open) setOpen(true);

    toggle.addEventListener('click', () => {
      setOpen(!open);
      if (open && !schema) loadSchema();
    });

    function setOpen(on) {
      open = on;
      toggle.setAttribute('aria-expanded', String(open));
      toggle.textContent = open ? '收起表单' : '打开表单';
      body.hidden = !open;
    }

    // start loads the schema of an open form that has none (a redraw of an
    // open form with no stage picked); it returns the load's promise.
    function start() {
      return open && !schema ? (loading || loadSchema()) : Promise.resolve();
    }

    // state is what a redraw carries to the panel that replaces this one.
    function state() {
      return { open: open, asked: asked, values: [...values], touched: [...touched] };
    }

    function showTarget() {
      target.replaceChildren(stage
        ? el('span', null, '进入阶段「', el('strong', null, stage.name), '」所需 · ', el('code', null, 'formSchema(stageId: ' + stage.id + ')'))
        : el('span', null, '保存商机所需（未选阶段）· ', el('code', null, 'formSchema'), ' — 点选上方的阶段，表单即按进入该阶段的要求'));
    }

    // setStage follows the picked stage: a new schema, and the service's
    // verdict, which was for another stage, forgotten; the values stay.
    function setStage(s) {
      stage = s;
      schema = null;
      service = new Map();
      verdict = null;
      schemaSeq++;
      checkSeq++;
      checking = false;
      clearTimeout(timer);
      showTarget();
      return open ? loadSchema() : Promise.resolve();
    }

    function loadSchema() {
      const p = fetchSchema();
      loading = p;
      const done = () => {
        if (loading === p) loading = null;
      };
      p.then(done, done);
      return p;
    }

    async function fetchSchema() {
      const mine = ++schemaSeq;
      content.replaceChildren(el('div', { class: 'state loading', testid: 'form-loading', role: 'status' }, '正在加载表单…'));
      const vars = { typeId: t.typeId };
      if (stage) vars.stageId = stage.id;
      let raw;
      try {
        const answer = await post('ExplorerForm', formQuery, vars);
        raw = need(answer, '加载表单失败', 'data.opportunityType.formSchema',
          (d) => d.opportunityType && d.opportunityType.formSchema && typeof d.opportunityType.formSchema === 'object'
            ? d.opportunityType.formSchema : null);
      } catch (err) {
        if (!(err instanceof RequestError)) throw err;
        if (mine !== schemaSeq) return;
        content.replaceChildren(inlineError(err.title, err.errors, loadSchema));
        return;
      }
      if (mine !== schemaSeq) return;
      schema = compileSchema(raw, typeFields);
      draw();
      if (asked) await check();
    }

    function draw() {
      rows = new Map();
      statusLine = el('div', { class: 'form-status', testid: 'form-status', id: id('status'), 'aria-live': 'polite' });
      otherErrors = el('ul', { class: 'field-errors other', testid: 'form-other-errors' });
      const submit = el('button', { type: 'submit', class: 'form-check', testid: 'form-check' }, '请服务校验 · Check with the service');
      const form = el('form', { class: 'opp-form', testid: 'form', novalidate: true, 'aria-describedby': id('status') },
        el('div', { class: 'form-head' },
          el('strong', { class: 'form-title', testid: 'form-title' }, schema.title),
          el('span', { class: 'form-legend' }, el('span', { class: 'req-mark', 'aria-hidden': 'true' }, '*'), ' 必填 · 长度按 Unicode 码点计')),
        schema.props.length ? schema.props.map(row) : el('p', { class: 'none' }, '此类型没有字段。'),
        el('div', { class: 'form-actions' }, submit, statusLine),
        otherErrors);
      // The form never navigates (the page's CSP has form-action 'none'):
      // submitting it, by the button or Enter in a text input, asks the service.
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        check();
      });
      content.replaceChildren(form);
      for (const key of rows.keys()) refresh(key);
      showStatus();
    }

    // row draws one property: a text input (no maxlength attribute, so that
    // too long a value can be typed and shown as an error), a textarea for a
    // multi-line field, a select for oneOf, checkboxes for an array.
    function row(p) {
      const inputId = id('f' + p.key);
      const errors = el('ul', { class: 'field-errors', testid: 'field-errors', id: inputId + '-errors' });
      const hint = el('span', { class: 'field-hint', testid: 'field-hint', id: inputId + '-hint' }, limits(p));
      const count = p.kind === 'text' ? el('span', { class: 'field-count', testid: 'form-count', 'aria-hidden': 'true' }) : null;
      const described = inputId + '-hint ' + inputId + '-errors';
      const mark = p.required ? el('span', { class: 'req-mark', title: '必填' }, '*') : null;
      const saved = values.get(p.key);
      let controls;
      let field;
      if (p.kind === 'multi') {
        controls = p.options.map((o, i) => el('input', {
          type: 'checkbox', id: inputId + '-' + i, value: o.const, testid: 'form-option', 'data-option-id': o.const,
          'aria-describedby': described,
        }));
        controls.forEach((box) => { box.checked = Array.isArray(saved) && saved.includes(box.value); });
        field = el('fieldset', { class: 'form-field multi', testid: 'form-field', 'data-field-id': p.key, 'data-kind': p.kind, 'data-required': String(p.required) },
          el('legend', { class: 'field-label' }, p.title, mark, el('span', { class: 'field-id' }, '#' + p.key)),
          controls.length
            ? el('div', { class: 'options' }, controls.map((box, i) => el('label', { class: 'option', for: box.id }, box, ' ', p.options[i].title)))
            : el('p', { class: 'none' }, '没有可选项'),
          el('div', { class: 'field-foot' }, hint), errors);
      } else {
        let control;
        if (p.kind === 'select') {
          control = el('select', { id: inputId, name: p.key, testid: 'form-input', 'aria-describedby': described, 'aria-required': String(p.required), disabled: p.options.length === 0 },
            el('option', { value: '' }, p.options.length ? '— 请选择 —' : '— 没有可选项 —'),
            p.options.map((o) => el('option', { value: o.const }, o.title)));
        } else {
          const multiline = fieldType.get(p.key) === 2; // 多行文本
          control = el(multiline ? 'textarea' : 'input', {
            id: inputId, name: p.key, testid: 'form-input', 'aria-describedby': described, 'aria-required': String(p.required),
            type: multiline ? null : 'text', rows: multiline ? 3 : null, autocomplete: 'off', spellcheck: 'false',
          });
        }
        control.value = typeof saved === 'string' ? saved : '';
        controls = [control];
        field = el('div', { class: 'form-field', testid: 'form-field', 'data-field-id': p.key, 'data-kind': p.kind, 'data-required': String(p.required) },
          el('label', { class: 'field-label', for: inputId }, p.title, mark, el('span', { class: 'field-id' }, '#' + p.key)),
          control,
          el('div', { class: 'field-foot' }, hint, count), errors);
      }
      const changed = () => {
        values.set(p.key, read(p, controls));
        touched.add(p.key);
        refresh(p.key);
        showStatus();
        if (asked) {
          clearTimeout(timer);
          timer = setTimeout(check, AUTO_CHECK_MS);
        }
      };
      for (const c of controls) c.addEventListener(c.tagName === 'SELECT' || c.type === 'checkbox' ? 'change' : 'input', changed);
      field.addEventListener('focusout', (ev) => {
        if (ev.relatedTarget instanceof Node && field.contains(ev.relatedTarget)) return; // still inside (checkboxes)
        if (!touched.has(p.key)) {
          touched.add(p.key);
          refresh(p.key);
        }
      });
      rows.set(p.key, { prop: p, errors: errors, count: count, controls: controls });
      return field;
    }

    function read(p, controls) {
      if (p.kind === 'multi') return controls.filter((c) => c.checked).map((c) => c.value);
      return controls[0].value;
    }

    function current(key) {
      const r = rows.get(key);
      return r ? read(r.prop, r.controls) : values.get(key);
    }

    // refresh shows one field's errors: the service's verdict while the
    // field holds the value it saw, else the page's own check (REQUIRED
    // only once the field was touched or the form checked).
    function refresh(key) {
      const r = rows.get(key);
      if (!r) return;
      const v = current(key);
      if (r.count) {
        const n = [...v].length;
        r.count.textContent = r.prop.max !== null ? n + '/' + r.prop.max : String(n);
        r.count.classList.toggle('over', r.prop.max !== null && n > r.prop.max);
      }
      const seen = service.get(key);
      let shown = null;
      let source = 'client';
      if (seen && seen.sent === JSON.stringify(v)) {
        shown = seen.error;
        source = 'service';
      } else {
        shown = checkValue(r.prop, v);
        if (shown && shown.code === 'REQUIRED' && !touched.has(key) && !asked) shown = null;
      }
      r.errors.replaceChildren(...(shown ? [errorItem(shown, source)] : []));
      for (const c of r.controls) c.setAttribute('aria-invalid', shown ? 'true' : 'false');
    }

    function errorItem(e, source) {
      return el('li', { class: 'field-error ' + source, testid: 'field-error', 'data-source': source, 'data-code': e.code },
        el('span', { class: 'err-source' }, source === 'service' ? '服务端' : '本地'),
        el('code', { class: 'err-code', testid: 'field-error-code' }, e.code),
        el('span', { class: 'err-message', testid: 'field-error-message' }, e.message));
    }

    // showStatus says whether the service's verdict is current: data-state
    // is idle (never asked), checking, valid, invalid, stale (a value changed
    // since) or error.
    function showStatus() {
      if (!statusLine || !schema) return;
      let state = 'idle';
      let text = '随输入按表单 schema 在本地校验；点「请服务校验」以服务端 validateOpportunity 的结果为准。';
      if (checking) {
        state = 'checking';
        text = '正在请服务端校验…';
      } else if (verdict && verdict.error) {
        state = 'error';
        text = '';
      } else if (verdict) {
        const stale = schema.props.some((p) => {
          const seen = service.get(p.key);
          return !seen || seen.sent !== JSON.stringify(current(p.key));
        });
        if (stale) {
          state = 'stale';
          text = '已修改：服务端的结果已过期，稍后自动重新校验…';
        } else if (verdict.valid) {
          state = 'valid';
          text = '✓ 服务端校验通过（valid: true）';
        } else {
          state = 'invalid';
          text = '✕ 服务端校验未通过：' + verdict.count + ' 个问题（valid: false）';
        }
      }
      statusLine.dataset.state = state;
      statusLine.replaceChildren(state === 'error' ? inlineError(verdict.error.title, verdict.error.errors, check) : text);
      otherErrors.replaceChildren(...(verdict && verdict.other && state !== 'checking'
        ? verdict.other.map((e) => errorItem(e, 'service')) : []));
    }

    // check sends the form's filled values to validateOpportunity: a blank
    // input is not sent, as the service counts "" and [] not filled anyway.
    async function check() {
      clearTimeout(timer);
      if (!schema) return;
      asked = true;
      const mine = ++checkSeq;
      const forSchema = schema;
      const sent = new Map();
      const list = [];
      for (const p of schema.props) {
        const v = current(p.key);
        sent.set(p.key, JSON.stringify(v));
        if (p.kind === 'multi') {
          if (v.length > 0) list.push({ fieldId: p.id, values: v });
        } else if (v !== '') {
          list.push({ fieldId: p.id, value: v });
        }
      }
      const vars = { typeId: t.typeId, values: list };
      if (stage) vars.stageId = stage.id;
      checking = true;
      for (const key of rows.keys()) refresh(key);
      showStatus();
      let result;
      try {
        const answer = await post('ExplorerValidate', validateQuery, vars);
        result = need(answer, '服务端校验失败', 'data.validateOpportunity',
          (d) => d.validateOpportunity && Array.isArray(d.validateOpportunity.errors) ? d.validateOpportunity : null);
      } catch (err) {
        if (!(err instanceof RequestError)) throw err;
        if (mine !== checkSeq || schema !== forSchema) return;
        checking = false;
        service = new Map();
        verdict = { error: err };
        for (const key of rows.keys()) refresh(key);
        showStatus();
        return;
      }
      if (mine !== checkSeq || schema !== forSchema) return;
      checking = false;
      service = new Map();
      for (const p of schema.props) service.set(p.key, { sent: sent.get(p.key), error: null });
      const other = [];
      for (const e of result.errors) {
        const item = { code: String(e.code), message: String(e.message || '') };
        const seen = service.get(String(e.fieldId));
        if (seen && !seen.error) seen.error = item;
        else if (!seen) other.push(item); // the whole input (fieldId 0), or a field the form lacks
      }
      verdict = { valid: Boolean(result.valid), count: result.errors.length, other: other };
      for (const key of rows.keys()) refresh(key);
      showStatus();
    }

    return { node: node, setStage: setStage, start: start, state: state };
  }

  // compileSchema reads a form schema (formSchema) into what the form draws
  // and checks: properties in the type's field order (then any other, by
  // key), required ones marked, patterns compiled once.
  function compileSchema(raw, typeFields) {
    const props = raw.properties && typeof raw.properties === 'object' ? raw.properties : {};
    const keys = typeFields.map((f) => String(f.id)).filter((k) => Object.hasOwn(props, k));
    for (const k of Object.keys(props)) if (!keys.includes(k)) keys.push(k);
    const required = new Set(Array.isArray(raw.required) ? raw.required.map(String) : []);
    return {
      title: typeof raw.title === 'string' ? raw.title : '',
      props: keys.map((k) => compileProp(k, props[k] || {}, required.has(k))),
    };
  }

  function compileProp(key, p, required) {
    const c = {
      key: key, id: Number(key), required: required,
      title: typeof p.title === 'string' && p.title !== '' ? p.title : '#' + key,
      kind: 'text', max: null, min: null, patterns: [], options: [], maxItems: null, unique: false,
    };
    const count = (v) => (typeof v === 'number' && v >= 0 ? v : null);
    if (p.type === 'array') {
      c.kind = 'multi';
      c.options = options(p.items && p.items.oneOf);
      c.anyItem = !(p.items && Array.isArray(p.items.oneOf));
      c.maxItems = count(p.maxItems);
      c.unique = p.uniqueItems === true;
    } else if (Array.isArray(p.oneOf) || p.not) {
      c.kind = 'select'; // `not: {}` is a select without options: no value is valid
      c.options = options(p.oneOf);
    } else {
      c.max = count(p.maxLength);
      c.min = count(p.minLength);
      const sources = [p.pattern].concat(Array.isArray(p.allOf) ? p.allOf.map((s) => s && s.pattern) : []);
      c.patterns = sources.filter((s) => typeof s === 'string').map(compilePattern);
    }
    return c;
  }

  function options(list) {
    return (Array.isArray(list) ? list : [])
      .filter((o) => o && typeof o.const === 'string')
      .map((o) => ({ const: o.const, title: typeof o.title === 'string' ? o.title : o.const }));
  }

  // compilePattern compiles a schema pattern with the u flag, as JSON
  // Schema reads patterns over code points. The service's patterns are RE2;
  // one JavaScript cannot compile (RE2's (?i), \z) is left to the service.
  function compilePattern(source) {
    try {
      return { source: source, re: new RegExp(source, 'u') };
    } catch (err) {
      return { source: source, re: null };
    }
  }

  // limits describes a property's rules under its input.
  function limits(p) {
    const parts = [];
    if (p.kind === 'multi') {
      parts.push('多选');
      if (p.maxItems !== null) parts.push('至多 ' + p.maxItems + ' 项');
    } else if (p.kind === 'select') {
      parts.push('单选');
    } else {
      if (p.min !== null && p.max !== null) parts.push(p.min === p.max ? p.max + ' 个字符' : p.min + '–' + p.max + ' 个字符');
      else if (p.max !== null) parts.push('至多 ' + p.max + ' 个字符');
      else if (p.min !== null) parts.push('至少 ' + p.min + ' 个字符');
      for (const r of p.patterns) parts.push('格式 ' + r.source + (r.re ? '' : '（由服务端校验）'));
    }
    return parts.join(' · ');
  }

  // checkValue applies a property's schema to a value, as validateOpportunity
  // does, first failure wins: blank is REQUIRED when required and fine
  // otherwise; lengths in Unicode code points ([...v].length, not v.length,
  // which counts UTF-16 units: 𠮷 is one character), then the patterns;
  // options by their const.
  function checkValue(p, v) {
    if (p.kind === 'multi') {
      const list = Array.isArray(v) ? v : [];
      if (list.length === 0) return p.required ? { code: 'REQUIRED', message: '必填' } : null;
      if (p.maxItems !== null && list.length > p.maxItems) {
        return { code: 'TOO_MANY_VALUES', message: '至多选择 ' + p.maxItems + ' 项，已选 ' + list.length + ' 项' };
      }
      if (!p.anyItem && !list.every((x) => p.options.some((o) => o.const === x))) return { code: 'NOT_AN_OPTION', message: '有一项不是可选项' };
      if (p.unique && new Set(list).size !== list.length) return { code: 'TOO_MANY_VALUES', message: '有重复的选项' };
      return null;
    }
    const s = typeof v === 'string' ? v : '';
    if (s === '') return p.required ? { code: 'REQUIRED', message: '必填' } : null;
    if (p.kind === 'select') return p.options.some((o) => o.const === s) ? null : { code: 'NOT_AN_OPTION', message: '不是可选项' };
    const n = [...s].length;
    if (p.max !== null && n > p.max) return { code: 'TOO_LONG', message: '至多 ' + p.max + ' 个字符（Unicode 码点），已输入 ' + n + ' 个' };
    if (p.min !== null && n < p.min) return { code: 'TOO_SHORT', message: '至少 ' + p.min + ' 个字符（Unicode 码点），已输入 ' + n + ' 个' };
    for (const r of p.patterns) {
      if (r.re && !r.re.test(s)) return { code: 'PATTERN_MISMATCH', message: '格式应符合 ' + r.source };
    }
    return null;
  }

  function dash(v) {
    return v === null || v === undefined || v === '' ? el('span', { class: 'none' }, '—') : String(v);
  }

  function fieldsTable(fields) {
    if (fields.length === 0) return el('p', { class: 'none' }, '没有字段。');
    const head = ['ID', '名称', '类型', '必填', '选项', '最大字符', '最小字符', '校验规则'];
    return el('div', { class: 'table-wrap' }, el('table', { class: 'fields', testid: 'fields' },
      el('thead', null, el('tr', null, head.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', null, fields.map((f) => el('tr', { testid: 'field-row', 'data-field-id': f.id },
        el('td', { class: 'num' }, String(f.id)),
        el('td', { testid: 'field-name', class: 'fname' }, f.name),
        el('td', { testid: 'field-type' }, el('span', { class: 'code', title: '字段类型 type' }, String(f.type))),
        el('td', { testid: 'field-required' }, f.required ? el('span', { class: 'req-yes' }, '必填') : el('span', { class: 'none' }, '否')),
        el('td', { testid: 'field-options' }, (f.options || []).length
          ? el('ul', { class: 'chips' }, f.options.map((o) => el('li', { class: 'chip opt', testid: 'field-option', 'data-option-id': o.id }, o.name)))
          : dash(null)),
        el('td', { class: 'num', testid: 'field-max' }, dash(f.maxUnicode)),
        el('td', { class: 'num', testid: 'field-min' }, dash(f.minUnicode)),
        el('td', { testid: 'field-pattern' }, f.pattern === null || f.pattern === undefined ? dash(null) : el('code', { class: 'pattern' }, f.pattern)))))));
  }

  // Live configuration. The page holds the subscription ExplorerConfigChanges
  // open over GraphQL over Server-Sent Events (graphql-sse's distinct
  // connections mode: a POST with Accept: text/event-stream, sent as every
  // request of the page is, so AUTH_MODE's credential goes along). An event
  // naming another version than the one drawn (or another staleness, or
  // coming while the page shows an error) re-runs ExplorerPipelines; when the
  // answer differs, or a known version changed (the moves and forms may
  // have, not the pipelines), the page is drawn again off screen and swapped
  // in once the picked stage's moves and the open form have loaded, with the
  // user's type, stage, form values, focus and scroll kept.
  const liveBox = document.getElementById('live');
  const liveDot = el('span', { class: 'live-dot', testid: 'live-state', 'data-state': 'connecting' });
  const liveNote = el('time', { class: 'live-note', testid: 'live-updated', hidden: true });
  const liveStale = el('span', {
    class: 'live-stale', testid: 'live-stale', hidden: true,
    title: '上游暂不可用：服务端提供的是缓存的配置（stale），恢复后自动更新',
  }, 'stale');

  const LIVE_STATES = {
    connecting: '正在连接实时更新…',
    live: '实时更新：配置变更时自动刷新',
    retrying: '实时更新已断开，稍后重连',
    paused: '页面隐藏，实时更新已暂停',
  };

  let liveProblem = ''; // why the last stream ended or failed, for the dot's title

  function setLive(state, detail) {
    liveDot.dataset.state = state;
    liveDot.title = LIVE_STATES[state] + (detail ? '（' + detail + '）' : '');
  }

  // clock is a local time as hh:mm:ss.
  function clock(d) {
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  }

  function note(state, text) {
    const now = new Date();
    liveNote.dateTime = now.toISOString();
    liveNote.dataset.state = state;
    liveNote.textContent = text + ' ' + clock(now);
    liveNote.hidden = false;
    // Restart the highlight: removing the class and reading layout lets
    // adding it again start the animation anew.
    liveNote.classList.remove('flash');
    void liveNote.offsetWidth;
    liveNote.classList.add('flash');
  }

  const live = { latest: null, refreshing: false };

  // onChange takes one event: the header's stale mark follows it at once;
  // the page is checked against it (refreshLoop).
  function onChange(change) {
    live.latest = change;
    liveStale.hidden = !change.stale;
    if (!live.refreshing) refreshLoop();
  }

  // outdated tells an event the page does not reflect yet.
  function outdated(change) {
    return !shown.ok || change.version !== shown.version || change.stale !== shown.stale;
  }

  // refreshLoop brings the page to the latest event: once per event (an
  // answer that still disagrees with it, e.g. a stale flag the copy has
  // already lost again, waits for the next one), and a failed query again
  // after the stream's backoff, REFRESH_TRIES times.
  async function refreshLoop() {
    live.refreshing = true;
    try {
      let tried = null;
      let failures = 0;
      for (;;) {
        await pageLoad; // a load under way (on arrival, or a retry) first
        const change = live.latest;
        if (!change || change === tried || !outdated(change)) return;
        tried = change;
        if (await refresh(change) !== 'failed') {
          failures = 0;
          continue;
        }
        if (++failures >= REFRESH_TRIES) return;
        tried = null;
        await sleep(backoff(failures - 1));
      }
    } finally {
      live.refreshing = false;
    }
  }

  // refresh re-runs the page's query for change. An answer that matches the
  // drawing (the data, and the version when one was known) only updates the
  // version and stale notices; otherwise the page is drawn again and the
  // "updated" notice shows. It resolves to what it did: same, redrawn,
  // failed or superseded (a load, or a later refresh, took over).
  async function refresh(change) {
    const mine = ++loadSeq;
    const page = await fetchPage();
    if (mine !== loadSeq) return 'superseded';
    if (page.failed) {
      // A drawing stays; an error shown stays too (its retry button with it).
      if (shown.ok) note('failed', '更新失败 · update failed');
      return 'failed';
    }
    const known = shown.version !== null && change.version !== shown.version;
    if (shown.ok && !known && pageKey(page) === shown.key) {
      setFreshness(page.freshness, change.version);
      return 'same';
    }
    for (let attempt = 0; ; attempt++) {
      const keep = userState();
      const built = build(page, keep);
      await Promise.race([built.ready.catch(() => {}), sleep(SWAP_WAIT_MS)]);
      if (mine !== loadSeq) return 'superseded';
      // The user moved on while it loaded (another type, stage or value):
      // draw again from there, twice at most.
      if (attempt < 2 && userState().key !== keep.key) continue;
      const focus = focusOf();
      install(built, page, change.version, true);
      restoreFocus(focus);
      note('updated', '已更新 · updated');
      return 'redrawn';
    }
  }

  // userState is what a redraw keeps: the address (type and stage) and the
  // form panel's state.
  function userState() {
    const form = active ? active.form() : null;
    const f = form ? form.state() : null;
    return { typeId: active ? active.typeId() : null, form: f, key: JSON.stringify([location.hash, f]) };
  }

  // focusOf names the focused control of the drawing, so that a redraw can
  // focus its counterpart: by id (tabs, form inputs) or by stage and role.
  function focusOf() {
    const a = document.activeElement;
    if (!(a instanceof HTMLElement) || !app.contains(a)) return null;
    let selector = '';
    if (a.id) {
      selector = '#' + CSS.escape(a.id);
    } else if (a.dataset.testid) {
      const stage = a.closest('[data-testid="stage"]');
      selector = (stage ? '[data-testid="stage"][data-stage-id="' + CSS.escape(stage.dataset.stageId) + '"] ' : '') +
        '[data-testid="' + CSS.escape(a.dataset.testid) + '"]';
    }
    if (!selector) return null;
    const text = typeof a.selectionStart === 'number';
    return { selector: selector, start: text ? a.selectionStart : null, end: text ? a.selectionEnd : null };
  }

  function restoreFocus(f) {
    const e = f ? app.querySelector(f.selector) : null;
    if (!(e instanceof HTMLElement)) return;
    e.focus({ preventScroll: true });
    if (f.start !== null && typeof e.setSelectionRange === 'function') e.setSelectionRange(f.start, f.end);
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // backoff is the wait before attempt n+1 (n from 0): 1 s, 2 s, 4 s … 30 s.
  function backoff(n) {
    return Math.min(LIVE_MAX_BACKOFF_MS, 1000 * 2 ** Math.min(n, 15));
  }

  // nap is sleep that wake cuts short: the page shown again, the network back.
  const wakers = new Set();
  function nap(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      wakers.add(done);
    });
  }

  function wake() {
    for (const done of [...wakers]) done();
  }

  // sseEvents reads a text/event-stream body, as the HTML standard parses
  // one, reduced to what GraphQL over SSE sends (event and data fields;
  // comments, the keep-alives, are skipped), and yields { event, data } per
  // event. alive is called on every chunk, keep-alives included.
  async function* sseEvents(body, alive) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let event = '';
    let data = [];
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        alive();
        buffer += decoder.decode(value, { stream: true });
        // A CR that ends the buffer may be half of a CRLF: it waits for
        // the next chunk.
        const lines = buffer.split(/\r\n|\n|\r(?!$)/);
        buffer = lines.pop();
        for (const line of lines) {
          if (line === '') {
            if (data.length > 0 || event !== '') yield { event: event || 'message', data: data.join('\n') };
            event = '';
            data = [];
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let v = colon < 0 ? '' : line.slice(colon + 1);
          if (v.startsWith(' ')) v = v.slice(1);
          if (field === 'event') event = v;
          else if (field === 'data') data.push(v);
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  // readStream opens one stream and hands its events to onChange until it
  // ends; delivered is called on each. It resolves to the wait the service
  // asked for (Retry-After, in ms) when it refused the stream, else 0, and
  // rejects when the network fails or the stream is aborted.
  async function readStream(ctrl, delivered) {
    let idle = 0;
    const alive = () => {
      clearTimeout(idle);
      idle = setTimeout(() => ctrl.abort(), LIVE_IDLE_MS);
    };
    alive();
    try {
      const res = await fetch(endpoint, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
        body: JSON.stringify({ query: liveQuery, operationName: 'ExplorerConfigChanges' }),
        signal: ctrl.signal,
      });
      if (!res.ok || !res.body || !(res.headers.get('Content-Type') || '').startsWith('text/event-stream')) {
        liveProblem = 'HTTP ' + res.status;
        if (res.body) res.body.cancel().catch(() => {});
        const after = Number(res.headers.get('Retry-After'));
        return after > 0 ? Math.min(after, 300) * 1000 : 0;
      }
      setLive('live');
      liveProblem = '';
      for await (const ev of sseEvents(res.body, alive)) {
        if (ev.event === 'complete') break;
        if (ev.event !== 'next') continue;
        let msg = null;
        try {
          msg = JSON.parse(ev.data);
        } catch (err) {
          continue; // not JSON: not an event of this protocol
        }
        const c = msg && msg.data && msg.data.opportunityConfigChanged;
        if (c && typeof c.version === 'string') {
          delivered();
          onChange({ version: c.version, stale: c.stale === true });
        } else if (msg && Array.isArray(msg.errors)) {
          liveProblem = gqlErrors(msg.errors).map((e) => (e.code ? e.code + ' ' : '') + e.message).join('；');
        }
      }
      return 0;
    } finally {
      clearTimeout(idle);
    }
  }

  let stream = null; // the open stream's AbortController
  let paused = false; // hidden for LIVE_HIDDEN_MS: no stream until shown
  let hiddenTimer = 0;

  // liveLoop keeps a stream open for the page's life: when one ends or
  // fails it opens another after the backoff (back to 1 s once a stream has
  // delivered an event), and none while the page is paused.
  async function liveLoop() {
    let failures = 0;
    for (;;) {
      if (paused) {
        setLive('paused');
        while (paused) await nap(LIVE_MAX_BACKOFF_MS);
        failures = 0;
        liveProblem = '';
      }
      setLive(failures === 0 ? 'connecting' : 'retrying', liveProblem);
      const ctrl = new AbortController();
      stream = ctrl;
      let asked = 0;
      try {
        asked = await readStream(ctrl, () => {
          failures = 0;
        });
        if (!liveProblem) liveProblem = '连接已结束';
      } catch (err) {
        liveProblem = ctrl.signal.aborted ? '连接无响应' : String((err && err.message) || err);
      }
      stream = null;
      if (paused) continue;
      const wait = Math.max(asked, backoff(failures++));
      setLive('retrying', liveProblem);
      await nap(wait);
    }
  }

  document.addEventListener('visibilitychange', () => {
    clearTimeout(hiddenTimer);
    if (document.hidden) {
      hiddenTimer = setTimeout(() => {
        paused = true;
        if (stream) stream.abort();
      }, LIVE_HIDDEN_MS);
      return;
    }
    // Shown again: a paused page reconnects now, and its first event
    // tells whether the configuration changed meanwhile.
    paused = false;
    wake();
  });
  window.addEventListener('online', wake);

  app.addEventListener('click', (ev) => {
    if (ev.target instanceof Element && ev.target.closest('[data-testid="retry"]')) load();
  });

  load();
  // Without streaming fetch (an old browser), the page is drawn once, as
  // before live configuration.
  if (liveQuery && liveBox && typeof ReadableStream === 'function' && typeof TextDecoder === 'function' && typeof AbortController === 'function') {
    liveBox.replaceChildren(liveDot, liveNote, liveStale);
    liveBox.hidden = false;
    liveLoop();
  }
})();
