// Small shared pieces: the app context, avatars, toasts, copy buttons, the lightbox. Everything
// is built with htm: client text always lands in text nodes or attribute values, never in HTML.

import { createContext, html, useContext, useEffect, useRef, useState } from './vendor/preact-htm.mjs';
import { t } from './i18n.js';
import { colourIndex, initials } from './model.js';

export { html };

/** me, staff (by id), integrations, quickReplies, toast(), reloadShared(). */
export const AppContext = createContext(null);
export const useApp = () => useContext(AppContext);

/** A message of an error for people: the API's own message, or what went wrong. */
export function errorText(error) {
  if (!error) return '';
  if (error.code === 'network') return t('error_network');
  return error.message || String(error);
}

/** A round picture: the avatar when it has a same-origin URL, else coloured initials. */
export function Avatar({ name, url, size = 'md' }) {
  const [broken, setBroken] = useState(false);
  const usable = url && !broken && (url.startsWith('/') || url.startsWith(location.origin));
  if (usable) {
    return html`<img class=${`avatar ${size}`} src=${url} alt="" onError=${() => setBroken(true)} />`;
  }
  return html`<span class=${`avatar ${size} c${colourIndex(name)}`} aria-hidden="true">${initials(name)}</span>`;
}

/** The toasts: non-blocking messages in the corner; errors stay a little longer. */
export function useToasts() {
  const [toasts, setToasts] = useState([]);
  const next = useRef(0);
  const dismiss = (id) => setToasts((list) => list.filter((toast) => toast.id !== id));
  const toast = (text, kind = 'info') => {
    const id = ++next.current;
    setToasts((list) => [...list.slice(-3), { id, text, kind }]);
    setTimeout(() => dismiss(id), kind === 'error' ? 8000 : 4000);
  };
  return [toasts, toast, dismiss];
}

export function Toasts({ toasts, dismiss }) {
  return html`<div class="toasts" role="status" aria-live="polite">
    ${toasts.map(
      (toast) => html`<div key=${toast.id} class=${`toast ${toast.kind}`}>
        <span>${toast.text}</span>
        <button type="button" class="icon-button" aria-label=${t('close')} onClick=${() => dismiss(toast.id)}>×</button>
      </div>`,
    )}
  </div>`;
}

/** Copies a text, with a fallback for browsers without the async clipboard. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.append(area);
    area.select();
    const copied = document.execCommand('copy');
    area.remove();
    return copied;
  }
}

/** A read-only value with a Copy button (webhook URLs, deep links, new tokens). */
export function CopyField({ label, value, id }) {
  const { toast } = useApp();
  const copy = async () => toast(t((await copyText(value)) ? 'copied' : 'copyFailed'), 'info');
  return html`<div class="copy-field">
    <label for=${id}>${label}</label>
    <div class="copy-row">
      <input id=${id} type="text" readonly value=${value} onFocus=${(e) => e.target.select()} />
      <button type="button" class="button" onClick=${copy}>${t('copy')}</button>
    </div>
  </div>`;
}

/** A full-size picture over the page; Escape or a click closes it. */
export function Lightbox({ src, alt, onClose }) {
  const closeButton = useRef(null);
  useEffect(() => {
    const onKey = (event) => event.key === 'Escape' && onClose();
    document.addEventListener('keydown', onKey);
    closeButton.current && closeButton.current.focus();
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  return html`<div class="lightbox" role="dialog" aria-modal="true" aria-label=${alt} onClick=${onClose}>
    <img src=${src} alt=${alt} />
    <button ref=${closeButton} type="button" class="icon-button lightbox-close" aria-label=${t('close')} onClick=${onClose}>×</button>
  </div>`;
}

/** Calls `fn` every `delay` ms (or whatever `delay(visible)` answers) while mounted. */
export function useVisibilityPoll(fn, deps, delayOf) {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    let timer = null;
    let stopped = false;
    const tick = async () => {
      let wait;
      try {
        wait = await saved.current();
      } catch {
        wait = undefined;
      }
      if (stopped) return;
      timer = setTimeout(tick, wait || delayOf(document.visibilityState === 'visible'));
    };
    timer = setTimeout(tick, delayOf(document.visibilityState === 'visible'));
    const onVisibility = () => {
      if (document.visibilityState === 'visible') {
        clearTimeout(timer);
        tick();
      }
    };
    document.addEventListener('visibilitychange', onVisibility);
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, deps);
}

export function Empty({ children, icon = '💬' }) {
  return html`<div class="empty"><div class="empty-icon" aria-hidden="true">${icon}</div><div>${children}</div></div>`;
}

export function ErrorBox({ error, onRetry }) {
  return html`<div class="error-box" role="alert">
    <span>${t('loadFailed', { message: errorText(error) })}</span>
    ${onRetry && html`<button type="button" class="button" onClick=${onRetry}>${t('retry')}</button>`}
  </div>`;
}

export const statusLabel = (status) => t(`status_${status}`);

/** The inputs of a group, labels and fields: a contact's, or a bot's template for new contacts. */
export function SortingFields({ prefix, value, onChange }) {
  const set = (key) => (event) => onChange({ ...value, [key]: event.target.value });
  const hint = (key, text) => html`<small id=${`${prefix}-${key}-hint`} class="muted">${text}</small>`;
  return html`<div class="field">
      <label for=${`${prefix}-group`}>${t('group')}</label>
      <input id=${`${prefix}-group`} type="text" maxlength="64" value=${value.group} onInput=${set('group')} />
    </div>
    <div class="field">
      <label for=${`${prefix}-labels`}>${t('labels')}</label>
      <input id=${`${prefix}-labels`} type="text" value=${value.labels} onInput=${set('labels')} aria-describedby=${`${prefix}-labels-hint`} />
      ${hint('labels', t('labelsHint'))}
    </div>
    <div class="field">
      <label for=${`${prefix}-fields`}>${t('fields')}</label>
      <textarea id=${`${prefix}-fields`} rows="2" value=${value.fields} onInput=${set('fields')} aria-describedby=${`${prefix}-fields-hint`}></textarea>
      ${hint('fields', t('fieldsHint'))}
    </div>`;
}
