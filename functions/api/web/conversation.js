// The open conversation: the thread oldest first (client messages, staff replies with their
// ticks, internal notes), every Viber message type, kept live by polling the comments with
// If-None-Match, and the composer below it (files can be dropped anywhere on the pane).

import { html, useEffect, useLayoutEffect, useRef, useState } from './vendor/preact-htm.mjs';
import { call, get, query } from './api.js';
import { formatFull, formatSize, formatTime, t } from './i18n.js';
import { attachmentKind, awaitingTicks, clientName, linkify, mapLink, mergeComments, messageKind, tick } from './model.js';
import { Avatar, ErrorBox, Lightbox, useApp, useVisibilityPoll } from './ui.js';
import { Composer } from './composer.js';

const PAGE = 100;
const MAX_PAGES = 20;

/** Download links expire (15 minutes): each attachment's is fetched once and renewed when old. */
const downloads = new Map();
/** Signing out forgets them with everything else of the session. */
export const forgetDownloads = () => downloads.clear();
function attachmentInfo(id) {
  const cached = downloads.get(id);
  const fresh = cached && (!cached.expires || cached.expires - Date.now() > 60000);
  if (fresh) return cached.promise;
  const promise = get(`/api/attachments/${encodeURIComponent(id)}`).then((info) => {
    downloads.set(id, { promise, expires: info.expires_at ? Date.parse(info.expires_at) : 0 });
    return info;
  });
  downloads.set(id, { promise, expires: 0 });
  promise.catch(() => downloads.delete(id));
  return promise;
}

function Attachment({ attachment, sticker }) {
  const [info, setInfo] = useState(null);
  const [failed, setFailed] = useState(false);
  const [full, setFull] = useState(false);
  useEffect(() => {
    if (attachment.available === false) return;
    attachmentInfo(attachment.id).then(setInfo, () => setFailed(true));
  }, [attachment.id, attachment.available]);
  const kind = attachmentKind(attachment);
  const name = attachment.file_name || t('file');
  const url = info && info.available !== false ? info.download_url : null;
  if (attachment.available === false || (info && !url) || failed) {
    const reason = attachment.unavailable_reason || (info && info.unavailable_reason);
    return html`<div class="file unavailable">
      <span class="file-icon" aria-hidden="true">⚠</span>
      <span><span class="file-name">${name}</span><span class="muted"> · ${t('fileUnavailable')}${reason ? `: ${reason}` : ''}</span></span>
    </div>`;
  }
  if (kind === 'image') {
    return html`<figure class=${sticker ? 'sticker' : 'thumb'}>
      ${url
        ? html`<button type="button" class="thumb-button" aria-label=${`${t('openFull')}: ${name}`} onClick=${() => setFull(true)}>
            <img src=${url} alt=${name} loading="lazy" />
          </button>`
        : html`<div class="thumb-placeholder" aria-busy="true"></div>`}
      ${full && html`<${Lightbox} src=${url} alt=${name} onClose=${() => setFull(false)} />`}
    </figure>`;
  }
  return html`<div class="file">
    <span class="file-icon" aria-hidden="true">${kind === 'video' ? '🎬' : '📄'}</span>
    <span class="file-text">
      ${url ? html`<a class="file-name" href=${url} download=${name} rel="noopener noreferrer">${name}</a>` : html`<span class="file-name">${name}</span>`}
      <span class="muted"> · ${kind === 'video' ? `${t('video')} · ` : ''}${formatSize(attachment.size)}</span>
    </span>
  </div>`;
}

function Text({ text }) {
  return html`<p class="text">${linkify(text).map((part) =>
    part.url ? html`<a href=${part.url} target="_blank" rel="noopener noreferrer">${part.url}</a>` : part.text,
  )}</p>`;
}

function Body({ comment }) {
  const kind = messageKind(comment);
  const attachments = comment.attachments || [];
  const parts = [];
  if (kind === 'location') {
    const link = mapLink(comment.location);
    const where = comment.location ? `${Number(comment.location.lat).toFixed(5)}, ${Number(comment.location.lon).toFixed(5)}` : '';
    parts.push(html`<div class="special"><span aria-hidden="true">📍</span> <strong>${t('location')}</strong> ${where}
      ${link && html` · <a href=${link} target="_blank" rel="noopener noreferrer">${t('openMap')}</a>`}</div>`);
  } else if (kind === 'contact') {
    const shared = comment.shared_contact || {};
    parts.push(html`<div class="special"><span aria-hidden="true">👤</span> <strong>${t('contact')}</strong> ${shared.name || ''}
      ${shared.phone && html` · <a href=${`tel:${shared.phone.replace(/[^\d+]/g, '')}`}>${shared.phone}</a>`}</div>`);
  } else if (kind === 'sticker' && attachments.length === 0) {
    parts.push(html`<div class="special"><span aria-hidden="true">🧩</span> ${t('sticker')}</div>`);
  }
  if (comment.text) parts.push(html`<${Text} text=${comment.text} />`);
  if (attachments.length) {
    parts.push(html`<div class="attachments">${attachments.map(
      (attachment) => html`<${Attachment} key=${attachment.id} attachment=${attachment} sticker=${kind === 'sticker'} />`,
    )}</div>`);
  }
  if (parts.length === 0) parts.push(html`<p class="text muted">${t(kind in { picture: 1, video: 1, file: 1 } ? kind : 'message')}</p>`);
  return parts;
}

function Status({ comment }) {
  const shown = tick(comment.status);
  if (!shown) return null;
  return html`<span class=${`tick ${shown.cls}`}>
    <span class="tick-mark" aria-hidden="true">${shown.symbol}</span>
    <span class="tick-text">${t(`st_${comment.status}`)}${comment.status === 'failed' && comment.status_reason
      ? html`<span class="tick-reason">: ${comment.status_reason}</span>`
      : ''}</span>
  </span>`;
}

function Message({ comment, requesterName }) {
  const { staff, me } = useApp();
  const fromClient = comment.author && comment.author.type === 'contact';
  const internal = !fromClient && (comment.status === 'internal' || comment.notify_client === false);
  const member = !fromClient && staff.get(comment.author && comment.author.id);
  const author = fromClient
    ? requesterName || t('client')
    : member
      ? member.name
      : me && comment.author && comment.author.id === me.id
        ? me.name
        : t('deletedMember');
  const kind = messageKind(comment);
  const cls = fromClient ? 'client' : internal ? 'internal' : 'staff';
  return html`<article class=${`message ${cls}${kind === 'sticker' ? ' is-sticker' : ''}`} data-id=${comment.id}>
    <header class="message-head">
      <span class="author">${author}</span>
      ${internal && html`<span class="note-badge"><span aria-hidden="true">🔒</span> ${t('internalLabel')}</span>`}
      <time datetime=${comment.created_at} title=${formatFull(comment.created_at)}>${formatTime(comment.created_at)}</time>
    </header>
    <div class="message-body"><${Body} comment=${comment} /></div>
    ${!fromClient && !internal && html`<footer class="message-foot"><${Status} comment=${comment} /></footer>`}
  </article>`;
}

/** The comments of a task, all pages, then polled from the last page with its ETag. */
function useComments(taskId, changed) {
  const [comments, setComments] = useState(null);
  const [error, setError] = useState(null);
  const lastPage = useRef({ cursor: null, etag: null, start: 0 });
  const current = useRef([]);
  const lastFetch = useRef(0);

  const fetchFrom = async (cursor, etag) => {
    const items = [];
    let pageCursor = cursor;
    let last = { cursor, etag: null, offset: 0 };
    for (let n = 0; n < MAX_PAGES; n += 1) {
      const path = `/api/tasks/${encodeURIComponent(taskId)}/comments${query({ limit: PAGE, cursor: pageCursor })}`;
      const answer = await call('GET', path, { etag: n === 0 ? etag : undefined });
      if (answer.status === 304) return null;
      last = { cursor: pageCursor, etag: answer.etag, offset: items.length };
      items.push(...((answer.data && answer.data.items) || []));
      const next = answer.data && answer.data.next_cursor;
      if (!next) break;
      pageCursor = next;
    }
    return { items, last };
  };

  const refresh = async () => {
    lastFetch.current = Date.now();
    const page = lastPage.current;
    const fresh = await fetchFrom(page.cursor, page.etag);
    if (!fresh) return;
    const kept = current.current.slice(0, page.start);
    const merged = mergeComments(kept, fresh.items);
    current.current = merged;
    lastPage.current = { cursor: fresh.last.cursor, etag: fresh.last.etag, start: page.start + fresh.last.offset };
    setComments(merged);
    setError(null);
  };

  useEffect(() => {
    current.current = [];
    lastPage.current = { cursor: null, etag: null, start: 0 };
    setComments(null);
    refresh().catch(setError);
  }, [taskId]);
  useEffect(() => {
    if (changed) refresh().catch(() => {});
  }, [changed]);
  // New client messages come with the change feed (which refreshes at once); this poll is for
  // ticks: every 4 s while a recent reply can still move, every 20 s otherwise, 60 s hidden.
  useVisibilityPoll(
    async () => {
      const due = awaitingTicks(current.current, Date.now()) || Date.now() - lastFetch.current >= 20000;
      if (!due) return undefined;
      try {
        await refresh();
      } catch (failure) {
        setError((previous) => (comments ? previous : failure));
        return 8000;
      }
      return undefined;
    },
    [taskId],
    (visible) => (visible ? 4000 : 60000),
  );
  return { comments, error, refresh };
}

export function Conversation({ task, changed, onTogglePanel, onSent, onTaskStale }) {
  const { integrations } = useApp();
  const { comments, error, refresh } = useComments(task.id, changed);
  const scroller = useRef(null);
  const atBottom = useRef(true);
  const [dragging, setDragging] = useState(false);
  const [dropped, setDropped] = useState(null);
  const name = clientName(task) || task.title;
  const bot = integrations.find((integration) => integration.id === task.integration_id);

  useLayoutEffect(() => {
    const element = scroller.current;
    if (element && atBottom.current) element.scrollTop = element.scrollHeight;
  }, [comments && comments.length, comments && comments[comments.length - 1]?.status]);

  const onScroll = (event) => {
    const element = event.currentTarget;
    atBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 80;
  };
  const hasFiles = (event) => Array.from(event.dataTransfer?.types || []).includes('Files');
  const onDragOver = (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    setDragging(true);
  };
  const onDrop = (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    setDragging(false);
    setDropped({ files: Array.from(event.dataTransfer.files) });
  };

  return html`<section
    class=${`conv-pane${dragging ? ' dragging' : ''}`}
    aria-label=${t('conversation')}
    onDragOver=${onDragOver}
    onDragLeave=${(event) => event.currentTarget === event.target && setDragging(false)}
    onDrop=${onDrop}
  >
    <header class="conv-head">
      <a class="back-link" href="#/">${t('backToTasks')}</a>
      <${Avatar} name=${name} url=${task.requester_avatar?.url || task.requester?.avatar?.url} />
      <div class="conv-title">
        <h2>${name}</h2>
        <div class="muted ellipsis">${task.title}${bot ? ` · ${bot.name}` : ''}</div>
      </div>
      <button type="button" class="button ghost panel-toggle" aria-label=${t('taskDetails')} onClick=${onTogglePanel}>
        <svg class="icon" viewBox="0 0 20 20" aria-hidden="true"><circle cx="10" cy="10" r="8.2" fill="none" stroke="currentColor" stroke-width="1.6" /><rect x="9.1" y="8.6" width="1.8" height="6" fill="currentColor" /><circle cx="10" cy="6" r="1.15" fill="currentColor" /></svg>
        <span class="wide-only" aria-hidden="true">${t('taskDetails')}</span>
      </button>
    </header>
    <div class="messages" ref=${scroller} onScroll=${onScroll}>
      ${error && !comments && html`<${ErrorBox} error=${error} onRetry=${() => refresh().catch(() => {})} />`}
      ${!comments && !error && html`<div class="list-note" aria-busy="true">${t('loading')}</div>`}
      ${comments && comments.length === 0 && html`<div class="list-note muted">${t('noMessages')}</div>`}
      ${comments && comments.map((comment) => html`<${Message} key=${comment.id} comment=${comment} requesterName=${name} />`)}
    </div>
    ${dragging && html`<div class="drop-overlay" aria-hidden="true">${t('dropHere')}</div>`}
    <${Composer}
      task=${task}
      dropped=${dropped}
      onSent=${() => {
        atBottom.current = true;
        refresh().catch(() => {});
        onSent();
      }}
      onRefused=${onTaskStale}
    />
  </section>`;
}
