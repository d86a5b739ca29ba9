// The owners' pages: bots (connect with a token -> deep link, webhook URL and QR code; template,
// what new contacts get, and options; disconnect), staff (add -> the token shown once; change; remove), quick replies.

import { html, useEffect, useState } from './vendor/preact-htm.mjs';
import { patch, post, remove } from './api.js';
import { t } from './i18n.js';
import { TASK_STATUSES, sortingBody, sortingForm } from './model.js';
import { Avatar, CopyField, Empty, SortingFields, errorText, statusLabel, useApp } from './ui.js';

/** The QR code module (and its encoder) load only when a QR code is shown. */
function QrCode({ text }) {
  const [module, setModule] = useState(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    import('./qr.js').then(setModule, () => setFailed(true));
  }, []);
  if (failed) return html`<p class="field-error">${t('qrFailed')}</p>`;
  if (!module) return html`<div class="qr-placeholder" aria-busy="true"></div>`;
  return html`<${module.QrSvg} text=${text} label=${t('qrCode')} />`;
}

function useAction() {
  const { toast } = useApp();
  const [busy, setBusy] = useState(false);
  const run = async (work, done) => {
    setBusy(true);
    try {
      const result = await work();
      if (done) done(result);
      return result;
    } catch (error) {
      toast(t('saveFailed', { message: errorText(error) }), 'error');
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return [busy, run];
}

function StaffSelect({ id, label, value, onChange, empty }) {
  const { staff } = useApp();
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <select id=${id} value=${value || ''} onChange=${(e) => onChange(e.target.value || null)}>
      <option value="">${empty}</option>
      ${[...staff.values()].map((member) => html`<option value=${member.id}>${member.name}</option>`)}
    </select>
  </div>`;
}

function TemplateFields({ prefix, value, onChange }) {
  const { staff } = useApp();
  const template = value.template;
  const options = value.options;
  const setTemplate = (patchValue) => onChange({ ...value, template: { ...template, ...patchValue } });
  const setOptions = (patchValue) => onChange({ ...value, options: { ...options, ...patchValue } });
  const setContacts = (contacts) => onChange({ ...value, contacts });
  return html`<fieldset class="group">
      <legend>${t('template')}</legend>
      <div class="field">
        <label for=${`${prefix}-title`}>${t('taskTitle')}</label>
        <input id=${`${prefix}-title`} type="text" maxlength="200" value=${template.task_title} onInput=${(e) => setTemplate({ task_title: e.target.value })} />
        <small class="muted">${t('taskTitleHint')}</small>
      </div>
      <div class="field">
        <label for=${`${prefix}-status`}>${t('initialStatus')}</label>
        <select id=${`${prefix}-status`} value=${template.initial_status} onChange=${(e) => setTemplate({ initial_status: e.target.value })}>
          ${TASK_STATUSES.map((status) => html`<option value=${status}>${statusLabel(status)}</option>`)}
        </select>
      </div>
      <${StaffSelect}
        id=${`${prefix}-assignee`}
        label=${t('defaultAssignee')}
        value=${template.assignee_id}
        empty=${t('ownerFallback')}
        onChange=${(assignee) => setTemplate({ assignee_id: assignee })}
      />
      <div class="field">
        <span>${t('participants')}</span>
        <div class="checks">
          ${[...staff.values()].map(
            (member) => html`<label class="check" key=${member.id}>
              <input
                type="checkbox"
                checked=${template.participant_ids.includes(member.id)}
                onChange=${(e) =>
                  setTemplate({
                    participant_ids: e.target.checked ? [...template.participant_ids, member.id] : template.participant_ids.filter((id) => id !== member.id),
                  })}
              />
              ${member.name}
            </label>`,
          )}
        </div>
      </div>
    </fieldset>
    <fieldset class="group">
      <legend>${t('contactTemplate')}</legend>
      <p class="muted">${t('contactTemplateHint')}</p>
      <${SortingFields} prefix=${`${prefix}-contact`} value=${value.contacts} onChange=${setContacts} />
    </fieldset>
    <fieldset class="group">
      <legend>${t('options')}</legend>
      <label class="check">
        <input type="checkbox" checked=${options.new_task_if_no_active} onChange=${(e) => setOptions({ new_task_if_no_active: e.target.checked })} />
        ${t('newTaskIfNoActive')}
      </label>
      <label class="check">
        <input type="checkbox" checked=${options.send_as_staff} onChange=${(e) => setOptions({ send_as_staff: e.target.checked })} />
        ${t('sendAsStaff')}
      </label>
      <div class="field">
        <label for=${`${prefix}-welcome`}>${t('welcomeMessage')}</label>
        <textarea id=${`${prefix}-welcome`} rows="2" maxlength="7000" value=${options.welcome_message || ''} onInput=${(e) => setOptions({ welcome_message: e.target.value })}></textarea>
        <small class="muted">${t('welcomeHint')}</small>
      </div>
    </fieldset>`;
}

const blankSettings = () => ({
  template: { task_title: 'Viber: {name}', initial_status: 'new', assignee_id: null, participant_ids: [] },
  options: { new_task_if_no_active: true, send_as_staff: false, welcome_message: '' },
  contacts: sortingForm(null),
});

function settingsOf(integration) {
  const blank = blankSettings();
  return {
    template: { ...blank.template, ...integration.template, participant_ids: [...((integration.template && integration.template.participant_ids) || [])] },
    options: { ...blank.options, ...integration.options, welcome_message: (integration.options && integration.options.welcome_message) || '' },
    contacts: sortingForm(integration.contact_template),
  };
}

/** The settings as the API takes them: an empty welcome message is none. */
function settingsBody(settings) {
  return {
    template: { ...settings.template, task_title: settings.template.task_title.trim() },
    options: { ...settings.options, welcome_message: settings.options.welcome_message.trim() ? settings.options.welcome_message : null },
    contact_template: sortingBody(settings.contacts),
  };
}

function ConnectBot({ onConnected, onCancel }) {
  const [name, setName] = useState('');
  const [token, setToken] = useState('');
  const [settings, setSettings] = useState(blankSettings());
  const [busy, run] = useAction();
  const submit = (event) => {
    event.preventDefault();
    run(() => post('/api/integrations', { name: name.trim(), auth_token: token.trim(), ...settingsBody(settings) }), (created) => {
      setToken('');
      onConnected(created);
    });
  };
  return html`<form class="card form" onSubmit=${submit}>
    <h2>${t('connectBot')}</h2>
    <div class="field">
      <label for="bot-name">${t('name')}</label>
      <input id="bot-name" type="text" required maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} />
    </div>
    <div class="field">
      <label for="bot-token">${t('botToken')}</label>
      <input id="bot-token" type="password" required autocomplete="off" spellcheck="false" value=${token} onInput=${(e) => setToken(e.target.value)} />
      <small class="muted">${t('botTokenHint')}</small>
    </div>
    <details>
      <summary>${t('template')} · ${t('options')}</summary>
      <${TemplateFields} prefix="new-bot" value=${settings} onChange=${setSettings} />
    </details>
    <div class="actions">
      <button type="submit" class="button primary" disabled=${busy}>${busy ? t('connecting') : t('connect')}</button>
      <button type="button" class="button ghost" onClick=${onCancel}>${t('cancel')}</button>
    </div>
  </form>`;
}

function BotLinks({ integration, prefix }) {
  return html`<div class="bot-links">
    <div class="bot-copy">
      <${CopyField} id=${`${prefix}-deep-${integration.id}`} label=${t('deepLink')} value=${integration.deep_link} />
      <${CopyField} id=${`${prefix}-hook-${integration.id}`} label=${t('webhookUrl')} value=${integration.webhook_url} />
    </div>
    <div class="qr"><${QrCode} text=${integration.deep_link} /></div>
  </div>`;
}

function BotCard({ integration, onChanged, onRemoved }) {
  const { staff, toast } = useApp();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(integration.name);
  const [settings, setSettings] = useState(settingsOf(integration));
  const [busy, run] = useAction();
  const save = (event) => {
    event.preventDefault();
    run(() => patch(`/api/integrations/${encodeURIComponent(integration.id)}`, { name: name.trim(), ...settingsBody(settings) }), (updated) => {
      toast(t('saved'));
      setEditing(false);
      onChanged(updated);
    });
  };
  const disconnect = () => {
    if (!window.confirm(t('confirmDisconnect', { name: integration.name }))) return;
    run(() => remove(`/api/integrations/${encodeURIComponent(integration.id)}`), () => {
      toast(t('disconnected', { name: integration.name }));
      onRemoved();
    });
  };
  const template = integration.template || {};
  const assignee = template.assignee_id && staff.get(template.assignee_id);
  const contactTemplate = integration.contact_template || {};
  return html`<article class="card bot-card" aria-label=${integration.name}>
    <header class="bot-head">
      <${Avatar} name=${integration.bot ? integration.bot.name : integration.name} />
      <div>
        <h2>${integration.name}</h2>
        <div class="muted">${integration.bot ? `${integration.bot.name} · ${integration.bot.uri}` : ''}</div>
      </div>
      <span class="spacer"></span>
      <button type="button" class="button ghost" onClick=${() => setEditing(!editing)} aria-expanded=${editing ? 'true' : 'false'}>${t('edit')}</button>
      <button type="button" class="button danger ghost" disabled=${busy} onClick=${disconnect}>${t('disconnect')}</button>
    </header>
    <${BotLinks} integration=${integration} prefix="bot" />
    <p class="muted summary">
      <span>${t('taskTitle')}: <code>${template.task_title}</code></span>
      <span>${t('initialStatus')}: ${statusLabel(template.initial_status || 'new')}</span>
      <span>${t('defaultAssignee')}: ${assignee ? assignee.name : t('ownerFallback')}</span>
      ${contactTemplate.group && html`<span>${t('group')}: ${contactTemplate.group}</span>`}
      ${contactTemplate.labels && contactTemplate.labels.length > 0 && html`<span>${t('labels')}: ${contactTemplate.labels.join(', ')}</span>`}
    </p>
    ${editing &&
    html`<form class="form" onSubmit=${save}>
      <div class="field">
        <label for=${`name-${integration.id}`}>${t('name')}</label>
        <input id=${`name-${integration.id}`} type="text" required maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} />
      </div>
      <${TemplateFields} prefix=${`bot-${integration.id}`} value=${settings} onChange=${setSettings} />
      <div class="actions">
        <button type="submit" class="button primary" disabled=${busy}>${t('save')}</button>
        <button type="button" class="button ghost" onClick=${() => setEditing(false)}>${t('cancel')}</button>
      </div>
    </form>`}
  </article>`;
}

export function BotsPage() {
  const { integrations, reloadShared } = useApp();
  const [connecting, setConnecting] = useState(false);
  const [connected, setConnected] = useState(null);
  const refresh = () => reloadShared(['integrations']);
  return html`<main class="page">
    <div class="page-head">
      <h1>${t('bots')}</h1>
      <button type="button" class="button primary" onClick=${() => setConnecting(true)} disabled=${connecting}>${t('connectBot')}</button>
    </div>
    ${connecting &&
    html`<${ConnectBot}
      onCancel=${() => setConnecting(false)}
      onConnected=${(created) => {
        setConnecting(false);
        setConnected(created);
        refresh();
      }}
    />`}
    ${connected &&
    html`<section class="card success" aria-label=${t('botConnected', { name: connected.bot ? connected.bot.name : connected.name })}>
      <p role="status"><strong>${t('botConnected', { name: connected.bot ? connected.bot.name : connected.name })}</strong></p>
      <${BotLinks} integration=${connected} prefix="connected" />
      <button type="button" class="button" onClick=${() => setConnected(null)}>${t('done')}</button>
    </section>`}
    ${integrations.length === 0 && !connecting && html`<${Empty} icon="🤖">${t('noBots')}</${Empty}>`}
    ${integrations.map(
      (integration) => html`<${BotCard}
        key=${integration.id + (integration.created_at || '')}
        integration=${integration}
        onChanged=${refresh}
        onRemoved=${() => {
          if (connected && connected.id === integration.id) setConnected(null);
          refresh();
        }}
      />`,
    )}
  </main>`;
}

function StaffRow({ member, me, onChanged }) {
  const { toast } = useApp();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(member.name);
  const [role, setRole] = useState(member.role);
  const [busy, run] = useAction();
  const save = (event) => {
    event.preventDefault();
    run(() => patch(`/api/staff/${encodeURIComponent(member.id)}`, { name: name.trim(), role }), () => {
      toast(t('saved'));
      setEditing(false);
      onChanged();
    });
  };
  const removeMember = () => {
    if (!window.confirm(t('confirmRemoveStaff', { name: member.name }))) return;
    run(() => remove(`/api/staff/${encodeURIComponent(member.id)}`), () => {
      toast(t('removed', { name: member.name }));
      onChanged();
    });
  };
  if (editing) {
    return html`<li class="staff-row editing">
      <form class="inline-form" onSubmit=${save}>
        <input type="text" aria-label=${t('name')} required maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} />
        <select aria-label=${t('role')} value=${role} onChange=${(e) => setRole(e.target.value)}>
          <option value="staff">${t('roleStaff')}</option>
          <option value="owner">${t('roleOwner')}</option>
        </select>
        <button type="submit" class="button primary" disabled=${busy}>${t('save')}</button>
        <button type="button" class="button ghost" onClick=${() => setEditing(false)}>${t('cancel')}</button>
      </form>
    </li>`;
  }
  return html`<li class="staff-row">
    <${Avatar} name=${member.name} />
    <span class="staff-name">${member.name}${member.id === me.id ? html` <span class="muted">(${t('you')})</span>` : ''}</span>
    <span class="role-badge">${t(member.role === 'owner' ? 'roleOwner' : 'roleStaff')}</span>
    <span class="spacer"></span>
    <button type="button" class="button ghost" onClick=${() => setEditing(true)} aria-label=${`${t('edit')}: ${member.name}`}>${t('edit')}</button>
    <button type="button" class="button danger ghost" disabled=${busy} onClick=${removeMember} aria-label=${`${t('remove')}: ${member.name}`}>${t('remove')}</button>
  </li>`;
}

export function StaffPage() {
  const { staff, me, reloadShared } = useApp();
  const [name, setName] = useState('');
  const [role, setRole] = useState('staff');
  const [created, setCreated] = useState(null);
  const [busy, run] = useAction();
  const refresh = () => reloadShared(['staff']);
  const add = (event) => {
    event.preventDefault();
    run(() => post('/api/staff', { name: name.trim(), role }), (member) => {
      setName('');
      setRole('staff');
      setCreated(member);
      refresh();
    });
  };
  return html`<main class="page">
    <div class="page-head"><h1>${t('staff')}</h1></div>
    ${created &&
    html`<section class="card success" aria-label=${t('token')}>
      <p role="status"><strong>${t('tokenOnce', { name: created.name })}</strong></p>
      <${CopyField} id="new-token" label=${t('token')} value=${created.token} />
      <button type="button" class="button" onClick=${() => setCreated(null)}>${t('done')}</button>
    </section>`}
    <form class="card form inline-form" onSubmit=${add}>
      <div class="field grow">
        <label for="staff-name">${t('name')}</label>
        <input id="staff-name" type="text" required maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} />
      </div>
      <div class="field">
        <label for="staff-role">${t('role')}</label>
        <select id="staff-role" value=${role} onChange=${(e) => setRole(e.target.value)}>
          <option value="staff">${t('roleStaff')}</option>
          <option value="owner">${t('roleOwner')}</option>
        </select>
      </div>
      <button type="submit" class="button primary" disabled=${busy}>${busy ? t('adding') : t('addStaff')}</button>
    </form>
    <ul class="card staff-list" aria-label=${t('staff')}>
      ${[...staff.values()].map((member) => html`<${StaffRow} key=${`${member.id}|${member.name}|${member.role}`} member=${member} me=${me} onChanged=${refresh} />`)}
    </ul>
  </main>`;
}

function QuickReplyRow({ reply, onChanged }) {
  const { toast } = useApp();
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(reply.title);
  const [text, setText] = useState(reply.text);
  const [busy, run] = useAction();
  const save = (event) => {
    event.preventDefault();
    run(() => patch(`/api/quick-replies/${encodeURIComponent(reply.id)}`, { title: title.trim(), text }), () => {
      toast(t('saved'));
      setEditing(false);
      onChanged();
    });
  };
  const deleteReply = () => {
    if (!window.confirm(t('confirmDeleteQuickReply', { title: reply.title }))) return;
    run(() => remove(`/api/quick-replies/${encodeURIComponent(reply.id)}`), onChanged);
  };
  if (editing) {
    return html`<li class="quick-row">
      <form class="form" onSubmit=${save}>
        <input type="text" aria-label=${t('title')} required maxlength="100" value=${title} onInput=${(e) => setTitle(e.target.value)} />
        <textarea aria-label=${t('text')} required rows="3" maxlength="7000" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
        <div class="actions">
          <button type="submit" class="button primary" disabled=${busy}>${t('save')}</button>
          <button type="button" class="button ghost" onClick=${() => setEditing(false)}>${t('cancel')}</button>
        </div>
      </form>
    </li>`;
  }
  return html`<li class="quick-row">
    <div class="quick-text">
      <strong>${reply.title}</strong>
      <p class="text">${reply.text}</p>
    </div>
    <div class="actions">
      <button type="button" class="button ghost" onClick=${() => setEditing(true)} aria-label=${`${t('edit')}: ${reply.title}`}>${t('edit')}</button>
      <button type="button" class="button danger ghost" disabled=${busy} onClick=${deleteReply} aria-label=${`${t('delete')}: ${reply.title}`}>${t('delete')}</button>
    </div>
  </li>`;
}

export function QuickRepliesPage() {
  const { quickReplies, reloadShared } = useApp();
  const [title, setTitle] = useState('');
  const [text, setText] = useState('');
  const [busy, run] = useAction();
  const refresh = () => reloadShared(['quickReplies']);
  const add = (event) => {
    event.preventDefault();
    run(() => post('/api/quick-replies', { title: title.trim(), text }), () => {
      setTitle('');
      setText('');
      refresh();
    });
  };
  return html`<main class="page">
    <div class="page-head"><h1>${t('quickReplies')}</h1></div>
    <form class="card form" onSubmit=${add}>
      <div class="field">
        <label for="quick-title">${t('title')}</label>
        <input id="quick-title" type="text" required maxlength="100" value=${title} onInput=${(e) => setTitle(e.target.value)} />
      </div>
      <div class="field">
        <label for="quick-text">${t('text')}</label>
        <textarea id="quick-text" required rows="3" maxlength="7000" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
        <small class="muted">${t('placeholdersHint')}</small>
      </div>
      <div class="actions"><button type="submit" class="button primary" disabled=${busy}>${t('addQuickReply')}</button></div>
    </form>
    ${quickReplies.length === 0 && html`<${Empty} icon="⚡">${t('noQuickRepliesYet')}</${Empty}>`}
    ${quickReplies.length > 0 &&
    html`<ul class="card quick-rows" aria-label=${t('quickReplies')}>
      ${quickReplies.map((reply) => html`<${QuickReplyRow} key=${`${reply.id}|${reply.title}|${reply.text}`} reply=${reply} onChanged=${refresh} />`)}
    </ul>`}
  </main>`;
}
