// The reference media bar. It uses only the public media-bar API (api.js): log in, show the
// chat channel and the agent's chats, and act on them. The live event stream only says "look
// again": every event triggers a re-read of /me, which is the truth, so a missed or replayed
// event can never leave the page wrong.
//
// Opening it prefilled (the demo prints such links):
//   /mediabar/?agent=A&account=C&session=S&site=demo       fills the login form
//   ...&login=1                                            and submits it at once
//   /mediabar/#token=T                                     adopts a token already issued
//                                                          (the fragment never reaches a server)
import { Api, ApiError } from './api.js';

const $ = (id) => document.getElementById(id);
const api = new Api();
const storageKey = 'mediabar.session';

const stateLabels = {
  routed: 'Arriving', popping: 'Arriving', offered: 'Offered', active: 'Active',
  wrapup: 'Wrap-up', failed: 'Could not be offered', abandoned: 'Customer left',
  completed: 'Completed', requeued: 'Back in the queue', revoked: 'Withdrawn',
};
// Complete is offered in these states (the bridge's state machine allows it there).
const completable = new Set(['active', 'wrapup', 'failed', 'abandoned']);
// The bridge requires a disposition (where the queue does) only for a chat that was handled.
const needsDispositionIn = new Set(['active', 'wrapup']);

const ui = {
  agent: null, // the media-bar session (agent id, site, CRM account)
  panels: new Map(), // interaction id → its <article>
  announced: new Set(), // "id:state" already told to the agent (toast, sound)
  declineRefused: new Set(), // interactions the bridge refused to decline (not allowed)
  finished: new Set(), // interactions this page completed or declined: a stale re-read must not bring them back
  dispositions: new Map(), // queue id → Promise of the queue's disposition rules
  stream: null,
  streamState: '',
  lastEventId: '',
  since: 0, // events older than this (replayed from before this page's login) are not toasted
  timers: {},
  refreshing: false,
  refreshAgain: false,
  diagnosticsOpen: false,
};
let nextId = 0;

// ---------------------------------------------------------------- start

function boot() {
  $('login-form').addEventListener('submit', onLogin);
  $('logout-button').addEventListener('click', onLogout);
  $('diagnostics-button').addEventListener('click', toggleDiagnostics);
  $('diagnostics-refresh').addEventListener('click', loadDiagnostics);

  const q = new URLSearchParams(location.search);
  const fields = { 'login-agent': 'agent', 'login-account': 'account', 'login-session': 'session', 'login-site': 'site' };
  for (const [input, param] of Object.entries(fields)) {
    if (q.has(param)) $(input).value = q.get(param);
  }

  const fragment = new URLSearchParams(location.hash.slice(1));
  let token = fragment.get('token') || '';
  if (token) {
    // Keep the token out of the address bar, bookmarks and copied links.
    history.replaceState(null, '', location.pathname + location.search);
  } else {
    token = loadStored();
  }
  if (token) {
    resume(token);
  } else if (q.get('login') === '1' && loginFields().every((f) => f.value.trim() !== '')) {
    $('login-form').requestSubmit();
  } else {
    showLogin();
  }
}

// resume adopts a token issued earlier (this tab's storage, or a link): trading it for a fresh
// one both checks that the session still lives and says when it expires.
async function resume(token) {
  api.token = token;
  try {
    begin(await api.refresh());
  } catch (e) {
    api.token = '';
    forgetStored();
    if (e instanceof ApiError && e.sessionEnded) return sessionEnded(e);
    showLogin();
    toast(describe(e));
  }
}

function loginFields() {
  return ['login-agent', 'login-account', 'login-session', 'login-site'].map($);
}

async function onLogin(ev) {
  ev.preventDefault();
  unlockSound(); // a user gesture: the browser lets the offer sound play from now on
  const err = $('login-error');
  err.textContent = '';
  const inputs = loginFields();
  for (const f of inputs) f.removeAttribute('aria-invalid');
  const empty = inputs.filter((f) => f.value.trim() === '');
  if (empty.length) {
    for (const f of empty) f.setAttribute('aria-invalid', 'true');
    err.textContent = 'Fill in: ' + empty.map((f) => f.labels[0].textContent).join(', ') + '.';
    empty[0].focus();
    return;
  }
  const req = {};
  for (const f of inputs) req[f.name] = f.value.trim();
  const submit = $('login-submit');
  submit.disabled = true;
  try {
    begin(await api.login(req));
  } catch (e) {
    err.textContent = describe(e);
    const bad = inputs.find((f) => f.name === e.field);
    if (bad) {
      bad.setAttribute('aria-invalid', 'true');
      bad.focus();
    }
  } finally {
    submit.disabled = false;
  }
}

// begin shows the agent's work once logged in (login, token refresh at start, or a link).
function begin(login) {
  ui.since = Date.now() - 5000; // a little slack for clock skew with the bridge
  setToken(login);
  ui.agent = login.session;
  $('whoami').textContent = `${login.session.agent_id} · CRM ${login.session.crm_account_id} · site ${login.session.site}`;
  for (const id of ['whoami', 'diagnostics-button', 'logout-button', 'work-state', 'stream-state']) $(id).hidden = false;
  $('login-view').hidden = true;
  $('work-view').hidden = false;
  $('banner').hidden = true;
  $('logout-refused').hidden = true;
  renderChannel(login.session.channel);
  openStream();
  refresh();
  // A safety net: the stream is the fast path, this catches anything a stalled stream misses.
  clearInterval(ui.timers.poll);
  ui.timers.poll = setInterval(() => scheduleRefresh(0), 15000);
}

function setToken(login) {
  api.token = login.token;
  const expiresAt = Date.parse(login.expiresAt);
  try {
    sessionStorage.setItem(storageKey, JSON.stringify({ token: login.token, expiresAt }));
  } catch {
    // Storage may be blocked (an embedding page's policy): the page still works until reloaded.
  }
  // Refresh at 80% of the token's life, so a media bar open all shift never has to log in again.
  clearTimeout(ui.timers.token);
  const delay = Math.max(5000, (expiresAt - Date.now()) * 0.8);
  ui.timers.token = setTimeout(refreshToken, Math.min(delay, 2 ** 31 - 1));
}

async function refreshToken() {
  try {
    setToken(await api.refresh());
    openStream(); // the stream's URL carries the token: reopen with the new one
  } catch (e) {
    if (e instanceof ApiError && e.sessionEnded) return sessionEnded(e);
    ui.timers.token = setTimeout(refreshToken, 10000);
  }
}

function loadStored() {
  try {
    const s = JSON.parse(sessionStorage.getItem(storageKey) || 'null');
    if (s && s.token && s.expiresAt > Date.now()) return s.token;
  } catch {
    // unreadable or blocked: log in again
  }
  return '';
}

function forgetStored() {
  try {
    sessionStorage.removeItem(storageKey);
  } catch {
    // blocked: nothing was stored
  }
}

function showLogin(bannerText) {
  $('login-view').hidden = false;
  $('work-view').hidden = true;
  for (const id of ['whoami', 'diagnostics-button', 'logout-button', 'work-state', 'stream-state']) $(id).hidden = true;
  setBanner(bannerText || '');
  const ch = $('channel');
  ch.dataset.channel = 'unknown';
  $('channel-label').textContent = 'Chat channel: not logged in';
  $('channel-reason').textContent = '';
}

// stop ends everything that runs for a logged-in agent.
function stop() {
  closeStream();
  for (const t of Object.values(ui.timers)) {
    clearTimeout(t);
    clearInterval(t);
  }
  ui.timers = {};
  api.token = '';
  ui.agent = null;
  ui.lastEventId = '';
  forgetStored();
  for (const p of ui.panels.values()) p.remove();
  ui.panels.clear();
  ui.announced.clear();
  ui.declineRefused.clear();
  ui.finished.clear();
  closeDiagnostics();
}

// sessionEnded: the bridge no longer knows this agent's session (401): only a new login helps.
function sessionEnded(e) {
  stop();
  showLogin((e.message || 'Your media-bar session has ended.') +
    ' Log in to chat in the CRM console if you are not, then log in here again. Call your supervisor if it keeps happening.');
  $('login-agent').focus();
}

async function onLogout() {
  const refused = $('logout-refused');
  refused.hidden = true;
  try {
    await api.logout();
    stop();
    showLogin();
    toast('Logged out of the media bar.');
  } catch (e) {
    if (e instanceof ApiError && e.sessionEnded) return sessionEnded(e);
    if (e instanceof ApiError && e.status === 409) {
      $('logout-refused-message').textContent = e.message;
      const list = $('logout-refused-list');
      list.replaceChildren(...(e.body.interactions || []).map((leg) => {
        const li = document.createElement('li');
        li.textContent = `Chat ${leg.chat_id} (${leg.queue_name || leg.queue_id}): ${stateLabels[leg.state] || leg.state}`;
        return li;
      }));
      refused.hidden = false;
      return;
    }
    toast(describe(e));
  }
}

// ---------------------------------------------------------------- live events

function openStream() {
  closeStream();
  const es = api.events(ui.lastEventId);
  ui.stream = es;
  setStreamState('connecting');
  const onEvent = (ev) => {
    if (ev.lastEventId) ui.lastEventId = ev.lastEventId;
    setStreamState('live');
    onBridgeEvent(ev.type, ev.data);
  };
  for (const type of ['interaction.updated', 'channel.updated', 'transfer.failed', 'message']) {
    es.addEventListener(type, onEvent);
  }
  es.onopen = () => {
    setStreamState('live');
    scheduleRefresh(0); // anything that happened while the stream was down
  };
  // The replica is going away: the browser reconnects by itself, with Last-Event-ID.
  es.addEventListener('reconnect', () => setStreamState('reconnecting'));
  es.onerror = () => {
    if (es !== ui.stream) return;
    setStreamState('reconnecting');
    if (es.readyState === EventSource.CLOSED) {
      // The bridge refused the stream (the browser does not retry that): ask why with a
      // plain call, which tells a dead session apart from a bridge that is down.
      clearTimeout(ui.timers.stream);
      ui.timers.stream = setTimeout(reopenStream, 2000);
    }
  };
}

async function reopenStream() {
  try {
    await api.me();
    openStream();
  } catch (e) {
    if (e instanceof ApiError && e.sessionEnded) return sessionEnded(e);
    ui.timers.stream = setTimeout(reopenStream, 5000);
  }
}

function closeStream() {
  clearTimeout(ui.timers.stream);
  if (ui.stream) ui.stream.close();
  ui.stream = null;
}

function setStreamState(state) {
  if (ui.streamState === state) return;
  ui.streamState = state;
  const el = $('stream-state');
  el.dataset.stream = state;
  el.textContent = { connecting: 'Live updates: connecting…', live: 'Live updates: on', reconnecting: 'Live updates: reconnecting…' }[state];
}

function onBridgeEvent(type, data) {
  let ev = {};
  try {
    ev = JSON.parse(data);
  } catch {
    // not ours to read; the refresh below still happens
  }
  if (type === 'transfer.failed' && Date.parse(ev.at) >= ui.since) {
    toast(ev.message || 'The transfer was refused: the chat stays with you.');
  }
  scheduleRefresh(50); // events come in bursts: one re-read for the burst
}

function scheduleRefresh(delay) {
  if (ui.timers.refresh) return;
  ui.timers.refresh = setTimeout(() => {
    ui.timers.refresh = null;
    refresh();
  }, delay);
}

async function refresh() {
  if (!api.token) return;
  if (ui.refreshing) {
    ui.refreshAgain = true;
    return;
  }
  ui.refreshing = true;
  try {
    render(await api.me());
    if (ui.diagnosticsOpen) loadDiagnostics();
  } catch (e) {
    if (e instanceof ApiError && e.sessionEnded) return sessionEnded(e);
    setStreamState('reconnecting');
  } finally {
    ui.refreshing = false;
    if (ui.refreshAgain) {
      ui.refreshAgain = false;
      scheduleRefresh(0);
    }
  }
}

// ---------------------------------------------------------------- rendering

function render(me) {
  if (!api.token) return; // logged out while the call was in flight
  renderChannel(me.session.channel);
  const legs = [...me.interactions].sort((a, b) => Date.parse(a.routed_at) - Date.parse(b.routed_at));
  $('work-state').textContent = 'Work: ' + workState(me, legs);
  const current = new Set();
  for (const leg of legs) {
    current.add(leg.interaction_id);
    if (ui.finished.has(leg.interaction_id)) continue;
    let panel = ui.panels.get(leg.interaction_id);
    if (!panel) {
      panel = createPanel(leg);
      ui.panels.set(leg.interaction_id, panel);
      $('interactions').append(panel);
    }
    updatePanel(panel, leg);
    announce(leg);
  }
  for (const [id, panel] of ui.panels) {
    if (current.has(id)) continue;
    if (panel.leg.state === 'offered' && !panel.answered) {
      toast(`The offer of chat ${panel.leg.chat_id} was withdrawn.`);
    }
    removePanel(id);
  }
  for (const id of ui.finished) if (!current.has(id)) ui.finished.delete(id);
  $('no-interactions').hidden = ui.panels.size > 0;
  if (!ui.panels.size) $('logout-refused').hidden = true; // nothing left in the way of logging out
}

function removePanel(id) {
  const panel = ui.panels.get(id);
  if (!panel) return;
  if (panel.contains(document.activeElement)) $('work-heading').focus(); // keep keyboard users placed
  panel.remove();
  ui.panels.delete(id);
  for (const k of [...ui.announced]) if (k.startsWith(id + ':')) ui.announced.delete(k);
  ui.declineRefused.delete(id);
}

function workState(me, legs) {
  const w = me.work_state; // the bridge's summary: state, busy of max, counts by stage
  if (w && typeof w === 'object' && w.state) {
    const chats = `${w.busy}${w.max ? ' of ' + w.max : ''} chat${w.busy === 1 && !w.max ? '' : 's'}`;
    switch (w.state) {
      case 'idle': return w.max ? `idle (0 of ${w.max} chats)` : 'idle';
      case 'busy': return `busy (${chats})`;
      case 'offered': return `offered: ${w.offered} waiting for you (${chats})`;
      case 'wrap-up': return `wrap-up: ${w.wrap_up} to complete (${chats})`;
    }
  }
  const n = (s) => legs.filter((l) => l.state === s).length;
  const parts = [];
  if (n('offered')) parts.push(`offered (${n('offered')})`);
  if (n('active')) parts.push(`busy with ${n('active')} chat${n('active') > 1 ? 's' : ''}`);
  if (n('wrapup')) parts.push('wrap-up');
  return parts.length ? parts.join(', ') : 'idle';
}

function renderChannel(ch) {
  if (!ch) return;
  const el = $('channel');
  el.dataset.channel = ch.green ? 'green' : 'red';
  el.dataset.reason = ch.reason || '';
  $('channel-label').textContent = ch.green ? 'Chat channel: ready' : 'Chat channel: not ready';
  let reason = '';
  if (!ch.green) {
    reason = ch.message || 'No reason given.';
    if (ch.reason && !reason.includes(ch.reason)) reason += ` (${ch.reason})`;
    if (ch.seconds_to_disconnect) reason += ` Disconnects in ${ch.seconds_to_disconnect} s.`;
  }
  $('channel-reason').textContent = reason;
  setBanner(ch.banner ? ch.message || '' : '', ch.banner);
}

function setBanner(text, force) {
  $('banner-text').textContent = text;
  $('banner').hidden = !(text || force);
}

function createPanel(leg) {
  const panel = $('interaction-template').content.firstElementChild.cloneNode(true);
  const n = ++nextId;
  panel.dataset.interactionId = leg.interaction_id;
  const title = panel.querySelector('.interaction-title');
  title.id = `interaction-${n}-title`;
  title.tabIndex = -1; // focus lands here when the buttons that had it go away
  panel.setAttribute('aria-labelledby', title.id);
  const hint = panel.querySelector('.disposition-hint');
  hint.id = `interaction-${n}-hint`;
  panel.querySelector('.disposition').setAttribute('aria-describedby', hint.id);
  panel.querySelector('.complete').setAttribute('aria-describedby', hint.id);
  // One radio group per panel.
  for (const r of panel.querySelectorAll('input[type=radio]')) r.name = `interaction-${n}-target`;

  panel.querySelector('.accept').addEventListener('click', () => act(panel, 'accept'));
  panel.querySelector('.decline').addEventListener('click', () => act(panel, 'decline'));
  panel.querySelector('.disposition').addEventListener('change', () => updateComplete(panel));
  panel.querySelector('.complete-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    // The disabled button is the guard; the bridge still checks, and its refusal is shown.
    const d = panel.querySelector('.disposition').value;
    act(panel, 'complete', d ? { disposition: d } : {});
  });
  panel.querySelector('.transfer-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const target = panel.querySelector('.transfer-target');
    if (!target.value.trim()) {
      showActionError(panel, 'Give the id of the agent or queue.');
      target.focus();
      return;
    }
    const body = { type: panel.querySelector('.transfer-type').value };
    if (panel.querySelector('.target-queue').checked) body.targetQueueId = target.value.trim();
    else body.targetAgentId = target.value.trim();
    act(panel, 'transfer', body);
  });
  panel.id = `interaction-${n}`;
  return panel;
}

function updatePanel(panel, leg) {
  const prev = panel.leg;
  panel.leg = leg;
  panel.dataset.state = leg.state;
  panel.querySelector('.interaction-title').textContent = `Chat ${leg.chat_id}`;
  panel.querySelector('.state').textContent = stateLabels[leg.state] || leg.state;
  const meta = [leg.queue_name || leg.queue_id];
  if (leg.route_type && leg.route_type !== 'lead') meta.push(leg.route_type);
  meta.push('routed ' + new Date(leg.routed_at).toLocaleTimeString());
  panel.querySelector('.meta').textContent = meta.join(' · ');

  // The message and verbatim code of what went wrong; a leg's code is also set on the way
  // (the CRM's code for a chat that ended normally), which is not for the agent here.
  const failed = (leg.state === 'failed' || leg.state === 'abandoned') && Boolean(leg.code || leg.message);
  show(panel, '.failure', failed);
  panel.querySelector('.failure-message').textContent = failed ? leg.message : '';
  panel.querySelector('.failure-code').textContent = failed ? leg.code : '';

  show(panel, '.offer-actions', leg.state === 'offered');
  panel.querySelector('.decline').hidden = ui.declineRefused.has(leg.interaction_id);
  show(panel, '.complete-form', completable.has(leg.state));
  show(panel, '.transfer', leg.state === 'active');
  if (completable.has(leg.state)) loadDispositions(panel, leg);
  if (prev && prev.state !== leg.state) showActionError(panel, '');
  updateComplete(panel);
}

// show hides or shows a part of a panel, moving focus to the panel's title when the part
// that had it goes away.
function show(panel, selector, visible) {
  const el = panel.querySelector(selector);
  if (!visible && !el.hidden && el.contains(document.activeElement)) {
    el.hidden = true;
    panel.querySelector('.interaction-title').focus();
  }
  el.hidden = !visible;
}

async function loadDispositions(panel, leg) {
  if (panel.rules) return;
  const queue = leg.queue_id;
  if (!ui.dispositions.has(queue)) {
    const p = api.dispositions(queue).catch((e) => {
      ui.dispositions.delete(queue); // try again next time
      throw e;
    });
    ui.dispositions.set(queue, p);
  }
  let rules;
  try {
    rules = await ui.dispositions.get(queue);
  } catch (e) {
    if (e instanceof ApiError && e.sessionEnded) return sessionEnded(e);
    showActionError(panel, 'Could not read the dispositions of this queue: ' + describe(e));
    return;
  }
  if (panel.rules) return;
  panel.rules = rules;
  const select = panel.querySelector('.disposition');
  const list = rules.dispositions || [];
  panel.querySelector('.disposition-label').hidden = list.length === 0;
  select.replaceChildren(new Option('', ''), ...list.map((d) => new Option(d === rules.default ? `${d} (default)` : d, d)));
  updateComplete(panel);
}

function updateComplete(panel) {
  const leg = panel.leg;
  const rules = panel.rules;
  const select = panel.querySelector('.disposition');
  const button = panel.querySelector('.complete');
  const hint = panel.querySelector('.disposition-hint');
  const required = Boolean(rules && rules.required && needsDispositionIn.has(leg.state));
  select.required = required;
  if (select.options.length) select.options[0].text = required ? 'Choose a disposition…' : 'No disposition';
  if (!rules) {
    button.disabled = true;
    hint.textContent = 'Loading the dispositions…';
  } else if (required && !select.value) {
    button.disabled = true;
    hint.textContent = 'This queue requires a disposition: choose one to enable Complete.';
  } else {
    button.disabled = false;
    hint.textContent = '';
  }
  if (panel.busy) {
    for (const b of panel.querySelectorAll('button')) b.disabled = true;
  } else {
    for (const b of panel.querySelectorAll('button:not(.complete)')) b.disabled = false;
  }
}

// announce tells the agent, once per interaction and state, what needs them: a new offer
// (toast and sound), a chat that could not be offered, a customer who left.
function announce(leg) {
  const key = `${leg.interaction_id}:${leg.state}`;
  if (ui.announced.has(key)) return;
  ui.announced.add(key);
  const queue = leg.queue_name || leg.queue_id;
  if (leg.state === 'offered') {
    toast(`New chat offered: ${queue}, chat ${leg.chat_id}. Accept or decline.`);
    beep();
  } else if (leg.state === 'failed') {
    toast(`Chat ${leg.chat_id} could not be offered (${leg.code}). Complete it to free the slot.`);
  } else if (leg.state === 'abandoned') {
    toast(`The customer left chat ${leg.chat_id}. Complete it to free the slot.`);
  }
}

// ---------------------------------------------------------------- actions

const done = {
  accept: (leg) => `Chat ${leg.chat_id} accepted.`,
  decline: (leg) => `Chat ${leg.chat_id} declined: it goes back to the queue.`,
  complete: (leg) => `Chat ${leg.chat_id} completed.`,
  transfer: (leg) => `Asked to hand chat ${leg.chat_id} on: it stays with you until the other side takes it.`,
};

async function act(panel, verb, body) {
  const leg = panel.leg;
  // Disabling the buttons while the call runs takes focus from the one pressed: put it back
  // somewhere sensible afterwards, so keyboard users are not sent back to the top.
  const hadFocus = panel.contains(document.activeElement);
  showActionError(panel, '');
  panel.busy = true;
  // Answered by this agent: the offer leaving the list (before the call returns, when the
  // event comes first) is not news to announce.
  if (verb === 'accept' || verb === 'decline') panel.answered = true;
  updateComplete(panel);
  try {
    const after = await api.act(leg.interaction_id, leg.routing_id, verb, body);
    toast(done[verb](leg));
    if (after && after.state && ui.panels.has(leg.interaction_id)) {
      if (['completed', 'requeued', 'revoked'].includes(after.state)) {
        ui.finished.add(leg.interaction_id);
        removePanel(leg.interaction_id);
      }
      else updatePanel(panel, after);
    }
  } catch (e) {
    if (e instanceof ApiError && e.sessionEnded) return sessionEnded(e);
    panel.answered = false;
    if (e instanceof ApiError && e.code === 'decline_not_allowed') {
      ui.declineRefused.add(leg.interaction_id);
      panel.querySelector('.accept').focus();
      panel.querySelector('.decline').hidden = true;
    }
    showActionError(panel, describe(e));
  } finally {
    panel.busy = false;
    const present = ui.panels.has(leg.interaction_id);
    if (present) updateComplete(panel);
    if (hadFocus && (!document.activeElement || document.activeElement === document.body)) {
      (present ? panel.querySelector('.interaction-title') : $('work-heading')).focus();
    }
    scheduleRefresh(0);
  }
}

function showActionError(panel, text) {
  panel.querySelector('.action-error').textContent = text;
}

// describe is an error for the agent: the bridge's message, with the verbatim CRM code when
// the bridge names one (it puts it in "field" for CRM refusals).
function describe(e) {
  if (!(e instanceof ApiError)) return String(e && e.message ? e.message : e);
  if (e.field && /^[A-Z][A-Z0-9_]+$/.test(e.field)) return `${e.message} (${e.field})`;
  return e.message;
}

// ---------------------------------------------------------------- diagnostics

function toggleDiagnostics() {
  if (ui.diagnosticsOpen) {
    closeDiagnostics();
    $('diagnostics-button').focus();
    return;
  }
  ui.diagnosticsOpen = true;
  $('diagnostics').hidden = false;
  $('diagnostics-button').setAttribute('aria-expanded', 'true');
  $('diagnostics-heading').tabIndex = -1;
  $('diagnostics-heading').focus();
  loadDiagnostics();
}

function closeDiagnostics() {
  ui.diagnosticsOpen = false;
  $('diagnostics').hidden = true;
  $('diagnostics-button').setAttribute('aria-expanded', 'false');
}

async function loadDiagnostics() {
  const status = $('diagnostics-status');
  status.textContent = 'Checking…';
  let d;
  try {
    d = await api.diagnostics();
  } catch (e) {
    if (e instanceof ApiError && e.sessionEnded) return sessionEnded(e);
    status.textContent = 'Could not check: ' + describe(e);
    return;
  }
  const reasons = d.reasons || [];
  $('diagnostics-reasons').replaceChildren(...(reasons.length ? reasons : ['Nothing is in the way: you should get chats.']).map((r) => {
    const li = document.createElement('li');
    li.textContent = r;
    return li;
  }));
  const rows = [];
  const ch = d.channel || {};
  rows.push(['Chat channel', ch.green ? 'ready (green)' : `not ready (red): ${ch.message || ''} ${ch.reason ? '(' + ch.reason + ')' : ''}`]);
  rows.push(['Routing system', d.acd ? (d.acd.ready ? 'ready' : `not ready (${d.acd.reason || 'no reason'})`) : 'no report since you logged in']);
  const crm = d.crm;
  if (crm) {
    rows.push(['CRM chat session', `${crm.code}, ${crm.logged_in ? 'logged in' : 'not logged in'}, presence ${crm.presence || 'unknown'}`]);
    rows.push(['CRM status', `${crm.status_name || 'unknown'} (${crm.status_type || 'unknown'})`]);
    rows.push(['Chat slots', `${crm.active_sessions ?? '?'} of ${crm.max_sessions ?? '?'} in use`]);
  } else {
    rows.push(['CRM chat session', 'the CRM did not answer: ' + (d.crm_error || 'no reason given')]);
  }
  const legs = d.interactions || [];
  if (legs.length) {
    const last = legs[0];
    rows.push(['Last offer', `${stateLabels[last.state] || last.state}${last.code ? ', CRM code ' + last.code : ''}`]);
  }
  for (const l of legs) {
    if (l.wrap_up_due_at) rows.push(['Wrap-up', `completes by itself at ${new Date(l.wrap_up_due_at).toLocaleTimeString()}`]);
  }
  if (d.stream !== undefined && d.stream !== null) rows.push(['Event stream (bridge)', describeValue(d.stream)]);
  rows.push(['Live updates (this page)', $('stream-state').textContent.replace('Live updates: ', '')]);
  $('diagnostics-details').replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    return [dt, dd];
  }));
  status.textContent = 'Checked at ' + new Date().toLocaleTimeString() + '.';
}

// describeValue renders a field whose shape this page does not know in advance as text.
function describeValue(v) {
  if (typeof v !== 'object') return String(v);
  return Object.entries(v).map(([k, x]) => `${k.replaceAll('_', ' ')}: ${typeof x === 'object' && x !== null ? JSON.stringify(x) : x}`).join('; ');
}

// ---------------------------------------------------------------- toast and sound

function toast(text) {
  const el = $('toast');
  el.textContent = text;
  clearTimeout(ui.toastTimer);
  ui.toastTimer = setTimeout(() => {
    el.textContent = '';
  }, 8000);
}

let audio = null;

function unlockSound() {
  try {
    audio ??= new AudioContext();
    if (audio.state === 'suspended') audio.resume();
  } catch {
    // no audio here: the toast still says it
  }
}

// beep is a short two-tone chime made on the spot (no audio file to ship or fetch).
function beep() {
  const root = document.documentElement;
  root.dataset.offerSounds = String(Number(root.dataset.offerSounds || 0) + 1);
  try {
    audio ??= new AudioContext();
    const t = audio.currentTime;
    for (const [freq, at] of [[880, 0], [1320, 0.16]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t + at);
      gain.gain.exponentialRampToValueAtTime(0.2, t + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + at + 0.15);
      osc.connect(gain).connect(audio.destination);
      osc.start(t + at);
      osc.stop(t + at + 0.16);
    }
  } catch {
    // no audio here: the toast still says it
  }
}

boot();
