// onebook staff dashboard: plain JavaScript, no build step.
//
// Every figure comes from the HTTP API with the staff member's session
// token (kept in sessionStorage, sent in the Authorization header). The
// page shows what the API returns and nothing else: counts and aggregates,
// no personal data.
//
// Each chart's container gets data-state ("loading", "drawn", "empty",
// "error") and, once drawn, data-drawn with the number of data points drawn,
// so that a browser test can tell a chart with data from an empty one.
'use strict';

(function () {
  // The API is where the page is, less its /dashboard: the root for a
  // single ledger, /p/31 for province 31's cell of a deployment with a
  // ledger per province (or a reverse proxy's prefix). Every call goes
  // there, so that the page works wherever the API is mounted.
  const BASE = location.pathname.replace(/\/dashboard\/?$/, '');
  // The province of the cell the page is served by ('' for a single ledger).
  const CELL = (/\/p\/(\d{2})$/.exec(BASE) || [])[1] || '';
  // A session belongs to one cell: keep it apart from another cell's page
  // on the same origin.
  const SESSION_KEY = 'onebook.dashboard.session' + (CELL ? '.p' + CELL : '');
  // The demo district's communities (go run ./backend --demo): district
  // 0105 of the province's first city, 110105 for a single ledger.
  const DEMO_DISTRICT = (CELL || '11') + '0105';
  const DEMO_COMMUNITIES = ['001001', '001002', '002001'].map((c) => DEMO_DISTRICT + c);
  const MAX_DAYS = 92; // the longest range GET /regions/{city}/flows answers
  // GB/T 2260 names of Beijing's districts, to label codes.
  const PLACES = {
    '11': '北京市', '1101': '北京市', '110101': '东城区', '110102': '西城区', '110105': '朝阳区',
    '110106': '丰台区', '110107': '石景山区', '110108': '海淀区', '110109': '门头沟区',
    '110111': '房山区', '110112': '通州区', '110113': '顺义区', '110114': '昌平区',
    '110115': '大兴区', '110116': '怀柔区', '110117': '平谷区', '110118': '密云区', '110119': '延庆区',
  };
  const ALERT_COLOR = '#b42318';

  const $ = (id) => document.getElementById(id);
  const charts = {};
  let session = null;
  let generation = 0; // a refresh drops the answers of the one before

  // ---- session ----

  function loadSession() {
    try {
      const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
      if (s && s.token && new Date(s.expires_at) > new Date()) {
        return s;
      }
    } catch (e) { /* unreadable: sign in again */ }
    sessionStorage.removeItem(SESSION_KEY);
    return null;
  }

  function saveSession(s) {
    session = { token: s.token, expires_at: s.expires_at, role: s.role, scope: s.scope || '', subject: s.subject };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  }

  function signOut(message) {
    session = null;
    sessionStorage.removeItem(SESSION_KEY);
    generation++;
    for (const id of Object.keys(charts)) {
      charts[id].dispose();
      delete charts[id];
    }
    showSignIn(message || '');
  }

  // ---- HTTP ----

  class APIError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, opts) {
    opts = opts || {};
    const headers = {};
    if (session && !opts.anonymous) {
      headers.Authorization = 'Bearer ' + session.token;
    }
    let body;
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const resp = await fetch(BASE + path, { method: opts.method || 'GET', headers: headers, body: body, cache: 'no-store', credentials: 'omit' });
    if (!resp.ok) {
      let message = resp.status + ' ' + resp.statusText;
      try {
        const b = await resp.json();
        if (b && b.error && b.error.message) {
          message = b.error.message;
        }
      } catch (e) { /* not JSON */ }
      if (resp.status === 401 && session && !opts.anonymous) {
        signOut('Your session has ended: sign in again.');
      }
      throw new APIError(resp.status, message);
    }
    if (opts.raw) {
      return resp;
    }
    const ct = resp.headers.get('Content-Type') || '';
    return ct.includes('json') ? resp.json() : resp.text();
  }

  // pool runs fn over items, at most limit at a time, keeping their order.
  async function pool(items, limit, fn) {
    const out = new Array(items.length);
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const k = next++;
        out[k] = await fn(items[k], k);
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return out;
  }

  // ---- dates (China Standard Time days, as the API counts them) ----

  function cstToday() {
    return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
  }

  function addDays(day, n) {
    const t = new Date(day + 'T00:00:00Z');
    t.setUTCDate(t.getUTCDate() + n);
    return t.toISOString().slice(0, 10);
  }

  function daysBetween(from, to) {
    const out = [];
    for (let d = from; d <= to && out.length <= MAX_DAYS; d = addDays(d, 1)) {
      out.push(d);
    }
    return out;
  }

  function place(code) {
    return PLACES[code] ? code + ' ' + PLACES[code] : code;
  }

  // ---- drawing ----

  function chartOf(id) {
    if (!charts[id]) {
      charts[id] = echarts.init($(id), null, { renderer: 'canvas' });
    }
    return charts[id];
  }

  function setNote(name, text, isError) {
    const n = $('note-' + name);
    n.textContent = text || '';
    n.classList.toggle('error', !!isError);
  }

  function loading(id) {
    const el = $(id);
    el.dataset.state = 'loading';
    delete el.dataset.drawn;
  }

  // draw sets the chart's option and records how many data points it drew.
  function draw(id, option, points) {
    const el = $(id);
    if (points === 0 && !option.graphic) {
      option.graphic = [{ type: 'text', left: 'center', top: 'middle', style: { text: 'no data in this period', fill: '#5f6b7a', fontSize: 13 } }];
    }
    chartOf(id).setOption(option, true);
    el.dataset.drawn = String(points);
    el.dataset.state = points > 0 ? 'drawn' : 'empty';
  }

  function failed(id, name, err) {
    const el = $(id);
    el.dataset.state = 'error';
    delete el.dataset.drawn;
    if (charts[id]) {
      charts[id].clear();
    }
    setNote(name, err.message || String(err), true);
  }

  const axisDay = { formatter: (d) => d.slice(5) };
  const baseGrid = { left: 52, right: 24, top: 40, bottom: 30, containLabel: false };

  // (a) entries per day by community.
  async function drawEntries(f, gen) {
    const id = 'chart-entries';
    loading(id);
    if (f.communities.length === 0) {
      throw new Error('no community given: type 12-digit community codes above');
    }
    const days = daysBetween(f.from, f.to);
    const jobs = [];
    for (const c of f.communities) {
      for (const d of days) {
        jobs.push([c, d]);
      }
    }
    const answers = await pool(jobs, 6, ([c, d]) => api('/communities/' + encodeURIComponent(c) + '/daily?date=' + d));
    if (gen !== generation) {
      return;
    }
    const byCommunity = {};
    jobs.forEach(([c, d], k) => {
      (byCommunity[c] = byCommunity[c] || {})[d] = answers[k].entries || 0;
    });
    let points = 0;
    let total = 0;
    const series = f.communities.map((c) => ({
      name: c,
      type: 'bar',
      stack: 'entries',
      emphasis: { focus: 'series' },
      data: days.map((d) => {
        const v = byCommunity[c][d] || 0;
        if (v > 0) {
          points++;
          total += v;
        }
        return v;
      }),
    }));
    draw(id, {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 0, type: 'scroll' },
      grid: baseGrid,
      xAxis: { type: 'category', data: days, axisLabel: axisDay },
      yAxis: { type: 'value', name: 'entries', minInterval: 1 },
      series: series,
    }, points);
    setNote('entries', points > 0 ? total + ' allowed entries in ' + f.communities.length + ' communities over ' + days.length + ' days'
      : 'no entries recorded in this period');
  }

  // (b) flows between districts, as a sankey from origin to destination.
  async function drawFlows(f, gen) {
    const id = 'chart-flows';
    loading(id);
    if (!/^\d{4}$/.test(f.city)) {
      throw new Error('city must be a 4-digit region code');
    }
    const r = await api('/regions/' + f.city + '/flows?from=' + f.from + '&to=' + f.to);
    if (gen !== generation) {
      return;
    }
    const moves = {};
    let partial = false;
    for (const row of r.flows || []) {
      const k = row.from + '>' + row.to;
      moves[k] = (moves[k] || 0) + row.moves;
      partial = partial || row.partial;
    }
    const nodes = new Set();
    const links = [];
    for (const [k, v] of Object.entries(moves)) {
      const [from, to] = k.split('>');
      const source = place(from) + ' ▸';
      const target = '▸ ' + place(to);
      nodes.add(source);
      nodes.add(target);
      links.push({ source: source, target: target, value: v });
    }
    draw(id, {
      tooltip: { trigger: 'item' },
      series: [{
        type: 'sankey',
        left: 10, right: 110, top: 16, bottom: 16,
        nodeAlign: 'justify',
        emphasis: { focus: 'adjacency' },
        data: Array.from(nodes).map((name) => ({ name: name })),
        links: links,
        lineStyle: { color: 'gradient', curveness: 0.5, opacity: 0.45 },
        label: { fontSize: 12 },
      }],
      graphic: links.length ? [] : [{ type: 'text', left: 'center', top: 'middle', style: { text: 'no moves between districts in this period', fill: '#5f6b7a' } }],
    }, links.length);
    const sum = links.reduce((a, l) => a + l.value, 0);
    setNote('flows', links.length ? sum + ' moves between districts of ' + place(f.city) + ' (people whose next allowed scan the same day was in another district)' +
      (partial ? '; some days are lower bounds' : '') : 'no moves between districts of ' + place(f.city) + ' in this period');
  }

  // (c) cases per symptom group per day, with alert markers.
  async function drawCases(f, gen) {
    const id = 'chart-cases';
    loading(id);
    const [counts, alerts] = await Promise.all([
      api('/cases/counts?region=' + encodeURIComponent(f.region) + '&from=' + f.from + '&to=' + f.to),
      api('/alerts?region=' + encodeURIComponent(f.region)),
    ]);
    if (gen !== generation) {
      return;
    }
    const days = daysBetween(f.from, f.to);
    const byDay = {};
    const groups = new Set();
    for (const d of counts.days || []) {
      byDay[d.day] = d;
      Object.keys(d.groups || {}).forEach((g) => groups.add(g));
    }
    const inRange = (alerts.alerts || []).filter((a) => a.raised && a.raised.day >= f.from && a.raised.day <= f.to);
    // One pin per series and day, labelled with the number of alerts; the
    // note below lists them.
    const marks = {}; // series name → day → markPoint datum
    const TOTAL = 'all cards';
    for (const a of inRange) {
      const r = a.raised;
      const name = r.target === 'group' && groups.has(r.code) ? r.code : TOTAL;
      const day = byDay[r.day] || {};
      const y = name === TOTAL ? (day.total || 0) : ((day.groups || {})[r.code] || 0);
      const perDay = (marks[name] = marks[name] || {});
      const m = perDay[r.day] || (perDay[r.day] = { name: '', coord: [r.day, y], value: 0, itemStyle: { color: ALERT_COLOR } });
      m.value++;
      m.name += (m.name ? ', ' : '') + r.method + ' ' + r.code;
    }
    let points = 0;
    const line = (name, values, extra) => Object.assign({
      name: name,
      type: 'line',
      smooth: false,
      showSymbol: true,
      symbolSize: 5,
      data: values,
      markPoint: marks[name] ? { symbol: 'pin', symbolSize: 40, label: { fontSize: 11, color: '#fff' }, data: Object.values(marks[name]) } : undefined,
    }, extra || {});
    const series = Array.from(groups).sort().map((g) => line(g, days.map((d) => {
      const v = ((byDay[d] || {}).groups || {})[g] || 0;
      if (v > 0) {
        points++;
      }
      return v;
    })));
    series.push(line(TOTAL, days.map((d) => (byDay[d] || {}).total || 0), { lineStyle: { type: 'dashed', width: 1 }, itemStyle: { color: '#98a2b3' } }));
    draw(id, {
      tooltip: { trigger: 'axis' },
      legend: { top: 0, type: 'scroll' },
      grid: baseGrid,
      xAxis: { type: 'category', data: days, axisLabel: axisDay },
      yAxis: { type: 'value', name: 'cards', minInterval: 1 },
      series: series,
    }, points);
    const open = inRange.filter((a) => a.status !== 'closed').length;
    const listed = inRange.slice().sort((a, b) => a.raised.day.localeCompare(b.raised.day))
      .map((a) => a.raised.day.slice(5) + ' ' + a.raised.method + ' ' + a.raised.code + ' (' + a.raised.region + ', ' + a.status + ')');
    setNote('cases', 'region ' + place(f.region) + ': ' + (counts.days || []).reduce((a, d) => a + (d.total || 0), 0) + ' cards; ' +
      inRange.length + ' alerts in the period, ' + open + ' open' + (listed.length ? ' — pins count them per day: ' + listed.join('; ') : ''));
  }

  // (d) material stock and consumption of the organisations of the region:
  // those with open needs (GET /public/needs names them) and, for staff who
  // supervise donations, every organisation a donation passed through.
  async function drawStock(f, gen) {
    const id = 'chart-stock';
    loading(id);
    const region = f.region && f.region !== 'CN' ? '?region=' + encodeURIComponent(f.region) : '';
    const needs = await api('/public/needs' + region, { anonymous: true });
    const names = new Map(Object.entries(needs.orgs || {}));
    let donations = [];
    try {
      donations = (await api('/supervision/donations' + region)).donations || [];
      for (const d of donations) {
        for (const h of d.hops || []) {
          if (h.from && h.from.kind === 'org' && !names.has(h.from.id)) {
            names.set(h.from.id, h.from.name || h.from.id);
          }
          if (h.to && h.to.org && !names.has(h.to.org)) {
            names.set(h.to.org, h.to.org);
          }
        }
      }
    } catch (e) {
      if (e.status !== 403) {
        throw e;
      }
    }
    // Hops name receivers by id only; the public trace of a donation names
    // every organisation it mentions.
    const unnamed = (d) => (d.hops || []).some((h) => h.to && names.get(h.to.org) === h.to.org);
    await pool(donations.filter(unnamed).slice(0, 10), 3, async (d) => {
      try {
        const tr = await api('/public/donations/' + encodeURIComponent(d.id), { anonymous: true });
        for (const [org, name] of Object.entries(tr.orgs || {})) {
          if (names.get(org) === org && name) {
            names.set(org, name);
          }
        }
      } catch (e) { /* the id stays the label */ }
    });
    const orgs = Array.from(names.entries()).sort((a, b) => a[1].localeCompare(b[1]));
    if (orgs.length === 0) {
      throw new Error('no organisation with a need or a donation in ' + place(f.region));
    }
    let refused = 0;
    const stocks = await pool(orgs, 4, async ([org]) => {
      try {
        return (await api('/orgs/' + encodeURIComponent(org) + '/stock')).stock || [];
      } catch (e) {
        if (e.status === 403 || e.status === 404) {
          refused++;
          return [];
        }
        throw e;
      }
    });
    if (gen !== generation) {
      return;
    }
    const days = daysBetween(f.from, f.to);
    const series = [];
    let points = 0;
    orgs.forEach(([org, name], k) => {
      for (const s of stocks[k]) {
        const label = name + ' · ' + s.item + (s.spec ? ' ' + s.spec : '');
        const daily = s.daily || {};
        // On hand at the end of each day: today's stock plus what was
        // consumed after that day (the stock answer does not date receipts,
        // so a receipt after a day is counted as if it were there already).
        const later = (d) => Object.entries(daily).filter(([x]) => x > d).reduce((a, [, v]) => a + v, 0);
        const used = days.map((d) => daily[d] || 0);
        const onHand = days.map((d) => s.on_hand + later(d));
        used.forEach((v) => { if (v > 0) points++; });
        onHand.forEach((v) => { if (v > 0) points++; });
        series.push({ name: label + ' consumed', type: 'bar', stack: 'consumed-' + org, yAxisIndex: 0, data: used, emphasis: { focus: 'series' } });
        series.push({ name: label + ' on hand', type: 'line', yAxisIndex: 1, showSymbol: false, lineStyle: { width: 2 }, data: onHand,
          endLabel: { show: true, formatter: () => s.days_left != null ? s.days_left.toFixed(1) + ' days left' : '' } });
      }
    });
    draw(id, {
      tooltip: { trigger: 'axis' },
      legend: { top: 0, type: 'scroll' },
      grid: { left: 60, right: 110, top: 64, bottom: 30 },
      xAxis: { type: 'category', data: days, axisLabel: axisDay },
      yAxis: [{ type: 'value', name: 'consumed / day', minInterval: 1 }, { type: 'value', name: 'on hand', minInterval: 1, splitLine: { show: false } }],
      series: series,
    }, points);
    const held = stocks.filter((st) => st.length > 0).length;
    let note = held + ' organisations hold or used material; on hand is today\'s stock plus what was consumed since each day (receipts are not dated in the stock view)';
    if (refused) {
      note += '; ' + refused + ' more outside your scope';
    }
    setNote('stock', note);
  }

  // (e) the ledger: size, seal, projections and the latest signed checkpoint
  // with its signatures (the log's own and witnesses' cosignatures).
  async function drawLedger(f, gen) {
    const id = 'chart-ledger';
    loading(id);
    const [health, checkpoint] = await Promise.all([api('/healthz', { anonymous: true }), api('/ledger/checkpoint', { anonymous: true })]);
    if (gen !== generation) {
      return;
    }
    const led = health.ledger || {};
    const text = String(checkpoint);
    const [body, sigs] = text.split('\n\n');
    const [origin, size, root] = (body || '').split('\n');
    const signatures = (sigs || '').split('\n').filter((l) => l.startsWith('\u2014 ')).map((l) => l.slice(2).split(' ')[0]);
    const facts = [
      ['events in the ledger', led.size],
      ['sealed by the checkpoint', led.sealed_size],
      ['seal lag', led.seal_lag],
      ['checkpoint origin', origin],
      ['checkpoint tree size', size],
      ['root hash', root],
      ['ready', health.ready ? 'yes' : 'no'],
    ];
    const dl = $('ledger-facts');
    dl.replaceChildren();
    for (const [k, v] of facts) {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v === undefined || v === null ? '–' : String(v);
      dl.append(dt, dd);
    }
    $('checkpoint').textContent = text;
    const ul = $('signatures');
    ul.replaceChildren();
    signatures.forEach((name) => {
      const li = document.createElement('li');
      li.textContent = name + ' ';
      const kind = document.createElement('span');
      kind.className = 'kind';
      kind.textContent = name === origin ? '(the log\'s own signature)' : '(witness cosignature)';
      li.append(kind);
      ul.append(li);
    });
    const projections = (health.projections || []).slice().sort((a, b) => a.name.localeCompare(b.name));
    draw(id, {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      grid: { left: 120, right: 30, top: 24, bottom: 24 },
      xAxis: { type: 'value', max: Math.max(led.size || 0, 1) },
      yAxis: { type: 'category', data: projections.map((p) => p.name), axisLabel: { fontSize: 10, interval: 0 } },
      series: [{
        name: 'ledger sequence folded',
        type: 'bar',
        data: projections.map((p) => ({ value: p.seq, itemStyle: { color: p.status === 'degraded' ? ALERT_COLOR : (p.lag > 0 ? '#f79009' : '#12b76a') } })),
        markLine: { symbol: 'none', label: { formatter: 'ledger size' }, data: [{ xAxis: led.size || 0 }] },
      }],
    }, projections.length + (led.size > 0 ? 1 : 0));
    const witnesses = signatures.filter((n) => n !== origin).length;
    setNote('ledger', signatures.length + ' signatures on the checkpoint (' + witnesses + ' from witnesses); bars: the ledger sequence of the last event each projection folded (green: caught up, orange: behind, red: failing)');
  }

  // (f) one button per export view; each downloads a verifiable bundle.
  async function drawExports(f, gen) {
    const box = $('exports');
    box.dataset.state = 'loading';
    let views;
    try {
      views = (await api('/exports')).views || [];
    } catch (e) {
      if (gen !== generation) {
        return;
      }
      box.replaceChildren();
      if (e.status === 404) {
        box.dataset.state = 'unavailable';
        box.textContent = 'exports unavailable';
        setNote('exports', '');
        return;
      }
      box.dataset.state = 'error';
      setNote('exports', e.message, true);
      return;
    }
    if (gen !== generation) {
      return;
    }
    box.replaceChildren();
    for (const v of views) {
      const row = document.createElement('div');
      row.className = 'export-row';
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'export';
      btn.id = 'export-' + v.name;
      btn.dataset.view = v.name;
      btn.textContent = 'Export ' + v.name;
      const desc = document.createElement('span');
      desc.className = 'desc';
      desc.textContent = v.description || '';
      const status = document.createElement('span');
      status.className = 'status';
      btn.addEventListener('click', () => download(v.name, btn, status));
      row.append(btn, desc, status);
      box.append(row);
    }
    box.dataset.state = 'ready';
    box.dataset.count = String(views.length);
    setNote('exports', views.length ? 'each bundle holds the data, its ledger proofs and the signed checkpoint: check it offline with go run ./ops verify-export'
      : 'no export views');
  }

  function filenameOf(disposition) {
    if (!disposition) {
      return '';
    }
    let m = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition);
    let name = m ? decodeURIComponent(m[1]) : '';
    if (!name) {
      m = /filename\s*=\s*"?([^";]+)"?/i.exec(disposition);
      name = m ? m[1] : '';
    }
    return name.replace(/[\\/]/g, '_').trim();
  }

  async function download(view, btn, status) {
    const f = filters();
    btn.disabled = true;
    status.className = 'status';
    status.textContent = 'preparing…';
    try {
      const q = new URLSearchParams({ format: $('export-format').value, from: f.from, to: f.to });
      if (f.region) {
        q.set('region', f.region);
      }
      const resp = await api('/exports/' + encodeURIComponent(view) + '?' + q.toString(), { raw: true });
      const blob = await resp.blob();
      const name = filenameOf(resp.headers.get('Content-Disposition')) || view + '.zip';
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      status.className = 'status ok';
      status.textContent = 'downloaded ' + name + ' (' + blob.size + ' bytes)';
      btn.dataset.downloaded = name;
    } catch (e) {
      status.className = 'status error';
      status.textContent = e.message;
    } finally {
      btn.disabled = false;
    }
  }

  // ---- filters ----

  function defaults() {
    const scope = (session && session.scope) || '';
    const covers = (c) => scope === 'CN' || c.startsWith(scope);
    let communities = DEMO_COMMUNITIES.filter(covers);
    if (scope.length === 12) {
      communities = [scope];
    }
    let region = scope;
    if (region.length > 6 && region !== 'CN') {
      region = region.slice(0, 6);
    }
    const to = cstToday();
    return {
      from: addDays(to, -13),
      to: to,
      communities: communities.join(', '),
      city: scope.length >= 4 && scope !== 'CN' ? scope.slice(0, 4) : DEMO_DISTRICT.slice(0, 4),
      region: region || DEMO_DISTRICT.slice(0, 4),
    };
  }

  function filters() {
    let from = $('f-from').value;
    const to = $('f-to').value;
    if (from > to) {
      from = to;
    }
    if (daysBetween(from, to).length > MAX_DAYS) {
      from = addDays(to, -(MAX_DAYS - 1));
    }
    return {
      from: from,
      to: to,
      communities: $('f-communities').value.split(/[\s,，]+/).filter((c) => c !== ''),
      city: $('f-city').value.trim(),
      region: $('f-region').value.trim(),
    };
  }

  async function refresh() {
    const gen = ++generation;
    const f = filters();
    $('refresh').disabled = true;
    const panels = [
      ['chart-entries', 'entries', drawEntries],
      ['chart-flows', 'flows', drawFlows],
      ['chart-cases', 'cases', drawCases],
      ['chart-stock', 'stock', drawStock],
      ['chart-ledger', 'ledger', drawLedger],
    ];
    await Promise.all(panels.map(async ([id, name, fn]) => {
      setNote(name, 'loading…');
      try {
        await fn(f, gen);
      } catch (e) {
        if (gen === generation) {
          failed(id, name, e);
        }
      }
    }).concat([drawExports(f, gen)]));
    if (gen === generation) {
      $('refresh').disabled = false;
    }
  }

  // ---- screens ----

  function showSignIn(message) {
    $('board').hidden = true;
    $('who').hidden = true;
    $('signin-panel').hidden = false;
    $('signin-error').textContent = message || '';
    $('code').value = '';
    $('code').focus();
  }

  function showBoard() {
    $('signin-panel').hidden = true;
    $('board').hidden = false;
    $('who').hidden = false;
    $('who-role').textContent = session.role;
    $('who-scope').textContent = place(session.scope || '–');
    const d = defaults();
    $('f-from').value = d.from;
    $('f-to').value = d.to;
    $('f-communities').value = d.communities;
    $('f-city').value = d.city;
    $('f-region').value = d.region;
    refresh();
  }

  async function signIn(ev) {
    ev.preventDefault();
    const btn = $('signin');
    btn.disabled = true;
    $('signin-error').textContent = '';
    try {
      const s = await api('/auth/dashboard', { method: 'POST', body: { code: $('code').value }, anonymous: true });
      saveSession(s);
      showBoard();
    } catch (e) {
      $('signin-error').textContent = e.message;
    } finally {
      btn.disabled = false;
    }
  }

  function init() {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', () => signOut(''));
    $('filters').addEventListener('submit', (ev) => {
      ev.preventDefault();
      refresh();
    });
    window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));
    session = loadSession();
    if (session) {
      showBoard();
    } else {
      showSignIn('');
    }
  }

  init();
})();
