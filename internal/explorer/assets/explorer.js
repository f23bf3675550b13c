// Pipeline explorer: one GraphQL query, then the DOM built with
// createElement/textContent only (never innerHTML), so data cannot become
// markup, and nothing here needs 'unsafe-inline' or 'unsafe-eval'.
'use strict';

(function () {
  const app = document.getElementById('app');
  const endpoint = app.dataset.endpoint;
  const query = app.dataset.query;

  // Flag badges, in display order. defaultType is shown only when true.
  const FLAGS = [
    { key: 'allowSkip', label: '允许跨阶段', help: '是否允许跨阶段跳转' },
    { key: 'allowGoBack', label: '允许回退', help: '是否允许回退到之前的阶段' },
    { key: 'allowInvalidGoBack', label: '允许输单回退', help: '输单/无效阶段是否允许回退' },
    { key: 'allowDeleteOpportunity', label: '仅员工删除', help: '仅允许员工删除商机' },
  ];

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

  function gqlErrors(list) {
    return list.map((e) => ({
      message: String((e && e.message) || '未知错误'),
      code: e && e.extensions && e.extensions.code ? String(e.extensions.code) : '',
    }));
  }

  async function load() {
    showLoading();
    let res;
    try {
      res = await fetch(endpoint, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ query: query, operationName: 'ExplorerPipelines' }),
      });
    } catch (err) {
      showError('无法连接 GraphQL 端点', [{ message: String(err && err.message ? err.message : err), code: 'NETWORK_ERROR' }]);
      return;
    }
    let body;
    try {
      body = await res.json();
    } catch (err) {
      showError('GraphQL 端点的响应无法解析', [{ message: 'HTTP ' + res.status + ' ' + res.statusText + '：响应不是 JSON', code: 'BAD_RESPONSE' }]);
      return;
    }
    const errors = Array.isArray(body && body.errors) ? gqlErrors(body.errors) : [];
    const types = body && body.data && Array.isArray(body.data.opportunityTypes) ? body.data.opportunityTypes : null;
    if (!types) {
      if (errors.length === 0) errors.push({ message: 'HTTP ' + res.status + '：响应中没有 data.opportunityTypes', code: 'BAD_RESPONSE' });
      showError('加载商机配置失败', errors);
      return;
    }
    render(types, errors, (body.extensions && body.extensions.opportunityConfig) || null);
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

  function render(typesIn, errors, freshness) {
    const types = ordered(typesIn);
    const nodes = [];
    if (freshness && freshness.version) {
      const v = document.getElementById('version');
      if (v) {
        v.textContent = ' · 配置版本 ' + String(freshness.version).slice(0, 8);
        v.hidden = false;
      }
    }
    if (freshness && freshness.stale) {
      nodes.push(el('div', { class: 'state stale', testid: 'stale', role: 'status' },
        '上游暂不可用：显示的是 ' + Number(freshness.ageSeconds || 0) + ' 秒前缓存的配置。'));
    }
    if (errors.length > 0) nodes.push(errorBox('部分数据加载失败', errors));
    if (types.length === 0) {
      nodes.push(el('div', { class: 'state', testid: 'empty' }, '没有商机类型。'));
      show(...nodes);
      return;
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

    function select(t, fromUser) {
      tabs.forEach((tab, i) => {
        const on = types[i] === t;
        tab.setAttribute('aria-selected', on ? 'true' : 'false');
        tab.tabIndex = on ? 0 : -1;
      });
      panel.setAttribute('aria-labelledby', 'tab-' + t.typeId);
      panel.replaceChildren(...typeView(t));
      if (fromUser) history.replaceState(null, '', '#type=' + t.typeId);
    }

    nodes.push(tablist, panel);
    show(...nodes);
    select(selectedFromHash(types) || types[0], false);
    window.addEventListener('hashchange', () => {
      const t = selectedFromHash(types);
      if (t) select(t, false);
    });
  }

  function typeView(t) {
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
    const pipeline = el('ol', { class: 'pipeline', testid: 'pipeline' },
      stages.map((s, i) => el('li', { class: 'column' + (i < stages.length - 1 ? ' has-next' : '') }, stageView(s, [i + 1], 0))));

    return [
      el('div', { class: 'type-head' },
        el('h2', { testid: 'type-name' }, t.typeName),
        el('span', { class: 'type-id' }, 'typeId ' + t.typeId)),
      badges,
      el('h3', null, '销售阶段 ', el('span', { class: 'count' }, countStages(stages) + ' 个阶段')),
      stages.length ? pipeline : el('p', { class: 'none' }, '没有阶段。'),
      el('h3', null, '商机字段 ', el('span', { class: 'count' }, (t.fields || []).length + ' 个字段')),
      fieldsTable(t.fields || []),
    ];
  }

  function countStages(stages) {
    return (stages || []).reduce((n, s) => n + 1 + countStages(s.children), 0);
  }

  function stageClass(s) {
    if (s.possibility >= 100) return ' won';
    if (s.possibility <= 0) return ' lost';
    return '';
  }

  function stageView(s, number, depth) {
    const pct = Math.max(0, Math.min(100, Number(s.possibility) || 0));
    const fill = el('span', { class: 'prob-fill' });
    fill.style.width = pct + '%'; // CSSOM, which CSP allows (a style attribute would not be)
    const required = s.requiredOppTypeFields || [];
    const days = (s.remindAfterDays || []).filter((d) => d !== '');
    const card = el('div', {
      class: 'stage depth-' + Math.min(depth, 3) + stageClass(s), testid: 'stage',
      'data-stage-id': s.id, 'data-depth': depth,
    },
    el('div', { class: 'stage-head' },
      el('span', { class: 'stage-no' }, number.join('.')),
      el('span', { class: 'stage-name', testid: 'stage-name' }, s.name),
      s.remind ? el('span', {
        class: 'remind', testid: 'stage-remind', title: '是否提醒 remind' + (days.length ? '；提醒天数 ' + days.join('、') : ''),
      }, '提醒' + (days.length ? ' ' + days.join('/') + ' 天' : '')) : null),
    el('div', { class: 'prob', title: '赢率 possibility' },
      el('span', { class: 'prob-bar' }, fill),
      el('span', { class: 'prob-num', testid: 'stage-possibility' }, pct + '%')),
    s.requirement ? el('p', { class: 'req', title: s.requirement }, s.requirement) : null,
    required.length ? el('ul', { class: 'chips', testid: 'stage-required', 'aria-label': '商机必填字段' },
      el('li', { class: 'chips-label' }, '必填'),
      required.map((f) => el('li', { class: 'chip', testid: 'required-field', 'data-field-id': f.id }, f.name))) : null);

    const children = s.children || [];
    if (children.length === 0) return card;
    return el('div', { class: 'stage-tree' }, card,
      el('ol', { class: 'children', testid: 'stage-children' },
        children.map((c, i) => el('li', null, stageView(c, number.concat(i + 1), depth + 1)))));
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

  app.addEventListener('click', (ev) => {
    if (ev.target instanceof Element && ev.target.closest('[data-testid="retry"]')) load();
  });

  load();
})();
