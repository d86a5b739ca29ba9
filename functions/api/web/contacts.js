// The contacts page: every client, or those in a group and/or with a label (answered by the API
// from an index), with their bot, group and labels.

import { html, useEffect, useState } from './vendor/preact-htm.mjs';
import { get, query } from './api.js';
import { formatDate, t } from './i18n.js';
import { Avatar, Empty, ErrorBox, useApp } from './ui.js';

const NO_FILTER = { group: '', label: '' };

export function ContactsPage() {
  const { integrations } = useApp();
  const [draft, setDraft] = useState(NO_FILTER);
  const [filter, setFilter] = useState(NO_FILTER);
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const load = async (cursor) => {
    try {
      const next = await get(`/api/contacts${query({ group: filter.group, label: filter.label, cursor, limit: 50 })}`);
      setPage((shown) => (cursor && shown ? { items: [...shown.items, ...next.items], next_cursor: next.next_cursor } : next));
      setError(null);
    } catch (failure) {
      setError(failure);
    }
  };
  useEffect(() => {
    setPage(null);
    load();
  }, [filter.group, filter.label]);
  const apply = (event) => {
    event.preventDefault();
    setFilter({ group: draft.group.trim(), label: draft.label.trim() });
  };
  const clear = () => {
    setDraft(NO_FILTER);
    setFilter(NO_FILTER);
  };
  const botName = (id) => (integrations.find((integration) => integration.id === id) || { name: id }).name;
  // Groups the bots give new contacts: offered while typing a filter.
  const groups = [...new Set(integrations.map((i) => i.contact_template && i.contact_template.group).filter(Boolean))];
  return html`<main class="page">
    <div class="page-head"><h1>${t('contacts')}</h1></div>
    <form class="card contact-filters" role="search" aria-label=${t('contactFilters')} onSubmit=${apply}>
      <div class="field">
        <label for="contacts-group">${t('filterByGroup')}</label>
        <input id="contacts-group" type="text" maxlength="64" list="contact-groups" value=${draft.group} onInput=${(e) => setDraft({ ...draft, group: e.target.value })} />
        <datalist id="contact-groups">${groups.map((group) => html`<option value=${group} />`)}</datalist>
      </div>
      <div class="field">
        <label for="contacts-label">${t('filterByLabel')}</label>
        <input id="contacts-label" type="text" maxlength="32" value=${draft.label} onInput=${(e) => setDraft({ ...draft, label: e.target.value })} />
      </div>
      <div class="actions">
        <button type="submit" class="button primary">${t('applyFilters')}</button>
        <button type="button" class="button ghost" onClick=${clear}>${t('clearFilters')}</button>
      </div>
    </form>
    ${error && html`<${ErrorBox} error=${error} onRetry=${() => load()} />`}
    ${!page && !error && html`<p class="muted">${t('loading')}</p>`}
    ${page && page.items.length === 0 && html`<${Empty} icon="👤">${t('noContacts')}</${Empty}>`}
    ${page &&
    page.items.length > 0 &&
    html`<ul class="contact-list" aria-label=${t('contacts')}>
      ${page.items.map(
        (contact) => html`<li key=${contact.id} class="card contact-row">
          <${Avatar} name=${contact.name || '?'} url=${contact.avatar && contact.avatar.url} />
          <div>
            <strong>${contact.name || t('client')}</strong>
            <div class="muted">${botName(contact.integration_id)} · ${formatDate(contact.created_at)}</div>
            <div class="chips">
              ${contact.group && html`<span class="badge contact-group">${contact.group}</span>`}
              ${(contact.labels || []).map((label) => html`<span class="badge">${label}</span>`)}
            </div>
          </div>
        </li>`,
      )}
    </ul>`}
    ${page && page.next_cursor && html`<button type="button" class="button" onClick=${() => load(page.next_cursor)}>${t('loadMore')}</button>`}
  </main>`;
}
