// The staff web inbox: sign-in, the shell (top bar, pages) and hash routing (`#/tasks/{id}`,
// `#/contacts`, `#/bots`, `#/staff`, `#/quick-replies`), so only `/` ever serves HTML.

import { html, render, useEffect, useMemo, useState } from './vendor/preact-htm.mjs';
import { ApiError, all, get, onUnauthorized, session } from './api.js';
import { LANGUAGES, lang, setLanguage, t } from './i18n.js';
import { parseRoute } from './model.js';
import { AppContext, Avatar, Toasts, errorText, useApp, useToasts } from './ui.js';
import { InboxPage } from './inbox.js';
import { forgetDownloads } from './conversation.js';
import { BotsPage, QuickRepliesPage, StaffPage } from './admin.js';
import { ContactsPage } from './contacts.js';

function SignIn({ notice, onSignedIn }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    const value = token.trim();
    if (!value) return;
    setBusy(true);
    setError(null);
    try {
      const me = await get('/api/me', { token: value });
      session.save(value);
      onSignedIn(me);
    } catch (failure) {
      setError(failure instanceof ApiError && failure.status === 401 ? t('badToken') : errorText(failure));
      setBusy(false);
    }
  };
  return html`<main class="sign-in">
    <form class="sign-in-card" onSubmit=${submit}>
      <div class="brand big"><span class="brand-mark" aria-hidden="true">◆</span> viberdesk</div>
      <h1>${t('signInTitle')}</h1>
      <p class="muted">${t('signInLead')}</p>
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      <label for="staff-token">${t('staffToken')}</label>
      <input id="staff-token" type="password" autocomplete="off" spellcheck="false" value=${token} onInput=${(e) => setToken(e.target.value)} required />
      ${error && html`<p class="field-error" role="alert">${error}</p>`}
      <button class="button primary wide" type="submit" disabled=${busy}>${busy ? t('signingIn') : t('signIn')}</button>
      <${LanguageSwitch} />
    </form>
  </main>`;
}

function LanguageSwitch() {
  const { setLang } = useApp();
  return html`<label class="lang-switch">
    <span class="offscreen">${t('language')}</span>
    <select aria-label=${t('language')} value=${lang()} onChange=${(e) => setLang(e.target.value)}>
      ${Object.entries(LANGUAGES).map(([code, name]) => html`<option value=${code}>${name}</option>`)}
    </select>
  </label>`;
}

function useRoute() {
  const [route, setRoute] = useState(parseRoute(location.hash));
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  return route;
}

function TopBar({ me, route, onSignOut }) {
  const owner = me.role === 'owner';
  const link = (page, href, label) =>
    html`<a href=${href} class=${route.page === page ? 'nav-link active' : 'nav-link'} aria-current=${route.page === page ? 'page' : undefined}>${label}</a>`;
  return html`<header class="top-bar">
    <a class="brand" href="#/"><span class="brand-mark" aria-hidden="true">◆</span> viberdesk</a>
    <nav class="nav" aria-label="viberdesk">
      ${link('inbox', '#/', t('inbox'))}
      ${link('contacts', '#/contacts', t('contacts'))}
      ${owner && link('bots', '#/bots', t('bots'))}
      ${owner && link('staff', '#/staff', t('staff'))}
      ${owner && link('quick-replies', '#/quick-replies', t('quickReplies'))}
    </nav>
    <div class="top-right">
      <${LanguageSwitch} />
      <div class="who" title=${me.name}>
        <${Avatar} name=${me.name} size="sm" />
        <span class="who-name">${me.name}</span>
        <span class="role-badge">${t(owner ? 'roleOwner' : 'roleStaff')}</span>
      </div>
      <button type="button" class="button ghost" onClick=${onSignOut}>${t('signOut')}</button>
    </div>
  </header>`;
}

/** The data every page shares: the team, the bots, the quick replies. */
const NOTHING_SHARED = { staff: new Map(), integrations: [], quickReplies: [] };

function useShared(me) {
  const [shared, setShared] = useState(NOTHING_SHARED);
  const load = async (what = ['staff', 'integrations', 'quickReplies']) => {
    const paths = { staff: '/api/staff', integrations: '/api/integrations', quickReplies: '/api/quick-replies' };
    const results = await Promise.allSettled(what.map((key) => all(paths[key])));
    setShared((previous) => {
      const next = { ...previous };
      what.forEach((key, index) => {
        if (results[index].status !== 'fulfilled') return;
        const items = results[index].value;
        next[key] = key === 'staff' ? new Map(items.map((member) => [member.id, member])) : items;
      });
      return next;
    });
  };
  useEffect(() => {
    // Signed out: nothing of the last session stays in the page.
    if (me) load();
    else setShared(NOTHING_SHARED);
  }, [me && me.id]);
  return [shared, load];
}

function App() {
  const [language, setLanguageState] = useState(lang());
  const setLang = (code) => {
    setLanguage(code);
    setLanguageState(code);
  };
  const [me, setMe] = useState(null);
  const [checking, setChecking] = useState(Boolean(session.token()));
  const [notice, setNotice] = useState(null);
  const [toasts, toast, dismiss] = useToasts();
  const route = useRoute();
  const [shared, reloadShared] = useShared(me);

  useEffect(() => {
    document.documentElement.lang = language;
  }, [language]);

  useEffect(() => {
    onUnauthorized(() => {
      forgetDownloads();
      setMe(null);
      setChecking(false);
      setNotice(t('sessionEnded'));
    });
    if (!session.token()) return;
    get('/api/me')
      .then((member) => setMe(member))
      .catch((error) => {
        if (!(error instanceof ApiError && error.status === 401)) setNotice(errorText(error));
      })
      .finally(() => setChecking(false));
  }, []);

  const signOut = () => {
    session.clear();
    forgetDownloads();
    setMe(null);
    setNotice(null);
    location.hash = '#/';
  };

  const context = useMemo(
    () => ({ me, ...shared, toast, reloadShared, setLang }),
    [me, shared, language],
  );

  let content;
  if (checking) content = html`<main class="splash" aria-busy="true">${t('loading')}</main>`;
  else if (!me)
    content = html`<${SignIn}
      notice=${notice}
      onSignedIn=${(member) => {
        setNotice(null);
        setMe(member);
      }}
    />`;
  else {
    const owner = me.role === 'owner';
    const page =
      route.page === 'contacts'
        ? html`<${ContactsPage} />`
        : route.page === 'bots' && owner
        ? html`<${BotsPage} />`
        : route.page === 'staff' && owner
          ? html`<${StaffPage} />`
          : route.page === 'quick-replies' && owner
            ? html`<${QuickRepliesPage} />`
            : route.page !== 'inbox'
              ? html`<main class="page"><p class="notice">${t('ownersOnly')}</p></main>`
              : html`<${InboxPage} taskId=${route.taskId} />`;
    content = html`<div class="shell">
      <${TopBar} me=${me} route=${route} onSignOut=${signOut} />
      ${page}
    </div>`;
  }
  return html`<${AppContext.Provider} value=${context}>
    <div class="app" key=${language}>${content}</div>
    <${Toasts} toasts=${toasts} dismiss=${dismiss} />
  </${AppContext.Provider}>`;
}

const root = document.getElementById('app');
// The static "viberdesk" placeholder of index.html goes: Preact adds to what is there.
root.replaceChildren();
render(html`<${App} />`, root);
