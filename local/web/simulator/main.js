// The Viber client simulator of viberdesk's demo mode: pick or create a simulated client, chat
// with the bot as them, and make Viber misbehave. The page polls the simulator's state every
// second while visible; the chosen client is kept in the URL's hash (`#c12`).

import { html, render, useEffect, useRef, useState } from './preact.js';
import { getState, post } from './api.js';
import { NewClientForm, ClientPicker, Phone } from './phone.js';
import { Panel } from './panel.js';

const VISIBLE_POLL_MS = 1000;
const HIDDEN_POLL_MS = 5000;
const LOG_KEPT = 200;

function selectedFromHash() {
  const key = decodeURIComponent(location.hash.replace(/^#/, ''));
  return /^c\d+$/.test(key) ? key : '';
}

function Toasts({ toasts }) {
  return html`<div class="toasts" role="status" aria-live="polite">
    ${toasts.map((toast) => html`<div key=${toast.id} class=${`toast ${toast.kind}`}>${toast.text}</div>`)}
  </div>`;
}

function App() {
  const [view, setView] = useState(null);
  const [clients, setClients] = useState([]);
  const [selected, setSelected] = useState(selectedFromHash());
  const [log, setLog] = useState([]);
  const [creating, setCreating] = useState(false);
  const [busy, setBusy] = useState(false);
  const [toasts, setToasts] = useState([]);
  const known = useRef({ clientsVersion: null, logAfter: 0, selected: selectedFromHash() });
  const nextToast = useRef(0);
  const polling = useRef(null);

  const toast = (text, kind = 'info') => {
    const id = ++nextToast.current;
    setToasts((list) => [...list.slice(-2), { id, text, kind }]);
    setTimeout(() => setToasts((list) => list.filter((t) => t.id !== id)), kind === 'error' ? 7000 : 3500);
  };

  const refresh = async () => {
    const wanted = known.current.selected;
    const params = { log_after: String(known.current.logAfter) };
    if (wanted) params.client = wanted;
    if (known.current.clientsVersion !== null) params.clients_version = String(known.current.clientsVersion);
    let next;
    try {
      next = await getState(params);
    } catch (failure) {
      setView((current) => current && { ...current, offline: failure.message });
      return;
    }
    if (wanted !== known.current.selected) return; // the choice changed meanwhile
    if (next.clients) {
      setClients(next.clients);
      known.current.clientsVersion = next.clients_version;
      if (!wanted && next.clients.length) choose(next.clients[next.clients.length - 1].key);
    }
    if (next.log.length) {
      known.current.logAfter = next.log[next.log.length - 1].id;
      setLog((lines) => [...lines, ...next.log].slice(-LOG_KEPT));
    }
    setView(next);
    // The chat is on screen: what the bot sent is seen now.
    if (next.chat && next.chat.unread > 0 && document.visibilityState === 'visible') {
      post(`/clients/${encodeURIComponent(next.chat.client.key)}/seen`, {}).catch(() => {});
    }
  };

  const choose = (key) => {
    known.current.selected = key;
    setSelected(key);
    history.replaceState(null, '', key ? `#${key}` : location.pathname);
    refresh();
  };

  useEffect(() => {
    let stopped = false;
    const loop = async () => {
      if (stopped) return;
      await refresh();
      const pause = document.visibilityState === 'visible' ? VISIBLE_POLL_MS : HIDDEN_POLL_MS;
      polling.current = setTimeout(loop, pause);
    };
    loop();
    const onVisible = () => {
      if (document.visibilityState === 'visible') refresh();
    };
    const onHash = () => {
      const key = selectedFromHash();
      if (key && key !== known.current.selected) choose(key);
    };
    document.addEventListener('visibilitychange', onVisible);
    window.addEventListener('hashchange', onHash);
    return () => {
      stopped = true;
      clearTimeout(polling.current);
      document.removeEventListener('visibilitychange', onVisible);
      window.removeEventListener('hashchange', onHash);
    };
  }, []);

  /** Runs an action; answers whether it worked. The webhook's refusals are shown, not thrown. */
  const act = async (action) => {
    setBusy(true);
    try {
      const outcome = await action();
      if (outcome && outcome.accepted === false && outcome.webhook) {
        toast(`The webhook answered ${outcome.webhook}: Viber will try again.`, 'error');
      }
      return true;
    } catch (failure) {
      toast(failure.message, 'error');
      return false;
    } finally {
      setBusy(false);
      refresh();
    }
  };

  if (!view) return html`<main class="splash">Viber client simulator</main>`;
  const chat = view.chat && view.chat.client.key === selected ? view.chat : null;
  const bot = chat ? view.bots.find((b) => b.key === chat.client.bot) : view.bots[0];
  return html`<div class="app">
    <header class="top">
      <div class="brand"><span class="brand-mark" aria-hidden="true">◆</span> viberdesk demo · <span class="muted">Viber client simulator</span></div>
      <nav><a href="/" target="_blank" rel="noopener">Open the staff inbox</a></nav>
    </header>
    ${view.offline && html`<p class="offline" role="alert">${view.offline}</p>`}
    <main class="layout">
      <div class="phone-column">
        <${ClientPicker}
          clients=${clients}
          unread=${view.unread || {}}
          severalBots=${view.bots.length > 1}
          selected=${selected}
          onSelect=${choose}
          onNew=${() => setCreating(true)}
        />
        ${creating
          ? html`<${NewClientForm}
              bots=${view.bots}
              toast=${toast}
              onCancel=${() => setCreating(false)}
              onCreated=${(client) => {
                setCreating(false);
                known.current.clientsVersion = null;
                choose(client.key);
              }}
            />`
          : html`<${Phone} chat=${chat} bot=${bot} stickers=${view.stickers} busy=${busy} act=${act} toast=${toast} />`}
      </div>
      <${Panel} view=${view} log=${log} act=${act} busy=${busy} />
    </main>
    <${Toasts} toasts=${toasts} />
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
