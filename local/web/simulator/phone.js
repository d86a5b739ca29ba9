// The simulated phone: the client picker, the chat with the bot and what a Viber user can do in
// it. Every action is a request to the simulator, which signs it as a Viber callback and posts it
// to the bot's real webhook. All text is rendered as text (htm never parses it as HTML).

import { html, useEffect, useRef, useState } from './preact.js';
import { post, sendFile } from './api.js';
import { clientLabel, deliveryText, formatSize, formatTime, initials, receiptText, sameOrigin } from './format.js';

const LANGUAGES = [
  ['en', 'English'],
  ['uk', 'Ukrainian'],
  ['uk-UA', 'Ukrainian (uk-UA)'],
  ['ru-RU', 'Russian (ru-RU)'],
  ['de', 'German'],
  ['pl', 'Polish'],
];

function Avatar({ name, url, size = '' }) {
  const [broken, setBroken] = useState(false);
  if (url && !broken && sameOrigin(url, location.origin)) {
    return html`<img class=${`avatar ${size}`} src=${url} alt="" onError=${() => setBroken(true)} />`;
  }
  return html`<span class=${`avatar initials ${size}`} aria-hidden="true">${initials(name)}</span>`;
}

export function ClientPicker({ clients, unread, severalBots, selected, onSelect, onNew }) {
  return html`<div class="picker">
    <label for="client">Client</label>
    <select id="client" value=${selected || ''} onChange=${(e) => onSelect(e.target.value)}>
      ${clients.length === 0 && html`<option value="">No clients yet</option>`}
      ${clients.map((c) => html`<option value=${c.key}>${clientLabel(c, severalBots, unread[c.key])}</option>`)}
    </select>
    <button type="button" class="button" onClick=${onNew}>New client</button>
  </div>`;
}

export function NewClientForm({ bots, onCreated, onCancel, toast }) {
  const [name, setName] = useState('');
  const [bot, setBot] = useState(bots[0] ? bots[0].key : '');
  const [language, setLanguage] = useState('uk');
  const [country, setCountry] = useState('UA');
  const [avatar, setAvatar] = useState(true);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    try {
      const client = await post('/clients', { bot, name, language, country, avatar });
      onCreated(client);
    } catch (failure) {
      toast(failure.message, 'error');
      setBusy(false);
    }
  };
  return html`<form class="new-client" onSubmit=${submit} aria-labelledby="new-client-title">
    <h2 id="new-client-title">New client</h2>
    <label for="new-name">Name</label>
    <input id="new-name" type="text" maxlength="64" required value=${name} onInput=${(e) => setName(e.target.value)} placeholder="Olena Kovalenko" />
    ${bots.length > 1 &&
    html`<label for="new-bot">Bot</label>
      <select id="new-bot" value=${bot} onChange=${(e) => setBot(e.target.value)}>
        ${bots.map((b) => html`<option value=${b.key}>${b.name}</option>`)}
      </select>`}
    <div class="row">
      <div class="field">
        <label for="new-language">Language</label>
        <select id="new-language" value=${language} onChange=${(e) => setLanguage(e.target.value)}>
          ${LANGUAGES.map(([code, label]) => html`<option value=${code}>${label}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="new-country">Country</label>
        <input id="new-country" type="text" maxlength="2" size="3" required value=${country} onInput=${(e) => setCountry(e.target.value.toUpperCase())} />
      </div>
    </div>
    <label class="check"><input type="checkbox" checked=${avatar} onChange=${(e) => setAvatar(e.target.checked)} /> Profile picture (an avatar with initials)</label>
    <div class="actions">
      <button type="submit" class="button primary" disabled=${busy}>Create client</button>
      <button type="button" class="button ghost" onClick=${onCancel}>Cancel</button>
    </div>
  </form>`;
}

function FileContent({ file, kind }) {
  if (!file.url) {
    return html`<p class="muted">${kind === 'picture' ? 'Picture' : 'File'} ${file.file_name}: not on the phone</p>`;
  }
  if (kind === 'picture') {
    return html`<a class="picture" href=${file.url} target="_blank" rel="noopener">
      <img src=${file.url} alt=${file.file_name} loading="lazy" />
    </a>`;
  }
  if (kind === 'video') {
    return html`<div class="video">
      <video controls preload="none" src=${file.url} aria-label=${file.file_name}></video>
      <a href=${file.url} target="_blank" rel="noopener">${file.file_name}</a> <span class="muted">${formatSize(file.size)}</span>
    </div>`;
  }
  return html`<a class="file" href=${file.url} target="_blank" rel="noopener">
    <span class="file-icon" aria-hidden="true">📄</span>
    <span><span class="file-name">${file.file_name}</span><span class="muted"> ${formatSize(file.size)}</span></span>
  </a>`;
}

function Content({ content }) {
  switch (content.type) {
    case 'text':
      return html`<p class="text">${content.text}</p>`;
    case 'picture':
    case 'video':
      return html`<${FileContent} file=${content.file} kind=${content.type} />
        ${content.text && html`<p class="text">${content.text}</p>`}`;
    case 'file':
      return html`<${FileContent} file=${content.file} kind="file" />`;
    case 'sticker':
      return html`<img class="sticker" src=${content.url} alt=${`Sticker ${content.sticker_id}`} />`;
    case 'contact':
      return html`<p class="card"><span aria-hidden="true">👤</span> ${content.name} · ${content.phone}</p>`;
    case 'location':
      return html`<p class="card"><span aria-hidden="true">📍</span> Location ${content.lat.toFixed(5)}, ${content.lon.toFixed(5)}</p>`;
    case 'url':
      return html`<p class="text"><a href=${content.url} target="_blank" rel="noopener noreferrer">${content.url}</a></p>`;
    case 'rich_media':
      return html`<p class="text">${content.text}</p>`;
    case 'keyboard':
      return html`<p class="muted">(a keyboard)</p>`;
    default:
      return html`<p class="muted">(${content.type})</p>`;
  }
}

function Entry({ entry }) {
  const time = html`<time datetime=${new Date(entry.at).toISOString()}>${formatTime(entry.at)}</time>`;
  if (entry.content.type === 'note') {
    return html`<article class="note"><p>${entry.content.text}</p> ${time}</article>`;
  }
  if (!entry.sender) {
    const state = deliveryText(entry);
    return html`<article class=${`msg out ${entry.state}`}>
      <${Content} content=${entry.content} />
      <footer>${time} <span class="state">${state}</span></footer>
    </article>`;
  }
  return html`<article class=${`msg in ${entry.state}`}>
    <header><${Avatar} name=${entry.sender.name} url=${entry.sender.avatar} size="sm" /> <span class="sender">${entry.sender.name}</span></header>
    <${Content} content=${entry.content} />
    <footer>${time} <span class="state">${receiptText(entry)}</span></footer>
  </article>`;
}

function Stickers({ stickers, onPick }) {
  return html`<div class="stickers" role="group" aria-label="Stickers">
    ${stickers.map(
      (s) => html`<button type="button" class="sticker-button" onClick=${() => onPick(s.id)} aria-label=${`Sticker ${s.name}`}>
        <img src=${s.url} alt="" />
      </button>`,
    )}
  </div>`;
}

export function Phone({ chat, bot, stickers, busy, act, toast }) {
  const [text, setText] = useState('');
  const [picking, setPicking] = useState(false);
  const [nextSticker, setNextSticker] = useState(0);
  const log = useRef(null);
  const entries = chat ? chat.entries : [];
  const last = entries.length ? entries[entries.length - 1].id : 0;
  useEffect(() => {
    if (log.current) log.current.scrollTop = log.current.scrollHeight;
  }, [last, chat && chat.client.key]);

  if (!chat) {
    return html`<section class="phone empty" aria-label="Phone">
      <div class="screen"><p class="muted center">Create a client with <strong>New client</strong> to write to the bot as a Viber user.</p></div>
    </section>`;
  }
  const client = chat.client;
  const key = encodeURIComponent(client.key);
  const send = async (event) => {
    event.preventDefault();
    const value = text.trim();
    if (!value) return;
    if (await act(() => post(`/clients/${key}/messages`, { type: 'text', text: value }))) setText('');
  };
  const onKey = (event) => {
    if (event.key === 'Enter' && !event.shiftKey) send(event);
  };
  const sticker = (id) => {
    setPicking(false);
    act(() => post(`/clients/${key}/messages`, { type: 'sticker', sticker_id: id }));
  };
  const rotateSticker = () => {
    const chosen = stickers[nextSticker % stickers.length];
    setNextSticker(nextSticker + 1);
    sticker(chosen.id);
  };
  const location = () => {
    // Near the centre of Kyiv, a little different each time, as a moving phone's would be.
    const round = (value) => Math.round(value * 1e7) / 1e7;
    const lat = round(50.4501 + (Math.random() - 0.5) / 50);
    const lon = round(30.5234 + (Math.random() - 0.5) / 50);
    act(() => post(`/clients/${key}/messages`, { type: 'location', lat, lon }));
  };
  const file = async (event) => {
    const chosen = event.target.files && event.target.files[0];
    event.target.value = '';
    if (!chosen) return;
    const caption = text.trim();
    if (await act(() => sendFile(client.key, chosen, caption))) setText('');
  };
  return html`<section class="phone" aria-label="Phone">
    <header class="phone-bar">
      <${Avatar} name=${bot ? bot.name : ''} url=${bot && bot.icon} />
      <div class="who">
        <div class="bot-name">${bot ? bot.name : 'Bot'}</div>
        <div class="as">as ${client.name} · ${client.language}, ${client.country}</div>
      </div>
      ${chat.subscribed
        ? html`<button type="button" class="button small light" onClick=${() => act(() => post(`/clients/${key}/subscription`, { subscribed: false }))} disabled=${busy}>Unsubscribe</button>`
        : html`<button type="button" class="button small light" onClick=${() => act(() => post(`/clients/${key}/subscription`, { subscribed: true }))} disabled=${busy}>Subscribe</button>`}
    </header>
    <div class="start">
      <button type="button" class="button small" onClick=${() => act(() => post(`/clients/${key}/conversation`, {}))} disabled=${busy}>Start conversation</button>
      <span class="muted">${chat.subscribed ? 'Subscribed to the bot' : 'Not subscribed: writing subscribes'}</span>
    </div>
    <section class="chat" role="log" aria-label="Chat" ref=${log}>
      ${entries.length === 0 && html`<p class="muted center">No messages yet. Start the conversation or write to the bot.</p>`}
      ${entries.map((entry) => html`<${Entry} key=${entry.id} entry=${entry} />`)}
    </section>
    ${picking && html`<${Stickers} stickers=${stickers} onPick=${sticker} />`}
    <div class="tools">
      <button type="button" class="button small" onClick=${() => act(() => post(`/clients/${key}/messages`, { type: 'contact' }))} disabled=${busy}>Share phone</button>
      <button type="button" class="button small" onClick=${location} disabled=${busy}>Send location</button>
      <button type="button" class="button small" onClick=${rotateSticker} disabled=${busy}>Send sticker</button>
      <button type="button" class="button small ghost" aria-expanded=${picking} onClick=${() => setPicking(!picking)}>Choose sticker</button>
      <label class="button small file-label" for="send-file">Send file</label>
      <input id="send-file" class="offscreen" type="file" onChange=${file} disabled=${busy} />
    </div>
    <form class="composer" onSubmit=${send}>
      <label for="message" class="offscreen">Message</label>
      <textarea id="message" rows="2" maxlength="7000" placeholder="Type a message…" value=${text} onInput=${(e) => setText(e.target.value)} onKeyDown=${onKey}></textarea>
      <button type="submit" class="button primary" disabled=${busy || !text.trim()}>Send</button>
    </form>
  </section>`;
}
