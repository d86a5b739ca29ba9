// The inbox page: the task list (tabs, filters, search, unread markers) on the left, the open
// conversation in the middle, the task panel on the right.

import { html, useEffect, useMemo, useRef, useState } from './vendor/preact-htm.mjs';
import { ApiError, call, get } from './api.js';
import { formatShort, t } from './i18n.js';
import { createInbox } from './live.js';
import { TABS, TASK_STATUSES, clientName } from './model.js';
import { Avatar, Empty, ErrorBox, errorText, statusLabel, useApp } from './ui.js';
import { Conversation } from './conversation.js';
import { TaskPanel } from './panel.js';

const PREVIEW_TYPES = { picture: 'picture', video: 'video', file: 'file', sticker: 'sticker', location: 'location', contact: 'contact', url: 'link' };

function preview(task) {
  if (task.last_message_preview) return task.last_message_preview;
  if (task.last_message_type && PREVIEW_TYPES[task.last_message_type]) return t(PREVIEW_TYPES[task.last_message_type]);
  return '';
}

/** Who a list item is about: the client's name, else the title without its "Viber:" prefix. */
function who(task) {
  return clientName(task) || String(task.title || '').replace(/^[^:]{1,30}:\s*/, '');
}

function TaskItem({ task, active, botName }) {
  const name = clientName(task);
  const text = preview(task);
  const chip = html`<span class=${`status-chip s-${task.status}`}>${statusLabel(task.status)}</span>`;
  return html`<li class=${`task-item${active ? ' active' : ''}${task.unread ? ' unread' : ''}`}>
    <a href=${`#/tasks/${encodeURIComponent(task.id)}`} aria-current=${active ? 'true' : undefined}>
      <${Avatar} name=${who(task)} url=${task.requester_avatar && task.requester_avatar.url} />
      <span class="task-body">
        <span class="task-line">
          <span class="task-name">${name || who(task)}</span>
          <time class="task-time" datetime=${task.last_message_at}>${formatShort(task.last_message_at)}</time>
        </span>
        <span class="task-line">
          <span class="task-title">${task.title}${botName ? ` · ${botName}` : ''}</span>
          ${chip}
        </span>
        ${(text || task.unread) &&
        html`<span class="task-line">
          <span class="task-preview">${text}</span>
          ${task.unread && html`<span class="unread-dot" title=${t('unread')}><span class="offscreen">${t('unread')}</span></span>`}
        </span>`}
      </span>
    </a>
  </li>`;
}

function Filters({ filter, inbox, integrations }) {
  const [q, setQ] = useState(filter.q);
  const timer = useRef(null);
  const onSearch = (value) => {
    setQ(value);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => inbox.setFilter({ q: value }), 300);
  };
  return html`<div class="filters">
    <div class="tabs" role="tablist" aria-label=${t('views')}>
      ${TABS.map(
        (tab) => html`<button
          type="button"
          role="tab"
          aria-selected=${filter.tab === tab ? 'true' : 'false'}
          class=${filter.tab === tab ? 'tab active' : 'tab'}
          onClick=${() => inbox.setFilter({ tab })}
        >${t(tab)}</button>`,
      )}
    </div>
    <input
      class="search"
      type="search"
      aria-label=${t('search')}
      placeholder=${t('searchPlaceholder')}
      value=${q}
      maxlength="100"
      onInput=${(e) => onSearch(e.target.value)}
    />
    <div class="filter-row">
      <select aria-label=${t('statusFilter')} value=${filter.status} onChange=${(e) => inbox.setFilter({ status: e.target.value })}>
        <option value="">${t('anyStatus')}</option>
        <option value="active">${t('activeStatuses')}</option>
        ${TASK_STATUSES.map((status) => html`<option value=${status}>${statusLabel(status)}</option>`)}
      </select>
      ${integrations.length > 1 &&
      html`<select aria-label=${t('botFilter')} value=${filter.bot} onChange=${(e) => inbox.setFilter({ bot: e.target.value })}>
        <option value="">${t('anyBot')}</option>
        ${integrations.map((bot) => html`<option value=${bot.id}>${bot.name || bot.bot?.name || bot.id}</option>`)}
      </select>`}
    </div>
  </div>`;
}

function TaskList({ state, inbox, openId }) {
  const { integrations } = useApp();
  const sentinel = useRef(null);
  const scroller = useRef(null);
  const botNames = useMemo(() => new Map(integrations.map((bot) => [bot.id, bot.name])), [integrations]);
  const several = integrations.length > 1;
  useEffect(() => {
    if (!sentinel.current || !state.nextCursor) return undefined;
    // The next page loads when the end of the list scrolls into view.
    const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && inbox.more(), {
      root: scroller.current,
      rootMargin: '200px',
    });
    observer.observe(sentinel.current);
    return () => observer.disconnect();
  }, [state.nextCursor, state.items.length]);
  const filtered = state.filter.tab !== 'all' || state.filter.status || state.filter.bot || state.filter.q;
  return html`<section class="list-pane" aria-label=${t('inbox')}>
    <${Filters} filter=${state.filter} inbox=${inbox} integrations=${integrations} />
    ${state.offline && html`<div class="banner warn" role="status">${t('offline')}</div>`}
    ${state.error && html`<${ErrorBox} error=${state.error} onRetry=${() => inbox.reload()} />`}
    <div class="task-scroll" ref=${scroller}>
      <ul class="task-list" aria-label=${t('tasks')} aria-busy=${state.loading ? 'true' : 'false'}>
        ${state.items.map(
          (task) => html`<${TaskItem} key=${task.id} task=${task} active=${task.id === openId} botName=${several ? botNames.get(task.integration_id) : ''} />`,
        )}
      </ul>
      ${state.loading && state.items.length === 0 && html`<div class="list-note" aria-live="polite">${t('loading')}</div>`}
      ${!state.loading && !state.error && state.items.length === 0 && html`<${Empty} icon="📭">${t(filtered ? 'noMatches' : 'noTasks')}</${Empty}>`}
      ${state.nextCursor &&
      html`<div ref=${sentinel} class="list-note">
        <button type="button" class="button ghost" disabled=${state.loadingMore} onClick=${() => inbox.more()}>${state.loadingMore ? t('loading') : t('loadMore')}</button>
      </div>`}
    </div>
    ${state.fallback && !state.offline && html`<div class="list-foot muted">${t('liveSlow')}</div>`}
  </section>`;
}

/** The open task: its detail, reloaded when the feed says it changed; read when opened. */
function useOpenTask(taskId, inbox) {
  const [task, setTask] = useState(null);
  const [error, setError] = useState(null);
  const [changed, setChanged] = useState(0);
  const load = async () => {
    try {
      const detail = await get(`/api/tasks/${encodeURIComponent(taskId)}`);
      setTask(detail);
      setError(null);
      return detail;
    } catch (failure) {
      setError(failure);
      return null;
    }
  };
  const markRead = () => {
    // The read marker is new in the API: a 404 from an API without it changes nothing.
    call('POST', `/api/tasks/${encodeURIComponent(taskId)}/read`).catch(() => {});
  };
  useEffect(() => {
    setTask(null);
    setError(null);
    if (!taskId) return undefined;
    load().then((detail) => {
      if (!detail) return;
      markRead();
      inbox.update({ ...detail, unread: false });
    });
    return inbox.onChanges((items) => {
      const mine = items.find((item) => item.id === taskId);
      if (!mine) return;
      setChanged((n) => n + 1);
      load();
      if (document.visibilityState === 'visible') {
        markRead();
        inbox.update({ ...mine, unread: false });
      }
    });
  }, [taskId]);
  return { task, setTask, error, changed, reload: load };
}

export function InboxPage({ taskId }) {
  const { me } = useApp();
  const inbox = useMemo(() => createInbox(me.id), [me.id]);
  const [state, setState] = useState(inbox.state);
  const [panelOpen, setPanelOpen] = useState(false);
  useEffect(() => {
    const off = inbox.subscribe(setState);
    inbox.reload();
    return () => {
      off();
      inbox.stop();
    };
  }, [inbox]);
  const open = useOpenTask(taskId, inbox);
  const unread = state.items.filter((task) => task.unread).length;
  useEffect(() => {
    document.title = unread ? `(${unread}) viberdesk` : 'viberdesk';
  }, [unread]);

  const taskChanged = (detail) => {
    open.setTask(detail);
    inbox.update(detail);
  };

  let middle;
  if (!taskId) {
    middle = html`<div class="conv-pane placeholder"><${Empty} icon="💬">
      <strong>${t('pickConversation')}</strong><br />${t('pickConversationHint')}
    </${Empty}></div>`;
  } else if (open.error) {
    const gone = open.error instanceof ApiError && open.error.status === 404;
    middle = html`<div class="conv-pane placeholder">
      ${gone ? html`<${Empty} icon="🗂">${t('notFoundTask')}</${Empty}>` : html`<${ErrorBox} error=${open.error} onRetry=${open.reload} />`}
    </div>`;
  } else if (!open.task) {
    middle = html`<div class="conv-pane placeholder" aria-busy="true"><div class="list-note">${t('loading')}</div></div>`;
  } else {
    middle = html`<${Conversation}
      key=${taskId}
      task=${open.task}
      changed=${open.changed}
      onTogglePanel=${() => setPanelOpen(!panelOpen)}
      onSent=${() => {
        inbox.pollNow();
        open.reload();
      }}
      onTaskStale=${open.reload}
    />`;
  }
  return html`<main class=${`inbox${taskId ? ' has-task' : ''}${panelOpen ? ' panel-open' : ''}`}>
    <${TaskList} state=${state} inbox=${inbox} openId=${taskId} />
    ${middle}
    ${open.task &&
    html`<${TaskPanel}
      key=${taskId}
      task=${open.task}
      onChanged=${taskChanged}
      onDeleted=${() => {
        inbox.forget(taskId);
        location.hash = '#/';
      }}
      onClose=${() => setPanelOpen(false)}
      errorText=${errorText}
    />`}
  </main>`;
}
