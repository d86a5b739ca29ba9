// The task panel: status, assignee and participants (saved as soon as they change), the client's
// contact card (with their group, labels and fields, edited here), the previous task and the
// client's other tasks.

import { html, useEffect, useState } from './vendor/preact-htm.mjs';
import { get, patch, query, remove } from './api.js';
import { countryName, formatDate, formatFull, formatShort, languageName, t } from './i18n.js';
import { TASK_STATUSES, clientName, sortingBody, sortingForm } from './model.js';
import { Avatar, SortingFields, errorText, statusLabel, useApp } from './ui.js';

/** The contact's group, labels and fields, saved together (`PATCH /api/contacts/{id}`). */
function ContactSorting({ contact, onSaved }) {
  const { toast } = useApp();
  const [form, setForm] = useState(sortingForm(contact));
  const [busy, setBusy] = useState(false);
  useEffect(() => setForm(sortingForm(contact)), [contact.id, contact.updated_at]);
  const save = async (event) => {
    event.preventDefault();
    setBusy(true);
    try {
      onSaved(await patch(`/api/contacts/${encodeURIComponent(contact.id)}`, sortingBody(form)));
      toast(t('saved'));
    } catch (error) {
      toast(t('saveFailed', { message: errorText(error) }), 'error');
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="sorting" aria-label=${t('contactSorting')} onSubmit=${save}>
    <${SortingFields} prefix="contact" value=${form} onChange=${setForm} />
    <button type="submit" class="button" disabled=${busy}>${t('saveContact')}</button>
  </form>`;
}

function ContactCard({ task, onContactChanged }) {
  const contact = task.requester;
  const name = clientName(task) || t('client');
  if (!contact) {
    return html`<div class="card contact"><div class="contact-head"><${Avatar} name=${name} size="lg" /><strong>${name}</strong></div></div>`;
  }
  const row = (label, value) => html`<div class="field-row"><dt>${label}</dt><dd>${value}</dd></div>`;
  return html`<div class="card contact">
    <div class="contact-head">
      <${Avatar} name=${name} url=${contact.avatar && contact.avatar.url} size="lg" />
      <div>
        <strong class="contact-name">${name}</strong>
        <div>
          <span class=${`badge ${contact.subscribed ? 'good' : 'bad'}`}>${t(contact.subscribed ? 'subscribed' : 'unsubscribed')}</span>
        </div>
      </div>
    </div>
    <dl>
      ${row(t('phone'), contact.phone ? html`<a href=${`tel:${contact.phone.replace(/[^\d+]/g, '')}`}>${contact.phone}</a>` : html`<span class="muted">${t('phoneNotShared')}</span>`)}
      ${contact.language && row(t('languageOf'), languageName(contact.language))}
      ${contact.country && row(t('country'), countryName(contact.country))}
      ${row(t('clientSince'), formatDate(contact.created_at))}
    </dl>
    <${ContactSorting} contact=${contact} onSaved=${onContactChanged} />
  </div>`;
}

function OtherTasks({ task }) {
  const [others, setOthers] = useState(null);
  useEffect(() => {
    let live = true;
    get(`/api/tasks${query({ requester_id: task.requester_id, limit: 20 })}`)
      .then((page) => live && setOthers((page.items || []).filter((other) => other.requester_id === task.requester_id && other.id !== task.id)))
      .catch(() => live && setOthers([]));
    return () => {
      live = false;
    };
  }, [task.id, task.requester_id]);
  if (!others) return html`<p class="muted">${t('loading')}</p>`;
  if (others.length === 0) return html`<p class="muted">${t('noOtherTasks')}</p>`;
  return html`<ul class="other-tasks">
    ${others.map(
      (other) => html`<li key=${other.id}>
        <a href=${`#/tasks/${encodeURIComponent(other.id)}`}>${other.title}</a>
        <span class="muted"> · ${statusLabel(other.status)} · ${formatShort(other.last_message_at)}</span>
      </li>`,
    )}
  </ul>`;
}

export function TaskPanel({ task, onChanged, onDeleted, onClose }) {
  const { staff, integrations, toast } = useApp();
  const [saving, setSaving] = useState(false);
  const members = [...staff.values()].sort((a, b) => a.name.localeCompare(b.name));
  const bot = integrations.find((integration) => integration.id === task.integration_id);
  const participants = task.participant_ids || [];

  const change = async (body) => {
    setSaving(true);
    try {
      const updated = await patch(`/api/tasks/${encodeURIComponent(task.id)}`, body);
      onChanged({ ...task, ...updated });
      toast(t('saved'));
    } catch (error) {
      toast(t('saveFailed', { message: errorText(error) }), 'error');
      onChanged({ ...task });
    } finally {
      setSaving(false);
    }
  };
  const toggleParticipant = (id, on) => {
    const next = on ? [...participants, id] : participants.filter((other) => other !== id);
    change({ participant_ids: next });
  };
  const deleteTask = async () => {
    if (!window.confirm(t('confirmDeleteTask'))) return;
    try {
      await remove(`/api/tasks/${encodeURIComponent(task.id)}`);
      toast(t('taskDeleted'));
      onDeleted();
    } catch (error) {
      toast(t('saveFailed', { message: errorText(error) }), 'error');
    }
  };
  const assigneeKnown = !task.assignee_id || staff.has(task.assignee_id);

  return html`<aside class="panel-pane" aria-label=${t('taskDetails')} aria-busy=${saving ? 'true' : 'false'}>
    <div class="panel-head">
      <h2>${t('taskDetails')}</h2>
      <button type="button" class="icon-button panel-close" aria-label=${t('close')} onClick=${onClose}>×</button>
    </div>
    <div class="card">
      <h3 class="task-heading">${task.title}</h3>
      <div class="field">
        <label for="task-status">${t('status')}</label>
        <select id="task-status" value=${task.status} onChange=${(e) => change({ status: e.target.value })}>
          ${TASK_STATUSES.map((status) => html`<option value=${status}>${statusLabel(status)}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="task-assignee">${t('assignee')}</label>
        <select id="task-assignee" value=${task.assignee_id || ''} onChange=${(e) => change({ assignee_id: e.target.value || null })}>
          <option value="">${t('nobody')}</option>
          ${!assigneeKnown && html`<option value=${task.assignee_id}>${task.assignee_id}</option>`}
          ${members.map((member) => html`<option value=${member.id}>${member.name}</option>`)}
        </select>
      </div>
      <details class="participants">
        <summary>${t('participants')}: ${participants.length ? participants.map((id) => (staff.get(id) || { name: id }).name).join(', ') : t('noParticipants')}</summary>
        <fieldset>
          <legend class="offscreen">${t('participants')}</legend>
          ${members.map(
            (member) => html`<label class="check" key=${member.id}>
              <input type="checkbox" checked=${participants.includes(member.id)} onChange=${(e) => toggleParticipant(member.id, e.target.checked)} />
              ${member.name}
            </label>`,
          )}
        </fieldset>
      </details>
      <dl class="facts">
        ${bot && html`<div class="field-row"><dt>${t('bot')}</dt><dd>${bot.name}</dd></div>`}
        <div class="field-row"><dt>${t('created')}</dt><dd title=${formatFull(task.created_at)}>${formatShort(task.created_at)}</dd></div>
        <div class="field-row"><dt>${t('lastClientMessage')}</dt><dd title=${formatFull(task.last_message_at)}>${formatShort(task.last_message_at)}</dd></div>
      </dl>
      ${task.description && html`<p class="description">${task.description}</p>`}
      ${task.previous_task_id && html`<p><a class="back-arrow" href=${`#/tasks/${encodeURIComponent(task.previous_task_id)}`}>${t('previousTask')}</a></p>`}
    </div>
    <h3 class="section-title">${t('requester')}</h3>
    <${ContactCard} task=${task} onContactChanged=${(requester) => onChanged({ ...task, requester })} />
    <h3 class="section-title">${t('otherTasks')}</h3>
    <${OtherTasks} task=${task} />
    <button type="button" class="button danger ghost delete-task" onClick=${deleteTask}>${t('deleteTask')}</button>
  </aside>`;
}
