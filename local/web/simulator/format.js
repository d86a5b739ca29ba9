// Pure helpers of the simulator page: sizes, times, what a message's state means.

/** `1.5 MB`, `512 KB`, `10 bytes` (decimal units, like Viber's limits). */
export function formatSize(bytes) {
  if (!bytes && bytes !== 0) return '';
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(bytes >= 1e7 ? 0 : 1)} MB`;
  if (bytes >= 1e3) return `${Math.round(bytes / 1e3)} KB`;
  return `${bytes} bytes`;
}

/** `14:05` today, else `3 Dec, 14:05`, in the browser's time zone. */
export function formatTime(millis, now = Date.now()) {
  const at = new Date(millis);
  const time = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (new Date(now).toDateString() === at.toDateString()) return time;
  return `${at.toLocaleDateString([], { day: 'numeric', month: 'short' })}, ${time}`;
}

/** What a client's own message shows about its way to the bot. */
export function deliveryText(entry) {
  switch (entry.state) {
    case 'sending':
      return 'sending…';
    case 'accepted':
      return 'sent';
    case 'retrying':
      return `not taken (${entry.detail}), Viber retries`;
    case 'not_delivered':
      return `not delivered (${entry.detail})`;
    default:
      return '';
  }
}

/** What a bot message shows about its state on the phone. */
export function receiptText(entry) {
  switch (entry.state) {
    case 'downloading':
      return 'downloading…';
    case 'delivered':
      return 'delivered';
    case 'seen':
      return 'seen';
    case 'failed':
      return `rejected: ${entry.detail}`;
    case 'welcome':
      return 'welcome message';
    default:
      return '';
  }
}

/** Up to two initials (the server draws avatars the same way). */
export function initials(name) {
  const letters = (name || '')
    .split(/\s+/)
    .map((word) => [...word].find((c) => /[\p{L}\p{N}]/u.test(c)))
    .filter(Boolean)
    .slice(0, 2)
    .join('')
    .toUpperCase();
  return letters || '?';
}

/** The label of a client in the picker. */
export function clientLabel(client, severalBots, unreadCount) {
  const unread = unreadCount ? ` (${unreadCount} new)` : '';
  const bot = severalBots && client.bot_name ? ` · ${client.bot_name}` : '';
  return `${client.name}${bot}${unread}`;
}

/** Whether a URL is this page's origin (only those are shown as pictures). */
export function sameOrigin(url, origin) {
  return typeof url === 'string' && (url.startsWith('/') || url.startsWith(`${origin}/`));
}
