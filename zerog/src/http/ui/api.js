// The dashboard's client of the JSON API: where the API is, the bearer token, requests,
// and event streams read with fetch so that the token travels in a header, never in a
// URL.
'use strict';

const Api = (() => {
  const root = document.documentElement;
  const settings = {
    tokenRequired: root.dataset.token === 'required',
    readOnly: root.dataset.readOnly === 'true',
  };

  // The view is the end of the path; whatever comes before `/ui` is where the API is
  // mounted, so that every URL below works under any prefix.
  const VIEW = /\/ui(\/(?:jobs(?:\/[^/]+)?|submit\/[^/]+|workers|schedules|queues))?\/?$/;
  const found = location.pathname.match(VIEW);
  const base = found ? location.pathname.slice(0, found.index) : '';
  const view = found ? (found[1] || '') : '';

  /** The URL of the API path `path` (which starts with `/`). */
  function url(path) {
    return base + path;
  }

  /** The URL of a dashboard view, such as `/jobs`. */
  function page(path) {
    return base + '/ui' + path;
  }

  const TOKEN_KEY = 'zerog.token';
  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  }
  function setToken(value) {
    if (value) {
      sessionStorage.setItem(TOKEN_KEY, value);
    } else {
      sessionStorage.removeItem(TOKEN_KEY);
    }
  }

  /** An answer other than 2xx, with the API's error body. */
  class ApiError extends Error {
    constructor(status, body) {
      const message = body && typeof body === 'object' && body.message
        ? body.message
        : `the server answered ${status}`;
      super(message);
      this.status = status;
      this.body = body && typeof body === 'object' ? body : {};
    }
    get kind() {
      return this.body.error || '';
    }
    get details() {
      return Array.isArray(this.body.details) ? this.body.details : [];
    }
  }

  const unauthorizedListeners = [];
  function onUnauthorized(listener) {
    unauthorizedListeners.push(listener);
  }

  function headers(accept) {
    const result = { Accept: accept };
    if (token()) {
      result.Authorization = 'Bearer ' + token();
    }
    return result;
  }

  /**
   * Sends `method path` with `body` as JSON, and answers the decoded JSON. Every
   * request that changes state says `Content-Type: application/json`, as the API
   * requires.
   */
  async function request(method, path, body) {
    const init = { method, headers: headers('application/json'), credentials: 'same-origin' };
    if (method !== 'GET' && method !== 'HEAD') {
      init.headers['Content-Type'] = 'application/json';
      if (body !== undefined) {
        init.body = JSON.stringify(body);
      }
    }
    const response = await fetch(url(path), init);
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = text;
    }
    if (response.status === 401) {
      unauthorizedListeners.forEach((listener) => listener());
    }
    if (!response.ok) {
      throw new ApiError(response.status, data);
    }
    return data;
  }

  const get = (path) => request('GET', path);
  const post = (path, body) => request('POST', path, body);
  const del = (path) => request('DELETE', path);

  /**
   * Follows the Server-Sent Events at `path`, calling `onEvent({event, data})` for each,
   * until the stream ends or `signal` aborts. `EventSource` cannot send a header, so
   * the stream is read from fetch's body and parsed here.
   */
  async function stream(path, onEvent, signal) {
    const response = await fetch(url(path), {
      headers: headers('text/event-stream'),
      credentials: 'same-origin',
      signal,
    });
    if (response.status === 401) {
      unauthorizedListeners.forEach((listener) => listener());
    }
    if (!response.ok || !response.body) {
      let body = null;
      try {
        body = await response.json();
      } catch (_) {
        body = null;
      }
      throw new ApiError(response.status, body);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        return;
      }
      buffer += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseEvent(block);
        if (event) {
          onEvent(event);
        }
      }
    }
  }

  /** One event of a stream, or null for a comment (a keep-alive). */
  function parseEvent(block) {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) {
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) {
        value = value.slice(1);
      }
      if (field === 'event') {
        event = value;
      } else if (field === 'data') {
        data.push(value);
      }
    }
    if (data.length === 0) {
      return null;
    }
    let parsed;
    try {
      parsed = JSON.parse(data.join('\n'));
    } catch (_) {
      parsed = data.join('\n');
    }
    return { event, data: parsed };
  }

  return {
    settings, base, view, url, page, token, setToken, ApiError, onUnauthorized,
    request, get, post, del, stream, parseEvent,
  };
})();
