// The media-bar API as the page uses it: JSON over fetch with the agent's bearer token, and
// the live event stream. Nothing here touches the page.

// The API lives beside /mediabar/ on the same origin; a relative address keeps the page
// working behind a proxy that mounts the bridge under a path prefix.
const apiBase = new URL('../v1/mediabar/', document.baseURI);

// ApiError is a refused or failed call: status, the server's stable code ("error"), its
// message for people, and the field at fault where there is one.
export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `The bridge answered HTTP ${status}.`);
    this.status = status;
    this.code = body.error || '';
    this.field = body.field || '';
    this.body = body;
  }

  // sessionEnded: the token or the media-bar session is gone; only logging in again helps.
  get sessionEnded() {
    return this.status === 401;
  }
}

export class Api {
  constructor() {
    this.token = '';
  }

  async call(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.token) headers.Authorization = 'Bearer ' + this.token;
    let resp;
    try {
      resp = await fetch(new URL(path, apiBase), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch {
      throw new ApiError(0, { error: 'network', message: 'The bridge did not answer. Check your network connection.' });
    }
    if (resp.status === 204) return null;
    const text = await resp.text();
    let data = {};
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = { message: `The bridge answered HTTP ${resp.status} with a body that is not JSON.` };
      }
    }
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  }

  login(req) { return this.call('POST', 'login', req); }
  refresh() { return this.call('POST', 'token'); }
  logout() { return this.call('POST', 'logout'); }
  me() { return this.call('GET', 'me'); }
  diagnostics() { return this.call('GET', 'diagnostics'); }
  dispositions(queue) { return this.call('GET', 'dispositions?queue=' + encodeURIComponent(queue)); }
  // act acts on one leg: the routing is named, so an action meant for one leg of an
  // interaction never lands on another the agent also holds.
  act(id, routingId, verb, body) {
    const leg = routingId ? '?routing_id=' + encodeURIComponent(routingId) : '';
    return this.call('POST', `interactions/${encodeURIComponent(id)}/${verb}${leg}`, body);
  }

  // events opens the agent's stream. EventSource cannot set headers, so the token goes in the
  // query; afterId resumes after the last event seen (a new EventSource, unlike the browser's
  // own reconnect, does not send Last-Event-ID).
  events(afterId) {
    const u = new URL('events', apiBase);
    u.searchParams.set('access_token', this.token);
    if (afterId) u.searchParams.set('last_event_id', afterId);
    return new EventSource(u);
  }
}
