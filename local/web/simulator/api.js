// Calls to the simulator (same origin, /simulator/api/…). Errors carry the server's message.

export class SimulatorError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function answer(response) {
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (_) {
    body = null;
  }
  if (!response.ok) {
    const message = (body && body.error && body.error.message) || `The simulator answered HTTP ${response.status}`;
    throw new SimulatorError(response.status, message);
  }
  return body;
}

async function request(method, path, body) {
  let response;
  try {
    response = await fetch(`/simulator/api${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (_) {
    throw new SimulatorError(0, 'The simulator cannot be reached: is viberdesk-local still running?');
  }
  return answer(response);
}

export const getState = (params) => request('GET', `/state?${new URLSearchParams(params)}`);
export const post = (path, body = {}) => request('POST', path, body);
export const remove = (path) => request('DELETE', path);

/** Sends a file as the client: the raw bytes, its name and the caption in headers. */
export async function sendFile(client, file, caption) {
  let response;
  try {
    response = await fetch(`/simulator/api/clients/${encodeURIComponent(client)}/files`, {
      method: 'POST',
      headers: {
        'Content-Type': file.type || 'application/octet-stream',
        'X-File-Name': encodeURIComponent(file.name),
        'X-Caption': encodeURIComponent(caption || ''),
      },
      body: file,
    });
  } catch (_) {
    throw new SimulatorError(0, 'The simulator cannot be reached: is viberdesk-local still running?');
  }
  return answer(response);
}
