// The inbox list and its live updates. The list loads a page of tasks for the current filter;
// then `GET /api/changes?since=` is polled (4 s while the tab is visible, 60 s hidden): a 304
// changes nothing, changed tasks are merged by id, `resync` reloads. After an error the last good
// token is kept and retried with a back-off, so nothing is lost or shown twice. Where the API has
// no change feed yet (404), the first page of the list is polled and merged instead.

import { ApiError, call, get, query } from './api.js';
import { isNewer, listParams, matchesFilter, mergeTasks, pollDelay } from './model.js';

export function createInbox(meId) {
  let state = {
    filter: { tab: 'all', status: '', bot: '', q: '' },
    items: [],
    nextCursor: null,
    loading: true,
    loadingMore: false,
    error: null,
    offline: false,
    fallback: false,
  };
  const listeners = new Set();
  const changeListeners = new Set();
  let since = null;
  let failures = 0;
  let timer = null;
  let generation = 0;
  let stopped = false;
  let polling = false;

  const set = (patch) => {
    state = { ...state, ...patch };
    for (const listener of listeners) listener(state);
  };

  async function loadPage(cursor) {
    const params = { ...listParams(state.filter, meId), limit: 50, cursor };
    const page = await get(`/api/tasks${query(params)}`);
    return { items: (page.items || []).filter((task) => matchesFilter(task, state.filter, meId)), next: page.next_cursor || null };
  }

  async function startFeed() {
    try {
      const answer = await call('GET', '/api/changes');
      since = answer.data && answer.data.next_since;
      set({ fallback: !since });
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) set({ fallback: true });
      else throw error;
    }
  }

  async function reload() {
    const mine = ++generation;
    set({ loading: true, error: null });
    try {
      // The feed's starting point is taken before the page: a change in between shows twice
      // at worst (merged by id), never not at all.
      if (!state.fallback) await startFeed();
      const page = await loadPage(null);
      if (mine !== generation) return;
      failures = 0;
      set({ items: mergeTasks([], page.items, state.filter, meId), nextCursor: page.next, loading: false, offline: false });
    } catch (error) {
      if (mine !== generation) return;
      set({ loading: false, error });
    }
    schedule();
  }

  async function more() {
    if (!state.nextCursor || state.loadingMore) return;
    const mine = generation;
    set({ loadingMore: true });
    try {
      const page = await loadPage(state.nextCursor);
      if (mine !== generation) return;
      set({ items: mergeTasks(state.items, page.items, state.filter, meId), nextCursor: page.next, loadingMore: false });
    } catch (error) {
      set({ loadingMore: false, error });
    }
  }

  function apply(items) {
    if (items.length === 0) return;
    const known = new Map(state.items.map((task) => [task.id, task]));
    const changed = items.filter((task) => isNewer(task, known.get(task.id)));
    set({ items: mergeTasks(state.items, items, state.filter, meId) });
    if (changed.length) for (const listener of changeListeners) listener(changed);
  }

  async function poll() {
    if (polling || stopped) return;
    polling = true;
    const mine = generation;
    try {
      if (state.fallback) {
        const page = await loadPage(null);
        if (mine === generation) apply(page.items);
      } else if (!since) {
        await startFeed();
      } else {
        const answer = await call('GET', `/api/changes${query({ since })}`);
        if (mine === generation && answer.status === 200 && answer.data) {
          if (answer.data.resync) {
            since = answer.data.next_since || null;
            polling = false;
            failures = 0;
            set({ offline: false });
            await reload();
            return;
          }
          apply(answer.data.items || []);
          since = answer.data.next_since || since;
        }
      }
      failures = 0;
      if (state.offline) set({ offline: false });
    } catch (error) {
      if (error instanceof ApiError && error.status === 400 && error.code === 'invalid_since') {
        since = null;
        polling = false;
        await reload();
        return;
      }
      if (error instanceof ApiError && error.status === 401) {
        stopped = true;
        return;
      }
      failures += 1;
      set({ offline: true });
    } finally {
      polling = false;
    }
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(poll, pollDelay({ visible: document.visibilityState === 'visible', failures }));
  }

  const onVisibility = () => {
    if (document.visibilityState === 'visible') {
      clearTimeout(timer);
      poll();
    }
  };
  document.addEventListener('visibilitychange', onVisibility);

  return {
    get state() {
      return state;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** Called with the tasks each poll brought (new client messages, new tasks). */
    onChanges(listener) {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },
    setFilter(patch) {
      set({ filter: { ...state.filter, ...patch }, items: [], nextCursor: null });
      reload();
    },
    reload,
    more,
    pollNow() {
      clearTimeout(timer);
      poll();
    },
    /** A task this page changed or read: updated in place (or dropped when it no longer fits). */
    update(task) {
      set({ items: mergeTasks(state.items, [task], state.filter, meId) });
    },
    forget(taskId) {
      set({ items: state.items.filter((task) => task.id !== taskId) });
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}
