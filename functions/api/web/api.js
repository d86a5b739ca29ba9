// The staff API, same origin. The token lives in sessionStorage only (never a cookie or a URL),
// goes out as the Bearer header, and is forgotten on sign-out and on any 401.

const TOKEN_KEY = 'viberdesk.token';

export const session = {
  token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  save(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** A refused or failed call: HTTP status (0 when the server was not reached), code, message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let unauthorized = () => {};
/** What to do when the API answers 401: the token is already forgotten. */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/**
 * Calls the API. Answers `{status, data, etag}`; `data` is null for 204 and 304. With `etag`,
 * sends `If-None-Match` (the answer is then 304 when nothing changed); `extraHeaders` are sent as
 * given (a reply's `Idempotency-Key`).
 */
export async function call(method, path, { body, etag, extraHeaders = {}, token = session.token() } = {}) {
  const headers = { Accept: 'application/json', ...extraHeaders };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (etag) headers['If-None-Match'] = etag;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, 'network', 'network');
  }
  if (response.status === 401) {
    // A session ends only if there was one: a wrong token typed on the sign-in page is just refused.
    const signedIn = session.token() !== null;
    session.clear();
    if (signedIn) unauthorized();
    throw new ApiError(401, 'unauthorized', 'unauthorized');
  }
  if (response.status === 204 || response.status === 304) {
    return { status: response.status, data: null, etag: response.headers.get('ETag') };
  }
  let data = null;
  const text = await response.text().catch(() => '');
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = data && data.error ? data.error : {};
    throw new ApiError(response.status, error.code || `http_${response.status}`, error.message || response.statusText || `HTTP ${response.status}`);
  }
  return { status: response.status, data, etag: response.headers.get('ETag') };
}

export const get = async (path, options) => (await call('GET', path, options)).data;
export const post = async (path, body, extraHeaders) => (await call('POST', path, { body, extraHeaders })).data;
export const patch = async (path, body) => (await call('PATCH', path, { body })).data;
export const remove = async (path) => (await call('DELETE', path)).data;

/** `?a=1&b=2` from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** Every item of a paginated list, following `next_cursor` (at most `maxPages` pages). */
export async function all(path, maxPages = 10) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const separator = path.includes('?') ? '&' : '?';
    const answer = await get(`${path}${separator}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...(answer.items || []));
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return items;
}

/**
 * Puts a file's bytes to a presigned upload URL, reporting progress (0..1). Resolves when the
 * store accepted them; rejects with an ApiError otherwise. `abort()` on the returned handle stops it.
 */
export function upload(url, file, contentType, onProgress) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open('PUT', url);
    xhr.setRequestHeader('Content-Type', contentType);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
      } else {
        reject(new ApiError(xhr.status, 'upload_refused', (xhr.responseText || '').slice(0, 200) || `HTTP ${xhr.status}`));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'network'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'aborted'));
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}
