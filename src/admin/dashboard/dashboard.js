// The admin dashboard of nestjs-websocket-manager: plain browser JavaScript, no framework, no
// build step. User ids are attacker-controlled (they come from tokens): everything the server
// sends is written with textContent, never parsed as HTML.
'use strict';
(() => {
  const base = document.querySelector('meta[name="wsm-admin-base"]').content;
  const TOKEN_KEY = 'wsm-admin-token';
  const CLASSES = ['zombie', 'unresponsive', 'inactive', 'detached', 'idle', 'healthy'];
  const MAX_EVENTS = 50;
  const $ = (id) => document.getElementById(id);

  let token = sessionStorage.getItem(TOKEN_KEY);
  let stream = null; // AbortController of the running event stream
  let retryTimer = null;
  let retryMs = 500;
  let latest = null; // newest overview, rendered at the next animation frame
  let frameQueued = false;
  let selectedUser = null;
  let detailTimer = null;

  /** Creates an element with text content (never HTML) and optional attributes. */
  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }
  function row(cells) {
    const tr = document.createElement('tr');
    for (const cell of cells) {
      const td = document.createElement('td');
      if (cell instanceof Node) td.append(cell);
      else td.textContent = cell === null || cell === undefined ? '—' : String(cell);
      tr.append(td);
    }
    return tr;
  }
  function ago(at) {
    if (!at) return '—';
    const s = Math.max(0, Math.round((Date.now() - at) / 1000));
    return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : `${Math.floor(s / 3600)}h ago`;
  }
  function setStatus(state, text) {
    $('status').dataset.state = state;
    $('status').textContent = text || state;
  }

  class Refused extends Error {}

  async function api(method, path) {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const response = await fetch(base + path, { method, headers, cache: 'no-store', credentials: 'same-origin' });
    if (response.status === 401 || response.status === 403) throw new Refused(String(response.status));
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error((body && body.message) || `HTTP ${response.status}`);
    return body;
  }

  function showLogin(wasRefused) {
    stopStream();
    $('app').hidden = true;
    $('login').hidden = false;
    $('sign-out').hidden = true;
    $('refused').hidden = !wasRefused;
    setStatus(wasRefused ? 'refused' : 'signed-out', wasRefused ? 'refused' : 'signed out');
    clearData();
  }
  function clearData() {
    latest = null;
    selectedUser = null;
    for (const id of ['totals', 'alarms', 'events']) $(id).replaceChildren();
    for (const id of ['top-users', 'nodes', 'cleanups', 'managers']) $(id).tBodies[0].replaceChildren();
    $('detail').hidden = true;
    $('node-id').textContent = '';
    $('summary').textContent = '';
    $('node').textContent = '';
  }
  function refused() {
    sessionStorage.removeItem(TOKEN_KEY);
    token = null;
    showLogin(true);
  }

  async function start() {
    $('login').hidden = true;
    setStatus('connecting', 'connecting');
    try {
      queueOverview(await api('GET', '/overview'));
    } catch (error) {
      // A host guard (a session cookie) may admit us without a token; otherwise ask for one.
      if (error instanceof Refused) return token ? refused() : showLogin(false);
      setStatus('reconnecting', 'server unreachable');
      scheduleReconnect();
      return;
    }
    $('app').hidden = false;
    $('sign-out').hidden = !token;
    openStream();
  }

  // ---- the event stream: fetch streaming, so the token travels in a header, never in a URL ----
  function stopStream() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (stream) stream.abort();
    stream = null;
  }
  function scheduleReconnect() {
    clearTimeout(retryTimer);
    const delay = Math.min(retryMs, 5000) * (0.5 + Math.random() / 2);
    retryMs = Math.min(retryMs * 2, 5000);
    retryTimer = setTimeout(() => (document.hidden ? undefined : openStream()), delay);
  }
  async function openStream() {
    stopStream();
    const controller = new AbortController();
    stream = controller;
    try {
      const headers = token ? { authorization: `Bearer ${token}`, accept: 'text/event-stream' } : { accept: 'text/event-stream' };
      const response = await fetch(`${base}/events`, { headers, signal: controller.signal, cache: 'no-store' });
      if (response.status === 401 || response.status === 403) return refused();
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      setStatus('live', 'live');
      retryMs = 500;
      if (selectedUser !== null) scheduleDetail(0);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
      throw new Error('stream ended');
    } catch {
      if (controller.signal.aborted || stream !== controller) return;
      stream = null;
      setStatus('reconnecting', 'reconnecting');
      scheduleReconnect();
    }
  }
  function dispatch(block) {
    let type = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) type = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length === 0) return;
    let payload;
    try {
      payload = JSON.parse(data.join('\n'));
    } catch {
      return;
    }
    if (type === 'overview') queueOverview(payload);
    else if (type === 'lifecycle' && Array.isArray(payload)) onLifecycle(payload);
    else if (type === 'dropped') $('dropped').textContent = `(${payload.dropped} events dropped: this view could not keep up)`;
  }

  // ---- rendering: aggregates at most once per frame, detail on demand ----
  function queueOverview(overview) {
    latest = overview;
    if (frameQueued) return;
    frameQueued = true;
    requestAnimationFrame(() => {
      frameQueued = false;
      if (latest) renderOverview(latest);
    });
  }
  function renderOverview(o) {
    $('node-id').textContent = o.nodeId;
    $('node').textContent = `${o.registry} registry · limit ${o.limit} per user · max level ${o.maxCleanupLevel}`;
    $('summary').textContent = `· ${o.managers} managers · ${o.connections} connections · sweep ${ago(o.sweep.lastFinishedAt)}`;
    $('totals').replaceChildren(
      ...CLASSES.map((c) => {
        const card = el('div', null, { class: 'total', 'data-class': c });
        card.append(el('span', o.byHealth[c] ?? 0, { class: 'count' }), el('span', c, { class: 'muted' }));
        return card;
      }),
    );
    $('top-users').tBodies[0].replaceChildren(
      ...o.topUsers.map((u) => {
        const open = el('button', u.userId, { type: 'button', class: 'link user' });
        open.addEventListener('click', () => selectUser(u.userId));
        const bar = el('div', null, { class: u.managers >= u.limit ? 'bar near' : 'bar' });
        const fill = el('span');
        fill.style.width = `${Math.min(100, (100 * u.managers) / u.limit)}%`;
        bar.append(fill);
        const tr = row([open, `${u.managers} / ${u.limit}`, bar]);
        tr.dataset.user = u.userId;
        return tr;
      }),
    );
    $('alarms').replaceChildren(
      ...(o.alarms.length === 0
        ? [el('li', 'none', { class: 'muted' })]
        : o.alarms.map((a) => {
            const li = el('li', `${ago(a.at)}: ${a.failures} failed emergency cleanups in ${Math.round(a.windowMs / 1000)}s for `);
            li.append(el('span', a.userId, { class: 'user' }));
            return li;
          })),
    );
    const clustered = o.nodes.length > 0;
    $('nodes').hidden = $('nodes-title').hidden = !clustered;
    $('nodes').tBodies[0].replaceChildren(
      ...o.nodes.map((n) => row([`${n.nodeId}${n.self ? ' (this)' : ''}${n.alive ? '' : ' — lease lost'}`, n.leaseAgeMs === null ? '—' : `${n.leaseAgeMs} ms`, n.managers])),
    );
    $('cleanups').tBodies[0].replaceChildren(
      ...o.cleanups.map((r) => {
        const levels = r.levels.length === 0 ? 'no level run' : r.levels
          .map((l) => `${l.level}: ${l.candidates} → ${l.removed}${Object.keys(l.reasons).length ? ` (${Object.entries(l.reasons).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`)
          .join(' · ');
        const tr = row([ago(r.at), r.trigger, r.userId === null ? 'all (sweep)' : el('span', r.userId, { class: 'user' }), levels, r.freed ? 'yes' : 'no']);
        tr.dataset.trigger = r.trigger;
        return tr;
      }),
    );
  }

  /** One batch of lifecycle events (oldest first): the newest go to the log, the rest only count. */
  function onLifecycle(events) {
    const list = $('events');
    for (const e of events.slice(-MAX_EVENTS)) {
      const line = el('li');
      line.append(`${new Date(e.at).toLocaleTimeString()} ${e.type} `, el('span', e.userId === undefined ? '' : e.userId, { class: 'user' }));
      if (e.context) line.append(` ${e.context}`);
      if (e.reason) line.append(` (${e.level} ${e.reason})`);
      if (e.type === 'cleanup') line.append(` ${e.report.trigger} removed ${e.report.removed}`);
      line.dataset.type = e.type;
      list.prepend(line);
    }
    while (list.childElementCount > MAX_EVENTS) list.lastElementChild.remove();
    const touched = events.some((e) => e.userId === selectedUser || (e.type === 'cleanup' && e.report.userId === selectedUser));
    if (selectedUser !== null && touched) scheduleDetail(250);
  }

  // ---- per-user detail, pulled on demand ----
  function selectUser(userId) {
    selectedUser = userId;
    $('detail').hidden = false;
    $('detail-user').textContent = userId;
    $('cleanup-result').textContent = '';
    scheduleDetail(0);
  }
  function scheduleDetail(delay) {
    clearTimeout(detailTimer);
    detailTimer = setTimeout(() => void loadDetail(), delay);
  }
  async function loadDetail() {
    const userId = selectedUser;
    if (userId === null || document.hidden) return;
    let managers;
    try {
      managers = await api('GET', `/users/${encodeURIComponent(userId)}/managers`);
    } catch (error) {
      if (error instanceof Refused) return refused();
      $('cleanup-result').textContent = String(error.message);
      return;
    }
    if (userId !== selectedUser) return;
    $('managers').tBodies[0].replaceChildren(
      ...managers.map((m) => {
        const evict = el('button', 'Evict', { type: 'button', class: 'evict' });
        evict.addEventListener('click', () => void evictOne(userId, m));
        const tr = row([m.context, el('span', m.health, { class: 'class', 'data-class': m.health }), m.reasons.join(', ') || '—', m.connections, ago(m.lastActivityAt), m.nodeId, evict]);
        tr.dataset.managerId = m.managerId;
        return tr;
      }),
    );
  }
  async function evictOne(userId, manager) {
    if (!confirm(`Evict session "${manager.context}" of this user? Its sockets close with 4001.`)) return;
    try {
      await api('DELETE', `/users/${encodeURIComponent(userId)}/managers/${encodeURIComponent(manager.managerId)}`);
    } catch (error) {
      if (error instanceof Refused) return refused();
      $('cleanup-result').textContent = String(error.message);
    }
    scheduleDetail(0);
  }

  $('cleanup-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const level = $('cleanup-level').value;
    const userId = selectedUser;
    if (userId === null || !confirm(`Run cleanup at level ${level} for this user?`)) return;
    try {
      const report = await api('POST', `/users/${encodeURIComponent(userId)}/cleanup?level=${encodeURIComponent(level)}`);
      $('cleanup-result').textContent = `removed ${report.removed} of ${report.detected} candidates`;
    } catch (error) {
      if (error instanceof Refused) return refused();
      $('cleanup-result').textContent = String(error.message);
    }
    scheduleDetail(0);
  });
  $('lookup-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const userId = $('lookup').value;
    if (userId) selectUser(userId);
  });
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    token = $('token').value.trim();
    $('token').value = '';
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    void start();
  });
  $('sign-out').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    token = null;
    showLogin(false);
  });
  // Nothing is streamed or polled while the tab is hidden.
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      stopStream();
      setStatus('paused', 'paused (tab hidden)');
    } else if (!$('app').hidden) {
      void start();
    }
  });

  // Without a token too: a host guard (a session cookie) may admit us; a 401 shows the form.
  void start();
})();
