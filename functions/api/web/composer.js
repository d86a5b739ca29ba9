// The composer: a reply to the client (default) or an internal note, files uploaded straight to
// their presigned URL with a progress bar (refused before upload with the API's reason), quick
// replies from a list or by typing `/` and a title, Ctrl/⌘+Enter to send, the 24-hour window.

import { html, useEffect, useRef, useState } from './vendor/preact-htm.mjs';
import { post, upload } from './api.js';
import { formatAgo, formatDuration, formatSize, t } from './i18n.js';
import { clientName, contentTypeOf, findQuickReplies, previewQuickReply, quickReplyQuery, replyKey, replyWindow } from './model.js';
import { errorText, useApp } from './ui.js';

const MAX_FILES = 10;
let nextKey = 0;

function useUploads(toast) {
  const [files, setFiles] = useState([]);
  const change = (key, patch) => setFiles((list) => list.map((entry) => (entry.key === key ? { ...entry, ...patch } : entry)));
  const add = (picked) => {
    const room = MAX_FILES - files.length;
    for (const file of Array.from(picked).slice(0, Math.max(0, room))) {
      const key = ++nextKey;
      const contentType = contentTypeOf(file);
      setFiles((list) => [...list, { key, name: file.name, size: file.size, progress: 0, state: 'announcing' }]);
      (async () => {
        try {
          const announced = await post('/api/attachments', { file_name: file.name, content_type: contentType, size: file.size });
          const sending = upload(announced.upload_url, file, contentType, (progress) => change(key, { progress }));
          change(key, { id: announced.id, state: 'uploading', abort: sending.abort });
          await sending.done;
          change(key, { state: 'ready', progress: 1, abort: null });
        } catch (error) {
          if (error.code === 'aborted') return;
          const message = errorText(error);
          change(key, { state: 'refused', error: message, abort: null });
          toast(t('uploadFailed', { message: `${file.name}: ${message}` }), 'error');
        }
      })();
    }
  };
  const drop = (key) =>
    setFiles((list) => {
      const entry = list.find((item) => item.key === key);
      if (entry && entry.abort) entry.abort();
      return list.filter((item) => item.key !== key);
    });
  return { files, add, drop, clear: () => setFiles([]) };
}

function FileChip({ entry, onRemove }) {
  return html`<li class=${`file-chip ${entry.state}`}>
    <span class="file-chip-name" title=${entry.name}>${entry.name}</span>
    <span class="muted">${formatSize(entry.size)}</span>
    ${(entry.state === 'uploading' || entry.state === 'announcing') &&
    html`<progress max="100" value=${Math.round(entry.progress * 100)} aria-label=${t('uploading', { name: entry.name })}></progress>`}
    ${entry.state === 'ready' && html`<span class="ok" aria-hidden="true">✓</span>`}
    ${entry.state === 'refused' && html`<span class="field-error">${entry.error}</span>`}
    <button type="button" class="icon-button" aria-label=${t('removeFile', { name: entry.name })} onClick=${onRemove}>×</button>
  </li>`;
}

function QuickList({ replies, active, onPick, id }) {
  return html`<ul class="quick-list" role="listbox" id=${id} aria-label=${t('quickReplies')}>
    ${replies.length === 0 && html`<li class="muted quick-empty">${t('noQuickReplies')}</li>`}
    ${replies.map(
      (reply, index) => html`<li
        key=${reply.id}
        role="option"
        aria-label=${reply.title}
        id=${`${id}-${index}`}
        aria-selected=${index === active ? 'true' : 'false'}
        class=${index === active ? 'active' : ''}
        onMouseDown=${(event) => {
          event.preventDefault();
          onPick(reply);
        }}
      >
        <strong>${reply.title}</strong>
        <span class="muted ellipsis">${reply.text}</span>
      </li>`,
    )}
  </ul>`;
}

function WindowNotice({ task }) {
  const free = replyWindow(task.last_message_at);
  if (!free) return null;
  const ago = formatAgo(task.last_message_at);
  return free.open
    ? html`<span class="window open">🕓 ${t('window24Inside', { ago, left: formatDuration(free.left) })}</span>`
    : html`<span class="window closed">💳 ${t('window24Outside', { ago })}</span>`;
}

export function Composer({ task, dropped, onSent, onRefused }) {
  const { me, quickReplies, integrations, toast } = useApp();
  const [text, setText] = useState('');
  const [internal, setInternal] = useState(false);
  const [quick, setQuick] = useState(null);
  const [showList, setShowList] = useState(false);
  const [active, setActive] = useState(0);
  const [sending, setSending] = useState(false);
  // The Idempotency-Key of the reply being sent: kept while a failed send is tried again
  // unchanged, so a reply whose first post did land (its answer lost) is not sent twice.
  const pendingKey = useRef(null);
  const box = useRef(null);
  const fileInput = useRef(null);
  const uploads = useUploads(toast);

  useEffect(() => {
    if (dropped) uploads.add(dropped.files);
  }, [dropped]);

  const bot = integrations.find((integration) => integration.id === task.integration_id);
  const requester = task.requester || {};
  const values = {
    client_name: clientName(task),
    client_phone: requester.phone,
    staff_name: me.name,
    bot_name: bot && bot.bot ? bot.bot.name : bot && bot.name,
  };
  const slash = quickReplyQuery(text);
  const suggestions = slash !== null && !quick ? findQuickReplies(quickReplies, slash).slice(0, 8) : [];
  const listed = showList ? quickReplies : suggestions;
  const listOpen = showList || suggestions.length > 0;

  const pick = (reply) => {
    setQuick(reply);
    setText(previewQuickReply(reply.text, values));
    setShowList(false);
    setActive(0);
    box.current && box.current.focus();
  };

  const busy = uploads.files.some((entry) => entry.state === 'uploading' || entry.state === 'announcing');
  const ready = uploads.files.filter((entry) => entry.state === 'ready');
  const canSend = !sending && !busy && (quick || text.trim() || ready.length > 0);

  const send = async () => {
    if (!canSend) return;
    const body = { notify_client: !internal };
    if (quick) body.quick_reply_id = quick.id;
    else if (text.trim()) body.text = text;
    if (ready.length) body.attachment_ids = ready.map((entry) => entry.id);
    setSending(true);
    pendingKey.current = replyKey(pendingKey.current, JSON.stringify([task.id, body]));
    try {
      await post(`/api/tasks/${encodeURIComponent(task.id)}/comments`, body, { 'Idempotency-Key': pendingKey.current.key });
      pendingKey.current = null;
      setText('');
      setQuick(null);
      uploads.clear();
      onSent();
    } catch (error) {
      toast(t('sendFailed', { message: errorText(error) }), 'error');
      // A refusal often means the task or its client changed (unsubscribed, bot disconnected).
      onRefused();
    } finally {
      setSending(false);
      box.current && box.current.focus();
    }
  };

  const onKeyDown = (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      send();
      return;
    }
    if (!listOpen || listed.length === 0) {
      if (event.key === 'Escape' && showList) setShowList(false);
      return;
    }
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      setActive((index) => (index + step + listed.length) % listed.length);
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      event.preventDefault();
      pick(listed[Math.min(active, listed.length - 1)]);
    } else if (event.key === 'Escape') {
      setShowList(false);
      if (slash !== null) setText('');
    }
  };

  const onInput = (event) => {
    const value = event.target.value;
    setText(value);
    // Edited, a quick reply becomes the staff member's own text.
    if (quick) setQuick(null);
    setActive(0);
  };

  const unsubscribed = requester.subscribed === false;
  return html`<div class=${`composer${internal ? ' note-mode' : ''}`}>
    ${listOpen && html`<${QuickList} id="quick-replies-list" replies=${listed} active=${active} onPick=${pick} />`}
    ${quick &&
    html`<div class="quick-chip">
      <span>⚡ ${t('quickReplyChosen')}: <strong>${quick.title}</strong></span>
      <button type="button" class="icon-button" aria-label=${t('removeQuickReply')} onClick=${() => { setQuick(null); setText(''); }}>×</button>
    </div>`}
    ${uploads.files.length > 0 &&
    html`<ul class="file-chips">${uploads.files.map((entry) => html`<${FileChip} key=${entry.key} entry=${entry} onRemove=${() => uploads.drop(entry.key)} />`)}</ul>`}
    <textarea
      ref=${box}
      class="reply-box"
      aria-label=${t('reply')}
      placeholder=${internal ? t('notePlaceholder') : t('replyPlaceholder')}
      rows="3"
      value=${text}
      aria-controls=${listOpen ? 'quick-replies-list' : undefined}
      aria-expanded=${listOpen ? 'true' : 'false'}
      aria-autocomplete="list"
      onInput=${onInput}
      onKeyDown=${onKeyDown}
      onPaste=${(event) => event.clipboardData?.files?.length && uploads.add(event.clipboardData.files)}
    ></textarea>
    <div class="composer-bar">
      <label class="switch">
        <input type="checkbox" role="switch" checked=${internal} onChange=${(e) => setInternal(e.target.checked)} />
        <span>${t('internalNote')}</span>
      </label>
      <label class="button ghost attach" title=${t('attachFiles')}>
        <span aria-hidden="true">📎</span>
        <input ref=${fileInput} type="file" multiple class="file-input" aria-label=${t('attachFiles')} onChange=${(e) => {
          uploads.add(e.target.files);
          e.target.value = '';
        }} />
      </label>
      <button
        type="button"
        class="button ghost quick-button"
        aria-expanded=${showList ? 'true' : 'false'}
        onClick=${() => {
          setShowList(!showList);
          setActive(0);
        }}
>${t('quickReplies')}</button>
      <span class="spacer"></span>
      <button type="button" class="button primary" disabled=${!canSend} onClick=${send}>${sending ? t('sending') : t('send')}</button>
    </div>
    <div class="composer-notes" aria-live="polite">
      ${internal ? html`<span class="window note">🔒 ${t('noteMode')}</span>` : html`<${WindowNotice} task=${task} />`}
      ${!internal && unsubscribed && html`<span class="window closed">⚠ ${t('unsubscribedWarning')}</span>`}
    </div>
  </div>`;
}
