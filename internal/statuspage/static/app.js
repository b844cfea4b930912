// The status page: the datasets table, kept live through server-sent
// events (or polling), and the mapping playground. Every value from the
// connector is put in the page with textContent, never as HTML.

const $ = (id) => document.getElementById(id);

// el makes an element with attributes and children (strings become text).
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// api calls the JSON API; a failure throws an Error with the server's text.
// body is an object, or JSON text as it is.
async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
  const res = await fetch(path, opts);
  let data;
  try {
    data = await res.json();
  } catch {
    throw new Error(`${path}: ${res.status} ${res.statusText}`);
  }
  if (!res.ok) throw new Error(data.error || `${path}: ${res.status} ${res.statusText}`);
  return data;
}

// --- Time, by the connector's clock ---------------------------------------

let clockOffset = 0; // connector time minus browser time, in ms

function serverNow() { return Date.now() + clockOffset; }

function noteServerTime(now) {
  if (now) clockOffset = Date.parse(now) - Date.now();
}

function span(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  if (seconds < 60) return `${seconds} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

function duration(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms % 1000 === 0) return span(ms / 1000);
  return `${(ms / 1000).toFixed(1)} s`;
}

function ago(ts) {
  if (!ts) return 'never';
  const s = (serverNow() - Date.parse(ts)) / 1000;
  return s < 1 ? 'just now' : `${span(s)} ago`;
}

function absolute(ts) {
  return ts ? `${new Date(ts).toLocaleString()} (${ts})` : '';
}

const number = new Intl.NumberFormat();

// --- The view: query in the address bar -----------------------------------

const view = {q: '', state: '', sort: 'state', page: 1, size: 100};

function readView() {
  const p = new URLSearchParams(location.search);
  view.q = p.get('q') || '';
  view.state = p.get('state') || '';
  view.sort = p.get('sort') || 'state';
  view.page = Math.max(1, parseInt(p.get('page'), 10) || 1);
  view.size = parseInt(p.get('size'), 10) || 100;
  $('q').value = view.q;
  $('state').value = view.state;
  $('sort').value = view.sort;
  $('size').value = String(view.size);
}

function viewQuery() {
  const p = new URLSearchParams();
  if (view.q) p.set('q', view.q);
  if (view.state) p.set('state', view.state);
  if (view.sort !== 'state') p.set('sort', view.sort);
  if (view.page !== 1) p.set('page', String(view.page));
  if (view.size !== 100) p.set('size', String(view.size));
  return p.toString();
}

function changeView(changes) {
  Object.assign(view, changes);
  const q = viewQuery();
  history.replaceState(null, '', q ? `?${q}${location.hash}` : `${location.pathname}${location.hash}`);
  live.restart();
}

// --- Live updates: server-sent events, else polling -------------------------

const live = {
  source: null,
  pollTimer: 0,
  retryTimer: 0,
  errors: 0,

  start() {
    this.stop();
    const es = new EventSource(`api/events?${viewQuery()}`);
    this.source = es;
    es.addEventListener('view', (ev) => {
      this.errors = 0;
      setLive('live', 'live', 'Updates arrive as they happen (server-sent events).');
      render(JSON.parse(ev.data));
    });
    es.onerror = () => {
      this.errors++;
      setLive('connecting', 'reconnecting…', 'The event stream broke; reconnecting.');
      if (this.errors >= 3 || es.readyState === EventSource.CLOSED) this.poll();
    };
  },

  // poll fetches the view every 2 s and tries events again after 30 s.
  poll() {
    this.stop();
    setLive('polling', 'polling', 'Server-sent events do not get through; polling every 2 s.');
    const once = async () => {
      try {
        const [connector, datasets] = await Promise.all([
          api('api/connector'), api(`api/datasets?${viewQuery()}`)]);
        render({connector, datasets});
      } catch (e) {
        setLive('down', 'unreachable', `The connector does not answer: ${e.message}`);
      }
    };
    once();
    this.pollTimer = setInterval(once, 2000);
    this.retryTimer = setTimeout(() => { this.errors = 0; this.start(); }, 30000);
  },

  restart() {
    if (this.pollTimer) this.poll(); else this.start();
  },

  stop() {
    if (this.source) this.source.close();
    this.source = null;
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    this.pollTimer = this.retryTimer = 0;
  },
};

function setLive(kind, label, title) {
  const b = $('live');
  b.className = `badge live-${kind}`;
  b.textContent = label;
  b.title = title;
}

// --- Rendering the header and the table ------------------------------------

let connector = null;

function render(data) {
  noteServerTime(data.connector.now);
  renderConnector(data.connector, data.datasets);
  renderRows(data.datasets);
  picker.refresh(rowsByKey);
}

function renderConnector(c, list) {
  connector = c;
  $('version').textContent = c.commit ? `${c.version} · ${c.commit.slice(0, 12)}` : c.version;
  $('broker').textContent = c.brokerUrl || '(no broker)';
  const conn = $('connected');
  conn.textContent = c.connected ? 'connected' : 'not connected';
  conn.className = `badge ${c.connected ? 'ok' : 'bad'}`;
  $('queue').textContent = `${number.format(c.queueDepth)} ${c.queueDepth === 1 ? 'message' : 'messages'} waiting`;
  $('assets').textContent = number.format(c.assets);
  renderCounts(list);
  const settings = JSON.stringify(c.settings, null, 2);
  if ($('settings').textContent !== settings) $('settings').textContent = settings;
  tick();
}

const stateOrder = ['failing', 'backing off', 'suppressed', 'sampling', 'disabled'];

function renderCounts(list) {
  const box = $('counts');
  box.replaceChildren(el('span', {text: `${number.format(list.all)} in all`}));
  for (const st of stateOrder) {
    const n = list.counts[st] || 0;
    if (!n) continue;
    const b = el('button', {type: 'button', class: `chip state-${slug(st)}`, title: `Show only ${st} datasets`},
      `${number.format(n)} ${st}`);
    b.addEventListener('click', () => { $('state').value = st; changeView({state: st, page: 1}); });
    box.append(b);
  }
}

function slug(state) { return String(state).replace(/\s+/g, '-'); }

// tick updates what changes with time alone: ages and the uptime.
function tick() {
  if (connector && connector.started) {
    $('uptime').textContent = span((serverNow() - Date.parse(connector.started)) / 1000);
    $('uptime').title = `since ${absolute(connector.started)}`;
  }
  for (const r of rowsByKey.values()) {
    const age = ago(r.data.lastSample);
    if (r.cells.sample.textContent !== age) r.cells.sample.textContent = age;
  }
}

// rowsByKey holds the rows shown, by asset and dataset, so that an update
// changes only the text that changed.
let rowsByKey = new Map();
const keyOf = (d) => `${d.asset}\u0000${d.dataset}`;

function renderRows(list) {
  const body = $('rows');
  const next = new Map();
  for (const d of list.rows) {
    const key = keyOf(d);
    let r = rowsByKey.get(key);
    if (!r) r = makeRow(d);
    updateRow(r, d);
    next.set(key, r);
    body.append(r.tr); // in the order given
    if (r.detail) body.append(r.detail);
  }
  for (const [key, r] of rowsByKey) {
    if (!next.has(key)) { r.tr.remove(); if (r.detail) r.detail.remove(); }
  }
  rowsByKey = next;
  const from = list.total ? (list.page - 1) * list.size + 1 : 0;
  const to = from ? from + list.rows.length - 1 : 0;
  const filtered = view.q || view.state;
  $('summary').textContent = list.total
    ? `${number.format(from)}–${number.format(to)} of ${number.format(list.total)} ${filtered ? `matching (of ${number.format(list.all)})` : 'datasets'}`
    : '';
  $('empty').hidden = list.total !== 0;
  $('empty').textContent = list.all ? 'No dataset matches.' : 'The connector runs no dataset yet.';
  $('pageinfo').textContent = `page ${list.page} of ${list.pages}`;
  $('prev').disabled = list.page <= 1;
  $('next').disabled = list.page >= list.pages;
  if (list.page > list.pages) changeView({page: list.pages});
}

const columns = ['state', 'asset', 'dataset', 'sample', 'error', 'message',
  'samples', 'failures', 'messages', 'filtered', 'suppressed', 'ticks', 'actions'];

function makeRow(d) {
  const tr = el('tr');
  const cells = {};
  for (const c of columns) {
    const td = el('td', {class: `col-${c}`});
    cells[c] = td;
    tr.append(td);
  }
  for (const c of ['samples', 'failures', 'messages', 'filtered', 'suppressed', 'ticks']) cells[c].classList.add('num');
  cells.stateBadge = el('span', {class: 'badge'});
  cells.state.append(cells.stateBadge);
  cells.assetName = el('span', {class: 'name'});
  cells.device = el('span', {class: 'sub'});
  cells.asset.append(cells.assetName, cells.device);
  cells.datasetName = el('span', {class: 'name'});
  cells.interval = el('span', {class: 'sub'});
  cells.dataset.append(cells.datasetName, cells.interval);
  cells.errorText = el('div', {class: 'clamp'});
  cells.error.append(cells.errorText);
  cells.preview = el('code', {class: 'preview'});
  cells.expand = el('button', {type: 'button', class: 'link', 'aria-expanded': 'false', title: 'The whole last message and error, the topic and the mapping'}, 'details');
  cells.message.append(cells.preview, cells.expand);
  const tryButton = el('button', {type: 'button', class: 'link', title: 'Open this dataset in the playground'}, 'Try');
  cells.actions.append(tryButton);
  const r = {tr, cells, data: d, detail: null};
  cells.expand.addEventListener('click', () => toggleDetail(r));
  tryButton.addEventListener('click', () => { picker.pick(r.data); showTab('playground'); });
  return r;
}

function setText(node, text, title) {
  if (node.textContent !== text) node.textContent = text;
  if (title !== undefined && node.title !== title) node.title = title;
}

function updateRow(r, d) {
  const old = r.data;
  r.data = d;
  const c = r.cells;
  c.stateBadge.className = `badge state-${slug(d.state)}`;
  setText(c.stateBadge, d.state);
  setText(c.assetName, d.asset);
  setText(c.device, d.endpoint ? `${d.device} / ${d.endpoint}` : d.device, 'device / endpoint');
  setText(c.datasetName, d.dataset);
  setText(c.interval, d.intervalMs ? `every ${duration(d.intervalMs)}` : '', d.topic ? `publishes to ${d.topic}` : '');
  setText(c.sample, ago(d.lastSample), absolute(d.lastSample));
  setText(c.errorText, d.lastError || '', d.lastError || '');
  c.error.classList.toggle('has-error', !!d.lastError);
  const preview = d.lastMessage ? d.lastMessage + (d.lastMessageBytes > d.lastMessage.length ? '…' : '') : '';
  setText(c.preview, preview, d.lastPublish ? `published ${absolute(d.lastPublish)} to ${d.topic || '?'}` : 'nothing published yet');
  for (const k of ['samples', 'failures', 'messages', 'filtered', 'suppressed']) setText(c[k], number.format(d[k]));
  setText(c.ticks, `${number.format(d.missedTicks)} / ${number.format(d.skippedTicks)}`);
  c.failures.classList.toggle('bad-count', d.failures > 0);
  if (r.detail && old !== d && (old.lastPublish !== d.lastPublish || old.lastError !== d.lastError)) loadDetail(r);
}

function toggleDetail(r) {
  if (r.detail) {
    r.detail.remove();
    r.detail = null;
    r.cells.expand.textContent = 'details';
    r.cells.expand.setAttribute('aria-expanded', 'false');
    return;
  }
  r.detail = el('tr', {class: 'detail'}, el('td', {colspan: String(columns.length)}, el('p', {class: 'muted', text: 'Loading…'})));
  r.tr.after(r.detail);
  r.cells.expand.textContent = 'hide';
  r.cells.expand.setAttribute('aria-expanded', 'true');
  loadDetail(r);
}

async function loadDetail(r) {
  const detail = r.detail;
  const q = new URLSearchParams({asset: r.data.asset, dataset: r.data.dataset});
  let parts;
  try {
    const d = await api(`api/dataset?${q}`);
    parts = [
      el('dl', {class: 'detail-facts'},
        ...fact('Topic', d.topic || '(none)'),
        ...fact('Interval', d.intervalMs ? `${d.intervalMs} ms` : '—'),
        ...fact('Mapping', d.mapping || (d.jq ? 'jq (below)' : 'none: the object of data point values')),
        ...fact('Last published', d.lastPublish ? absolute(d.lastPublish) : 'never')),
    ];
    if (d.jq) parts.push(el('pre', {class: 'mono', text: d.jq}));
    if (d.lastError) parts.push(el('h3', {text: 'Last error'}), el('pre', {class: 'mono error-text', text: d.lastError}));
    if (d.lastMessage) {
      const cut = d.lastMessageBytes > new TextEncoder().encode(d.lastMessage).length;
      parts.push(el('h3', {text: cut ? `Last message (first 4 KiB of ${number.format(d.lastMessageBytes)} bytes)` : 'Last message'}),
        el('pre', {class: 'mono payload', text: d.lastMessage}));
    }
  } catch (e) {
    parts = [el('p', {class: 'error-text', text: e.message})];
  }
  if (r.detail === detail && detail) detail.firstChild.replaceChildren(...parts);
}

function fact(name, value) { return [el('dt', {text: name}), el('dd', {text: value})]; }

// --- Tabs ---------------------------------------------------------------

function showTab(name) {
  for (const t of ['datasets', 'playground']) {
    $(`tab-${t}`).setAttribute('aria-selected', String(t === name));
    $(`${t}-view`).hidden = t !== name;
  }
  if (location.hash !== `#${name}`) history.replaceState(null, '', `${location.pathname}${location.search}#${name}`);
  if (name === 'playground') picker.search();
}

// --- The playground --------------------------------------------------------

const picker = {
  picked: null,
  found: [],
  timer: 0,

  async search() {
    const q = $('pg-search').value;
    try {
      const list = await api(`api/datasets?${new URLSearchParams({q, sort: 'asset', size: '50'})}`);
      this.found = list.rows;
      const sel = $('pg-datasets');
      sel.replaceChildren(...list.rows.map((d, i) =>
        el('option', {value: String(i)}, `${d.asset} / ${d.dataset} (${d.state})`)));
      if (list.total > list.rows.length) sel.append(el('option', {disabled: ''}, `… ${number.format(list.total - list.rows.length)} more: narrow the search`));
    } catch (e) {
      $('pg-datasets').replaceChildren(el('option', {disabled: ''}, e.message));
    }
  },

  pick(d) {
    this.picked = d;
    $('pg-picked').textContent = `${d.asset} / ${d.dataset}`;
    $('pg-picked').classList.add('chosen');
    $('pg-fetch').disabled = false;
    $('pg-run').disabled = false;
    if (d.mapping && mappings.byName.has(d.mapping)) {
      $('pg-mapping').value = d.mapping;
      mappings.show(d.mapping);
    } else {
      $('pg-mapping').value = '';
      $('pg-jq').value = d.jq || '.';
      $('pg-mapping-about').textContent = d.jq ? "The dataset's own jq." : 'The dataset has no mapping: its message is the object of data point values (jq ".").';
    }
  },

  // refresh keeps the picked dataset's row data current.
  refresh(rows) {
    if (!this.picked) return;
    const r = rows.get(keyOf(this.picked));
    if (r) this.picked = r.data;
  },
};

const mappings = {
  byName: new Map(),

  async load() {
    try {
      const list = await api('api/mappings');
      const datasetGroup = el('optgroup', {label: 'Library: dataset mappings'});
      const pointGroup = el('optgroup', {label: 'Library: data point mappings (not run here)'});
      for (const m of list) {
        this.byName.set(m.name, m);
        const opt = el('option', {value: m.name, title: m.description || ''}, m.name);
        if (m.kind === 'dataset') datasetGroup.append(opt);
        else { opt.disabled = true; pointGroup.append(opt); }
      }
      $('pg-mapping').append(datasetGroup, pointGroup);
    } catch (e) {
      $('pg-mapping-about').textContent = `The library could not be listed: ${e.message}`;
    }
  },

  // show puts a library mapping's program in the editor, as a start.
  show(name) {
    const m = this.byName.get(name);
    if (!m) return;
    $('pg-jq').value = m.definitions ? `${m.definitions.trimEnd()}\n${m.jq}` : m.jq;
    $('pg-mapping-about').textContent = `${m.description || m.name} Editing it makes it your own jq.`;
  },
};

async function fetchSample() {
  const d = picker.picked;
  if (!d) return;
  const box = $('pg-trial');
  box.replaceChildren(el('p', {class: 'muted', text: `Sampling ${d.asset} / ${d.dataset}…`}));
  $('pg-fetch').disabled = true;
  try {
    const t = await api('api/try', {asset: d.asset, dataset: d.dataset});
    box.replaceChildren(...trialParts(t));
    if (t.input !== null) $('pg-input').value = t.inputText; // numbers as they came
  } catch (e) {
    box.replaceChildren(el('p', {class: 'error-text', text: e.message}));
  } finally {
    $('pg-fetch').disabled = false;
  }
}

function trialParts(t) {
  const parts = [];
  for (const r of t.requests) {
    const line = r.error
      ? `${r.method} ${r.url}: ${r.error}`
      : `${r.method} ${r.url} → ${r.status} in ${r.elapsedMs} ms, ${r.contentType || 'no content type'}, ${number.format(r.bodyBytes)} bytes`;
    const item = el('details', {class: 'request'}, el('summary', {class: r.error || r.status >= 300 ? 'error-text' : '', text: line}));
    item.append(el('pre', {class: 'mono payload', text: r.body || '(empty body)'}));
    parts.push(item);
  }
  if (t.values.length) {
    const dl = el('dl', {class: 'values'});
    for (const v of t.values) dl.append(...fact(v.name, v.error ? `failed: ${v.error}` : v.text));
    parts.push(dl);
  }
  if (t.error) {
    parts.push(el('p', {class: 'error-text', text: `The sample failed: ${t.error}`}));
  } else if (!t.messages.length) {
    parts.push(el('p', {class: 'muted', text: 'With its mapping as configured, it would publish nothing (filtered). The input is below.'}));
  } else {
    parts.push(el('p', {class: 'muted', text: `With its mapping as configured, it would publish ${t.messages.length === 1 ? 'this message' : `these ${t.messages.length} messages`}; the input the mapping saw is below.`}));
    parts.push(...t.messages.map(messagePart));
  }
  return parts;
}

async function runMapping() {
  const d = picker.picked;
  if (!d) return;
  const box = $('pg-result');
  const input = $('pg-input').value.trim();
  try {
    JSON.parse(input);
  } catch (e) {
    box.replaceChildren(el('p', {class: 'error-text', text: `The input is not JSON (${e.message}). A text response is a JSON string: "…".`}));
    return;
  }
  const name = $('pg-mapping').value;
  const fields = {asset: d.asset, dataset: d.dataset};
  if (name) fields.mapping = name; else fields.jq = $('pg-jq').value;
  // The input goes as typed, not through JSON.parse, which rounds numbers.
  const req = `{"input": ${input}, ${JSON.stringify(fields).slice(1)}`;
  box.replaceChildren(el('p', {class: 'muted', text: 'Running…'}));
  $('pg-run').disabled = true;
  try {
    const res = await api('api/map', req);
    box.replaceChildren(...resultParts(res));
    $('pg-testcase').textContent = res.testCase;
    $('pg-copy').disabled = !res.testCase;
  } catch (e) {
    box.replaceChildren(el('p', {class: 'error-text', text: e.message}));
  } finally {
    $('pg-run').disabled = false;
  }
}

function resultParts(res) {
  if (res.error) {
    const what = res.compileError ? 'The program does not compile' : 'The mapping failed: the sample would fail, nothing published';
    return [el('p', {class: 'error-text'}, `${what}: `), el('pre', {class: 'mono error-text', text: res.error})];
  }
  if (!res.outputs) {
    return [el('p', {class: 'note', text: 'No output: nothing would be published for this sample (it would be counted as filtered).'})];
  }
  return [
    el('p', {class: 'muted', text: `${res.outputs} ${res.outputs === 1 ? 'output' : 'outputs'}, ${res.messages.length} ${res.messages.length === 1 ? 'message' : 'messages'} at ${res.variables.timestamp}:`}),
    ...res.messages.map(messagePart),
  ];
}

// messagePart shows one message that would be published.
function messagePart(m) {
  const props = [`QoS ${m.qos}`, m.retain ? 'retained' : 'not retained', m.expirySeconds ? `expires after ${m.expirySeconds} s` : 'no expiry'];
  if (m.contentType) props.push(m.contentType);
  for (const p of m.userProperties || []) props.push(`${p.key}=${p.value}`);
  if (m.payloadBytes > new TextEncoder().encode(m.payload).length) props.push(`first 4 KiB of ${number.format(m.payloadBytes)} bytes`);
  return el('div', {class: 'message'},
    el('p', {}, el('strong', {class: 'mono', text: m.topic}), el('span', {class: 'muted', text: `  ${props.join(', ')}`})),
    el('pre', {class: 'mono payload', text: m.payload}));
}

async function copyTestCase() {
  const text = $('pg-testcase').textContent;
  try {
    await navigator.clipboard.writeText(text);
    $('pg-copy').textContent = 'Copied';
  } catch {
    const range = document.createRange();
    range.selectNodeContents($('pg-testcase'));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    $('pg-copy').textContent = 'Selected: press Ctrl+C';
  }
  setTimeout(() => { $('pg-copy').textContent = 'Copy test case'; }, 2000);
}

// --- Wiring -------------------------------------------------------------

function debounce(fn, ms) {
  let t = 0;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

function wire() {
  $('filters').addEventListener('submit', (e) => e.preventDefault());
  $('q').addEventListener('input', debounce(() => changeView({q: $('q').value.trim(), page: 1}), 250));
  $('state').addEventListener('change', () => changeView({state: $('state').value, page: 1}));
  $('sort').addEventListener('change', () => changeView({sort: $('sort').value, page: 1}));
  $('size').addEventListener('change', () => changeView({size: parseInt($('size').value, 10), page: 1}));
  $('prev').addEventListener('click', () => changeView({page: Math.max(1, view.page - 1)}));
  $('next').addEventListener('click', () => changeView({page: view.page + 1}));
  $('tab-datasets').addEventListener('click', () => showTab('datasets'));
  $('tab-playground').addEventListener('click', () => showTab('playground'));
  $('pg-search').addEventListener('input', debounce(() => picker.search(), 200));
  $('pg-datasets').addEventListener('change', () => {
    const d = picker.found[parseInt($('pg-datasets').value, 10)];
    if (d) picker.pick(d);
  });
  $('pg-mapping').addEventListener('change', () => {
    const name = $('pg-mapping').value;
    if (name) mappings.show(name);
    else $('pg-mapping-about').textContent = 'Your own jq, run as the dataset jq.';
  });
  $('pg-jq').addEventListener('input', () => {
    if ($('pg-mapping').value) {
      $('pg-mapping').value = '';
      $('pg-mapping-about').textContent = 'Your own jq, run as the dataset jq (starting from the library mapping, with its definitions).';
    } else if (!$('pg-mapping-about').textContent.startsWith('Your own jq')) {
      $('pg-mapping-about').textContent = 'Your own jq, run as the dataset jq.';
    }
  });
  $('pg-fetch').addEventListener('click', fetchSample);
  $('pg-run').addEventListener('click', runMapping);
  $('pg-copy').addEventListener('click', copyTestCase);
  setInterval(tick, 1000);
}

readView();
wire();
mappings.load();
showTab(location.hash === '#playground' ? 'playground' : 'datasets');
live.start();
