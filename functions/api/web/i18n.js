// Texts of the inbox in English and Russian, and dates, sizes, languages and countries through
// Intl, in the browser's time zone. The language comes from the browser unless staff picked one
// (kept in localStorage: it is not a secret).

const en = {
  contacts: 'Contacts',
  group: 'Group',
  labels: 'Labels',
  fields: 'Fields',
  labelsHint: 'Separated by commas',
  fieldsHint: 'One per line: name: value',
  contactSorting: 'Group, labels and fields',
  saveContact: 'Save contact',
  contactTemplate: 'New contacts',
  contactTemplateHint: 'Given once, when a client first writes; a change leaves existing contacts as they are.',
  contactFilters: 'Contact filters',
  filterByGroup: 'Filter by group',
  filterByLabel: 'Filter by label',
  applyFilters: 'Apply filters',
  clearFilters: 'Clear filters',
  noContacts: 'No contacts here.',
  appName: 'viberdesk',
  signInTitle: 'Sign in to viberdesk',
  signInLead: 'Paste the staff token your owner gave you. It stays in this tab only and is forgotten when you sign out or close the tab.',
  staffToken: 'Staff token',
  signIn: 'Sign in',
  signingIn: 'Signing in…',
  badToken: 'This token is not valid. Ask your owner for a new one.',
  sessionEnded: 'You were signed out: your token is no longer valid.',
  signOut: 'Sign out',
  language: 'Language',
  inbox: 'Inbox',
  bots: 'Bots',
  staff: 'Staff',
  quickReplies: 'Quick replies',
  roleOwner: 'owner',
  roleStaff: 'staff',
  tasks: 'Tasks',
  views: 'Inbox views',
  mine: 'Mine',
  unassigned: 'Unassigned',
  all: 'All',
  search: 'Search',
  searchPlaceholder: 'Search by client or title',
  statusFilter: 'Status filter',
  botFilter: 'Bot filter',
  anyStatus: 'Any status',
  activeStatuses: 'Open (new, in progress, waiting)',
  anyBot: 'All bots',
  status_new: 'New',
  status_in_progress: 'In progress',
  status_waiting: 'Waiting',
  status_completed: 'Completed',
  status_cancelled: 'Cancelled',
  unread: 'unread',
  loadMore: 'Load more',
  loading: 'Loading…',
  retry: 'Retry',
  noTasks: 'No conversations yet. When a client writes to your Viber bot, it appears here.',
  noMatches: 'No conversations match these filters.',
  loadFailed: 'Could not load: {message}',
  offline: 'Connection lost. Retrying…',
  liveSlow: 'Live updates are slower: the change feed is not available.',
  pickConversation: 'Pick a conversation on the left.',
  pickConversationHint: 'New client messages appear here by themselves.',
  conversation: 'Conversation',
  backToTasks: 'Tasks',
  taskDetails: 'Task details',
  noMessages: 'No messages in this conversation yet.',
  olderMessages: 'Load older messages',
  client: 'Client',
  someone: 'Someone',
  deletedMember: 'Former staff member',
  internalNote: 'Internal note',
  internalLabel: 'internal note',
  st_queued: 'queued',
  st_sent: 'sent',
  st_delivered: 'delivered',
  st_seen: 'seen',
  st_failed: 'failed',
  picture: 'Picture',
  video: 'Video',
  file: 'File',
  sticker: 'Sticker',
  location: 'Location',
  contact: 'Contact',
  link: 'Link',
  message: 'Message',
  openMap: 'Open map',
  openFull: 'Open full size',
  close: 'Close',
  download: 'Download',
  fileUnavailable: 'File not available',
  reply: 'Reply',
  replyPlaceholder: 'Write a reply to the client… (Ctrl+Enter sends, / for quick replies)',
  notePlaceholder: 'Write an internal note: only staff see it…',
  send: 'Send',
  sending: 'Sending…',
  attachFiles: 'Attach files',
  dropHere: 'Drop files to attach them',
  uploading: 'Uploading {name}',
  uploadFailed: 'Upload failed: {message}',
  removeFile: 'Remove {name}',
  noQuickReplies: 'No quick replies yet. An owner adds them on the Quick replies page.',
  quickReplyChosen: 'Quick reply',
  removeQuickReply: 'Remove the quick reply',
  window24Inside: 'The client wrote {ago}: replies are free for another {left}.',
  window24Outside: 'The client last wrote {ago}, more than 24 hours ago: a reply is now a paid Viber message.',
  unsubscribedWarning: 'The client unsubscribed from the bot: Viber delivers nothing until they write again.',
  noteMode: 'Only staff see internal notes; they never reach the client.',
  sendFailed: 'Not sent: {message}',
  status: 'Status',
  assignee: 'Assignee',
  nobody: 'Unassigned',
  participants: 'Participants',
  noParticipants: 'No participants',
  requester: 'Client',
  phone: 'Phone',
  phoneNotShared: 'not shared',
  languageOf: 'Language',
  country: 'Country',
  subscribed: 'Subscribed',
  unsubscribed: 'Unsubscribed',
  clientSince: 'Client since',
  previousTask: 'Previous task',
  otherTasks: "The client's other tasks",
  noOtherTasks: 'No other tasks.',
  created: 'Created',
  lastClientMessage: 'Last client message',
  bot: 'Bot',
  description: 'Description',
  deleteTask: 'Delete task',
  confirmDeleteTask: 'Delete this task? The conversation disappears from the inbox.',
  taskDeleted: 'Task deleted.',
  saved: 'Saved.',
  saveFailed: 'Not saved: {message}',
  copy: 'Copy',
  copied: 'Copied.',
  copyFailed: 'Could not copy: select the text and copy it by hand.',
  ownersOnly: 'Only owners can open this page.',
  connectBot: 'Connect a bot',
  connect: 'Connect',
  connecting: 'Connecting…',
  name: 'Name',
  botToken: 'Bot token',
  botTokenHint: 'From the Viber admin panel ("Edit info" of your bot). It is stored on the server and never shown again.',
  botConnected: '{name} is connected. Share the deep link or the QR code with your clients.',
  deepLink: 'Deep link',
  webhookUrl: 'Webhook URL',
  qrCode: 'QR code of the deep link',
  qrFailed: 'The QR code could not be drawn. Reload the page.',
  noBots: 'No bots connected yet. Connect your Viber bot with its token to start receiving messages.',
  edit: 'Edit',
  save: 'Save',
  cancel: 'Cancel',
  disconnect: 'Disconnect',
  confirmDisconnect: 'Disconnect {name}? Viber stops sending its messages here. Tasks and contacts stay.',
  disconnected: '{name} was disconnected.',
  template: 'New tasks',
  taskTitle: 'Task title',
  taskTitleHint: 'Placeholders: {name}, {bot}',
  initialStatus: 'Initial status',
  defaultAssignee: 'Assignee of new tasks',
  ownerFallback: 'Default (the owner)',
  options: 'Options',
  newTaskIfNoActive: 'New task when the client has no active task',
  sendAsStaff: 'Clients see the replying staff member’s name',
  welcomeMessage: 'Welcome message',
  welcomeHint: 'Shown when a client opens the chat; empty for none.',
  addStaff: 'Add staff member',
  adding: 'Adding…',
  role: 'Role',
  avatarUrl: 'Avatar URL',
  tokenOnce: 'The token of {name}, shown this once. Give it to them privately: they sign in with it.',
  token: 'Token',
  done: 'Done',
  remove: 'Remove',
  confirmRemoveStaff: 'Remove {name}? Their token stops working at once.',
  removed: '{name} was removed.',
  you: 'you',
  title: 'Title',
  text: 'Text',
  addQuickReply: 'Add quick reply',
  placeholdersHint: 'Placeholders: {client_name}, {client_phone}, {staff_name}, {bot_name}',
  confirmDeleteQuickReply: 'Delete the quick reply “{title}”?',
  delete: 'Delete',
  noQuickRepliesYet: 'No quick replies yet.',
  today: 'today',
  justNow: 'just now',
  appUpdated: 'viberdesk was updated: reload the page.',
  notFoundTask: 'This task does not exist or was deleted.',
  unknown: 'unknown',
  error_network: 'the server cannot be reached',
};

const ru = {
  contacts: 'Контакты',
  group: 'Группа',
  labels: 'Метки',
  fields: 'Поля',
  labelsHint: 'Через запятую',
  fieldsHint: 'По одному в строке: название: значение',
  contactSorting: 'Группа, метки и поля',
  saveContact: 'Сохранить контакт',
  contactTemplate: 'Новые контакты',
  contactTemplateHint: 'Задаётся один раз, когда клиент впервые пишет; изменение не трогает существующие контакты.',
  contactFilters: 'Фильтры контактов',
  filterByGroup: 'Фильтр по группе',
  filterByLabel: 'Фильтр по метке',
  applyFilters: 'Применить',
  clearFilters: 'Сбросить',
  noContacts: 'Контактов нет.',
  appName: 'viberdesk',
  signInTitle: 'Вход в viberdesk',
  signInLead: 'Вставьте токен сотрудника, который дал вам владелец. Он хранится только в этой вкладке и забывается при выходе или закрытии вкладки.',
  staffToken: 'Токен сотрудника',
  signIn: 'Войти',
  signingIn: 'Вход…',
  badToken: 'Этот токен недействителен. Попросите у владельца новый.',
  sessionEnded: 'Вы вышли: ваш токен больше не действует.',
  signOut: 'Выйти',
  language: 'Язык',
  inbox: 'Входящие',
  bots: 'Боты',
  staff: 'Сотрудники',
  quickReplies: 'Быстрые ответы',
  roleOwner: 'владелец',
  roleStaff: 'сотрудник',
  tasks: 'Задачи',
  views: 'Разделы входящих',
  mine: 'Мои',
  unassigned: 'Без исполнителя',
  all: 'Все',
  search: 'Поиск',
  searchPlaceholder: 'Поиск по клиенту или названию',
  statusFilter: 'Фильтр по статусу',
  botFilter: 'Фильтр по боту',
  anyStatus: 'Любой статус',
  activeStatuses: 'Открытые (новые, в работе, ожидание)',
  anyBot: 'Все боты',
  status_new: 'Новая',
  status_in_progress: 'В работе',
  status_waiting: 'Ожидание',
  status_completed: 'Завершена',
  status_cancelled: 'Отменена',
  unread: 'не прочитано',
  loadMore: 'Показать ещё',
  loading: 'Загрузка…',
  retry: 'Повторить',
  noTasks: 'Диалогов пока нет. Когда клиент напишет вашему Viber-боту, диалог появится здесь.',
  noMatches: 'Нет диалогов, подходящих под эти фильтры.',
  loadFailed: 'Не удалось загрузить: {message}',
  offline: 'Нет связи. Повторяем…',
  liveSlow: 'Обновления приходят медленнее: лента изменений недоступна.',
  pickConversation: 'Выберите диалог слева.',
  pickConversationHint: 'Новые сообщения клиентов появляются сами.',
  conversation: 'Диалог',
  backToTasks: 'Задачи',
  taskDetails: 'Карточка задачи',
  noMessages: 'В этом диалоге пока нет сообщений.',
  olderMessages: 'Показать более ранние',
  client: 'Клиент',
  someone: 'Кто-то',
  deletedMember: 'Бывший сотрудник',
  internalNote: 'Внутренняя заметка',
  internalLabel: 'внутренняя заметка',
  st_queued: 'в очереди',
  st_sent: 'отправлено',
  st_delivered: 'доставлено',
  st_seen: 'прочитано',
  st_failed: 'ошибка',
  picture: 'Фото',
  video: 'Видео',
  file: 'Файл',
  sticker: 'Стикер',
  location: 'Местоположение',
  contact: 'Контакт',
  link: 'Ссылка',
  message: 'Сообщение',
  openMap: 'Открыть карту',
  openFull: 'Открыть в полном размере',
  close: 'Закрыть',
  download: 'Скачать',
  fileUnavailable: 'Файл недоступен',
  reply: 'Ответ',
  replyPlaceholder: 'Напишите ответ клиенту… (Ctrl+Enter — отправить, / — быстрые ответы)',
  notePlaceholder: 'Внутренняя заметка: её видят только сотрудники…',
  send: 'Отправить',
  sending: 'Отправка…',
  attachFiles: 'Прикрепить файлы',
  dropHere: 'Отпустите файлы, чтобы прикрепить',
  uploading: 'Загрузка {name}',
  uploadFailed: 'Не загружено: {message}',
  removeFile: 'Убрать {name}',
  noQuickReplies: 'Быстрых ответов пока нет. Владелец добавляет их на странице «Быстрые ответы».',
  quickReplyChosen: 'Быстрый ответ',
  removeQuickReply: 'Убрать быстрый ответ',
  window24Inside: 'Клиент писал {ago}: ответы бесплатны ещё {left}.',
  window24Outside: 'Клиент писал {ago}, больше 24 часов назад: ответ будет платным сообщением Viber.',
  unsubscribedWarning: 'Клиент отписался от бота: Viber ничего не доставит, пока клиент снова не напишет.',
  noteMode: 'Внутренние заметки видят только сотрудники; клиенту они не уходят.',
  sendFailed: 'Не отправлено: {message}',
  status: 'Статус',
  assignee: 'Исполнитель',
  nobody: 'Без исполнителя',
  participants: 'Участники',
  noParticipants: 'Нет участников',
  requester: 'Клиент',
  phone: 'Телефон',
  phoneNotShared: 'не указан',
  languageOf: 'Язык',
  country: 'Страна',
  subscribed: 'Подписан',
  unsubscribed: 'Отписался',
  clientSince: 'Клиент с',
  previousTask: 'Предыдущая задача',
  otherTasks: 'Другие задачи клиента',
  noOtherTasks: 'Других задач нет.',
  created: 'Создана',
  lastClientMessage: 'Последнее сообщение клиента',
  bot: 'Бот',
  description: 'Описание',
  deleteTask: 'Удалить задачу',
  confirmDeleteTask: 'Удалить задачу? Диалог исчезнет из входящих.',
  taskDeleted: 'Задача удалена.',
  saved: 'Сохранено.',
  saveFailed: 'Не сохранено: {message}',
  copy: 'Копировать',
  copied: 'Скопировано.',
  copyFailed: 'Не удалось скопировать: выделите текст и скопируйте вручную.',
  ownersOnly: 'Эта страница доступна только владельцам.',
  connectBot: 'Подключить бота',
  connect: 'Подключить',
  connecting: 'Подключение…',
  name: 'Имя',
  botToken: 'Токен бота',
  botTokenHint: 'Из панели администратора Viber («Edit info» вашего бота). Хранится на сервере и больше не показывается.',
  botConnected: '{name} подключён. Поделитесь ссылкой или QR-кодом с клиентами.',
  deepLink: 'Ссылка на чат',
  webhookUrl: 'Адрес вебхука',
  qrCode: 'QR-код ссылки на чат',
  qrFailed: 'Не удалось нарисовать QR-код. Перезагрузите страницу.',
  noBots: 'Боты ещё не подключены. Подключите Viber-бота по его токену, чтобы получать сообщения.',
  edit: 'Изменить',
  save: 'Сохранить',
  cancel: 'Отмена',
  disconnect: 'Отключить',
  confirmDisconnect: 'Отключить {name}? Viber перестанет присылать сюда его сообщения. Задачи и контакты останутся.',
  disconnected: '{name} отключён.',
  template: 'Новые задачи',
  taskTitle: 'Название задачи',
  taskTitleHint: 'Подстановки: {name}, {bot}',
  initialStatus: 'Начальный статус',
  defaultAssignee: 'Исполнитель новых задач',
  ownerFallback: 'По умолчанию (владелец)',
  options: 'Настройки',
  newTaskIfNoActive: 'Новая задача, если у клиента нет активной',
  sendAsStaff: 'Клиент видит имя ответившего сотрудника',
  welcomeMessage: 'Приветствие',
  welcomeHint: 'Показывается, когда клиент открывает чат; пусто — без приветствия.',
  addStaff: 'Добавить сотрудника',
  adding: 'Добавление…',
  role: 'Роль',
  avatarUrl: 'Адрес аватара',
  tokenOnce: 'Токен сотрудника {name} показывается один раз. Передайте его лично: с ним входят в систему.',
  token: 'Токен',
  done: 'Готово',
  remove: 'Удалить',
  confirmRemoveStaff: 'Удалить {name}? Токен перестанет действовать сразу.',
  removed: '{name} удалён.',
  you: 'вы',
  title: 'Название',
  text: 'Текст',
  addQuickReply: 'Добавить быстрый ответ',
  placeholdersHint: 'Подстановки: {client_name}, {client_phone}, {staff_name}, {bot_name}',
  confirmDeleteQuickReply: 'Удалить быстрый ответ «{title}»?',
  delete: 'Удалить',
  noQuickRepliesYet: 'Быстрых ответов пока нет.',
  today: 'сегодня',
  justNow: 'только что',
  appUpdated: 'viberdesk обновился: перезагрузите страницу.',
  notFoundTask: 'Этой задачи нет или она удалена.',
  unknown: 'неизвестно',
  error_network: 'сервер недоступен',
};

export const LANGUAGES = { en: 'English', ru: 'Русский' };
const dictionaries = { en, ru };
const STORAGE_KEY = 'viberdesk.lang';

/** The language to start in: the one picked before, else the browser's first we have. */
export function initialLanguage(stored, browserLanguages) {
  if (stored && dictionaries[stored]) return stored;
  for (const tag of browserLanguages || []) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (dictionaries[base]) return base;
  }
  return 'en';
}

let current = initialLanguage(safeStored(), typeof navigator === 'undefined' ? [] : navigator.languages || [navigator.language]);

function safeStored() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function lang() {
  return current;
}

export function setLanguage(code) {
  if (!dictionaries[code]) return;
  current = code;
  document.documentElement.lang = code;
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
}

/** The text for `key`, with `{name}` replaced by `vars.name`; unknown placeholders stay. */
export function t(key, vars) {
  const text = dictionaries[current][key] ?? en[key] ?? key;
  return vars ? fill(text, vars) : text;
}

export function fill(text, vars) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (vars[name] === undefined ? whole : String(vars[name])));
}

const cache = new Map();
function formatter(kind, options) {
  const key = `${current}|${kind}|${JSON.stringify(options)}`;
  if (!cache.has(key)) {
    const make = {
      date: () => new Intl.DateTimeFormat(current, options),
      relative: () => new Intl.RelativeTimeFormat(current, options),
      number: () => new Intl.NumberFormat(current, options),
    }[kind];
    cache.set(key, make());
  }
  return cache.get(key);
}

function toDate(value) {
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** A message time: the time today, the day and time this year, the full date before. */
export function formatTime(value, now = new Date()) {
  const date = toDate(value);
  if (!date) return '';
  const sameDay = date.toDateString() === now.toDateString();
  if (sameDay) return formatter('date', { hour: '2-digit', minute: '2-digit' }).format(date);
  if (date.getFullYear() === now.getFullYear()) {
    return formatter('date', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }).format(date);
  }
  return formatter('date', { dateStyle: 'medium' }).format(date);
}

/** A short time for list items: the time today, else the date. */
export function formatShort(value, now = new Date()) {
  const date = toDate(value);
  if (!date) return '';
  if (date.toDateString() === now.toDateString()) {
    return formatter('date', { hour: '2-digit', minute: '2-digit' }).format(date);
  }
  if (date.getFullYear() === now.getFullYear()) return formatter('date', { day: 'numeric', month: 'short' }).format(date);
  return formatter('date', { dateStyle: 'short' }).format(date);
}

export function formatFull(value) {
  const date = toDate(value);
  return date ? formatter('date', { dateStyle: 'long', timeStyle: 'short' }).format(date) : '';
}

export function formatDate(value) {
  const date = toDate(value);
  return date ? formatter('date', { dateStyle: 'long' }).format(date) : '';
}

/** "5 minutes ago", "in 3 hours": the largest whole unit. */
export function formatAgo(value, now = new Date()) {
  const date = toDate(value);
  if (!date) return '';
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  if (Math.abs(seconds) < 45) return t('justNow');
  return formatter('relative', { numeric: 'auto' }).format(...largestUnit(seconds));
}

/** A duration, such as "3 hours" or "25 minutes". */
export function formatDuration(ms) {
  const minutes = Math.max(1, Math.round(ms / 60000));
  if (minutes < 60) return formatter('number', { style: 'unit', unit: 'minute', unitDisplay: 'long' }).format(minutes);
  const hours = Math.round(minutes / 60);
  return formatter('number', { style: 'unit', unit: 'hour', unitDisplay: 'long' }).format(hours);
}

function largestUnit(seconds) {
  const units = [
    ['year', 31536000],
    ['month', 2592000],
    ['week', 604800],
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return [Math.round(seconds / size), unit];
  }
  return [seconds, 'second'];
}

/** Bytes as "840 KB", "2.4 MB". */
export function formatSize(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = value < 10 && unit > 0 ? 1 : 0;
  return formatter('number', { style: 'unit', unit: units[unit], unitDisplay: 'short', maximumFractionDigits: digits }).format(value);
}

function displayName(type, code) {
  if (!code) return '';
  try {
    return new Intl.DisplayNames([current], { type }).of(code) || code;
  } catch {
    return code;
  }
}

export const languageName = (code) => displayName('language', code);
export const countryName = (code) => displayName('region', String(code || '').toUpperCase());

/** Keys one language has and the other lacks (a unit test keeps this empty). */
export function missingTranslations() {
  const missing = [];
  for (const [code, dictionary] of Object.entries(dictionaries)) {
    for (const key of Object.keys(en)) if (!(key in dictionary)) missing.push(`${code}: ${key}`);
    for (const key of Object.keys(dictionary)) if (!(key in en)) missing.push(`en: ${key}`);
  }
  return missing;
}
