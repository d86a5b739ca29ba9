// The inbox's rules, without the DOM: filters, ordering and merging of tasks, reply ticks, the
// 24-hour window, message kinds, quick-reply lookup. Fields the API may not send yet (unread,
// requester_name, last_message_preview, message_type…) are treated as absent, never required.

export const TASK_STATUSES = ['new', 'in_progress', 'waiting', 'completed', 'cancelled'];
export const ACTIVE_STATUSES = ['new', 'in_progress', 'waiting'];
export const TABS = ['mine', 'unassigned', 'all'];
export const DAY_MS = 24 * 60 * 60 * 1000;

/** Up to two initials of a name ("Олена Коваленко" -> "ОК"); "?" for none. */
export function initials(name) {
  const words = String(name || '')
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  if (words.length === 0) return '?';
  const letters = words.length === 1 ? [...words[0]].slice(0, 2) : [[...words[0]][0], [...words[words.length - 1]][0]];
  return letters.join('').toUpperCase();
}

/** One of eight avatar colours, the same for the same name. */
export function colourIndex(text) {
  let hash = 0;
  for (const char of String(text || '')) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return hash % 8;
}

/** The client's name in a task view, falling back to the title. */
export function clientName(task) {
  return (task && (task.requester_name || (task.requester && task.requester.name))) || '';
}

/** The list's query parameters for a filter. */
export function listParams(filter, meId) {
  const params = {};
  if (filter.tab === 'mine' && meId) params.assignee_id = meId;
  if (filter.tab === 'unassigned') params.unassigned = 'true';
  if (filter.status && filter.status !== 'active') params.status = filter.status;
  if (filter.bot) params.integration_id = filter.bot;
  if (filter.q && filter.q.trim()) params.q = filter.q.trim().slice(0, 100);
  return params;
}

/**
 * Whether a task belongs in the list under this filter. Applied to every page and every change
 * so the list stays right even where the API ignores a filter it does not know yet.
 */
export function matchesFilter(task, filter, meId) {
  if (!task || task.deleted) return false;
  if (filter.tab === 'mine' && task.assignee_id !== meId) return false;
  if (filter.tab === 'unassigned' && task.assignee_id) return false;
  if (filter.status === 'active' && !ACTIVE_STATUSES.includes(task.status)) return false;
  if (filter.status && filter.status !== 'active' && task.status !== filter.status) return false;
  if (filter.bot && task.integration_id !== filter.bot) return false;
  const q = (filter.q || '').trim().toLowerCase();
  if (q) {
    const haystack = `${task.title || ''}\n${clientName(task)}`.toLowerCase();
    if (!haystack.includes(q)) return false;
  }
  return true;
}

/** Newest client activity first, as the API lists them (ties by id, descending). */
export function compareTasks(a, b) {
  const at = Date.parse(a.last_message_at || a.updated_at || 0) || 0;
  const bt = Date.parse(b.last_message_at || b.updated_at || 0) || 0;
  if (at !== bt) return bt - at;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * The list with `incoming` tasks merged in by id: a newer copy replaces the old one, a task that
 * no longer matches the filter leaves, nothing appears twice; sorted newest first.
 */
export function mergeTasks(list, incoming, filter, meId) {
  const byId = new Map(list.map((task) => [task.id, task]));
  for (const task of incoming) {
    if (!task || !task.id) continue;
    if (matchesFilter(task, filter, meId)) byId.set(task.id, { ...byId.get(task.id), ...task });
    else byId.delete(task.id);
  }
  return [...byId.values()].sort(compareTasks);
}

/** Whether `task` says something `known` (the copy the page has, or none) does not. */
export function isNewer(task, known) {
  if (!known) return true;
  if (task.unread === true && known.unread !== true) return true;
  return ['last_message_at', 'updated_at', 'status', 'assignee_id'].some((field) => task[field] !== known[field]);
}

/** How a reply's delivery status shows: its tick and class. */
export function tick(status) {
  switch (status) {
    case 'queued':
      return { symbol: '🕓', cls: 'queued' };
    case 'sent':
      return { symbol: '✓', cls: 'sent' };
    case 'delivered':
      return { symbol: '✓✓', cls: 'delivered' };
    case 'seen':
      return { symbol: '✓✓', cls: 'seen' };
    case 'failed':
      return { symbol: '!', cls: 'failed' };
    default:
      return null;
  }
}

/**
 * The free-reply window: Viber bills a bot's message sent more than 24 hours after the client's
 * last message. `null` when the client never wrote.
 */
export function replyWindow(lastClientMessageAt, now = Date.now()) {
  const at = Date.parse(lastClientMessageAt || '');
  if (!Number.isFinite(at)) return null;
  const since = Math.max(0, now - at);
  return { open: since < DAY_MS, since, left: Math.max(0, DAY_MS - since) };
}

const IMAGE = /^image\//i;
const VIDEO = /^video\//i;

/** What kind of message a comment is, for showing it: text, picture, video, file, sticker, location, contact, url. */
export function messageKind(comment) {
  const type = comment.message_type;
  if (type === 'location' || comment.location) return 'location';
  if (type === 'contact' || comment.shared_contact) return 'contact';
  if (type === 'sticker' || comment.sticker_id) return 'sticker';
  if (type) return type;
  const first = (comment.attachments || [])[0];
  if (first && IMAGE.test(first.content_type)) return 'picture';
  if (first && VIDEO.test(first.content_type)) return 'video';
  if (first) return 'file';
  return 'text';
}

/** How an attachment shows: an image thumbnail, or a download. */
export function attachmentKind(attachment) {
  return IMAGE.test(attachment.content_type || '') ? 'image' : VIDEO.test(attachment.content_type || '') ? 'video' : 'file';
}

/** OpenStreetMap's page for a point (a link the user follows, nothing the page loads). */
export function mapLink(location) {
  const lat = Number(location && location.lat);
  const lon = Number(location && location.lon);
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return null;
  return `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
}

/** A text cut into plain parts and http(s) links, for rendering both as text nodes. */
export function linkify(text) {
  const parts = [];
  const pattern = /\bhttps?:\/\/[^\s<>"']+/gi;
  let last = 0;
  for (const match of String(text).matchAll(pattern)) {
    let url = match[0];
    // Trailing punctuation belongs to the sentence, not the link.
    const trimmed = url.replace(/[.,;:!?)\]]+$/, '');
    url = trimmed;
    if (match.index > last) parts.push({ text: text.slice(last, match.index) });
    parts.push({ url });
    last = match.index + url.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

/** The quick replies a `/word` typed at the start of the reply box points to. */
export function quickReplyQuery(text) {
  const match = /^\/(\S*)$/u.exec(text || '');
  return match ? match[1] : null;
}

export function findQuickReplies(replies, query) {
  const q = (query || '').toLowerCase();
  const starts = [];
  const contains = [];
  for (const reply of replies) {
    const title = (reply.title || '').toLowerCase();
    if (!q || title.startsWith(q)) starts.push(reply);
    else if (title.includes(q) || (reply.text || '').toLowerCase().includes(q)) contains.push(reply);
  }
  return [...starts, ...contains];
}

/**
 * A preview of a quick reply with its placeholders filled; the server fills them again when it
 * sends (its rule is the one that counts), this only shows staff what the client will read.
 */
export function previewQuickReply(text, values) {
  return String(text || '').replace(/\{(client_name|client_phone|staff_name|bot_name)\}/g, (whole, name) => {
    const value = values[name];
    return value ? value : '';
  }).replace(/[ \t]+([,.!?])/g, '$1').replace(/[ \t]{2,}/g, ' ');
}

/** How long to wait before the next poll: 4 s while visible, 60 s hidden, backing off after errors. */
export function pollDelay({ visible, failures = 0 }) {
  const base = visible ? 4000 : 60000;
  if (failures <= 0) return base;
  return Math.min(30000, 1000 * 2 ** Math.min(failures, 5));
}

const TYPES = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  pdf: 'application/pdf',
  txt: 'text/plain',
  csv: 'text/csv',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  zip: 'application/zip',
};

/** A file's content type: the browser's, else from its extension. */
export function contentTypeOf(file) {
  if (file.type) return file.type;
  const extension = String(file.name || '').split('.').pop().toLowerCase();
  return TYPES[extension] || 'application/octet-stream';
}

/**
 * The conversation after a poll: comments up to `from` kept, the fresh page (and what follows)
 * replacing the rest, by id so nothing shows twice.
 */
export function mergeComments(kept, fresh) {
  const seen = new Set();
  const out = [];
  for (const comment of [...kept, ...fresh]) {
    if (seen.has(comment.id)) {
      const index = out.findIndex((c) => c.id === comment.id);
      out[index] = comment;
      continue;
    }
    seen.add(comment.id);
    out.push(comment);
  }
  return out;
}

/** Whether a reply of the last 15 minutes may still change its tick (queued, sent or delivered). */
export function awaitingTicks(comments, now = Date.now()) {
  return comments.some(
    (comment) =>
      ['queued', 'sent', 'delivered'].includes(comment.status) &&
      now - (Date.parse(comment.created_at) || 0) < 15 * 60 * 1000,
  );
}

/** The newest client message of a conversation, or null. */
export function lastClientComment(comments) {
  for (let i = comments.length - 1; i >= 0; i -= 1) {
    if (comments[i].author && comments[i].author.type === 'contact') return comments[i];
  }
  return null;
}

/** The route of a location hash: `#/tasks/{id}`, `#/bots`, `#/staff`, `#/quick-replies`, else the inbox. */
/** Labels typed as `vip, b2b`: trimmed, without empty ones or repeats. */
export function parseLabels(text) {
  const labels = [];
  for (const label of String(text || '').split(',').map((part) => part.trim())) {
    if (label && !labels.includes(label)) labels.push(label);
  }
  return labels;
}

/** Custom fields typed one per line as `name: value` (a line without `:` is a field left empty). */
export function parseFields(text) {
  const fields = {};
  for (const line of String(text || '').split('\n')) {
    const colon = line.indexOf(':');
    const name = (colon < 0 ? line : line.slice(0, colon)).trim();
    if (name) fields[name] = colon < 0 ? '' : line.slice(colon + 1).trim();
  }
  return fields;
}

export const fieldsText = (fields) =>
  Object.entries(fields || {})
    .map(([name, value]) => `${name}: ${value}`)
    .join('\n');

/** A contact's (or a contact template's) group, labels and fields as typed → as the API takes them. */
export const sortingBody = ({ group, labels, fields }) => ({ group: group.trim() || null, labels: parseLabels(labels), fields: parseFields(fields) });

/** The same, as the form shows them. */
export const sortingForm = (sorting) => ({
  group: (sorting && sorting.group) || '',
  labels: ((sorting && sorting.labels) || []).join(', '),
  fields: fieldsText(sorting && sorting.fields),
});

export function parseRoute(hash) {
  const path = String(hash || '').replace(/^#/, '');
  const task = /^\/tasks\/([^/?#]+)$/.exec(path);
  if (task) return { page: 'inbox', taskId: decodeURIComponent(task[1]) };
  if (path === '/bots') return { page: 'bots' };
  if (path === '/staff') return { page: 'staff' };
  if (path === '/quick-replies') return { page: 'quick-replies' };
  if (path === '/contacts') return { page: 'contacts' };
  return { page: 'inbox', taskId: null };
}

/** 32 random hex digits: a reply's `Idempotency-Key` (getRandomValues works on plain http too). */
export function randomKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * The key to send a reply under: the pending one when this is the same reply sent again (its
 * `signature`: task and body), else a new one. Answers `{key, signature}`.
 */
export function replyKey(pending, signature, newKey = randomKey) {
  return pending && pending.signature === signature ? pending : { key: newKey(), signature };
}
