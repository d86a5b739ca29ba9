// Unit tests of the web inbox's pure modules, run in the page by tests/browser_inbox.rs
// (WebDriver's execute-async: the last argument is the callback). Answers a list: "ran" and
// one line per failed check.
const done = arguments[arguments.length - 1];
const main = document.querySelector('script[type=module]').src;
const base = main.slice(0, main.lastIndexOf('/') + 1);
Promise.all([import(base + 'model.js'), import(base + 'i18n.js')])
  .then(([m, i18n]) => {
    const failures = ['ran'];
    const eq = (what, actual, expected) => {
      const a = JSON.stringify(actual);
      const e = JSON.stringify(expected);
      if (a !== e) failures.push(`${what}: got ${a}, expected ${e}`);
    };

    const first = m.replyKey(null, 'task-1:hello');
    eq('a reply key is 32 hex digits', /^[0-9a-f]{32}$/.test(first.key), true);
    eq('a reply sent again keeps its key', m.replyKey(first, 'task-1:hello'), first);
    eq('another reply gets a new key', m.replyKey(first, 'task-1:hello!').key === first.key, false);
    eq('keys differ', m.randomKey() === m.randomKey(), false);

    eq('initials of two words', m.initials('Олена Коваленко'), 'ОК');
    eq('initials of one word', m.initials('ivan'), 'IV');
    eq('initials of nothing', m.initials('  '), '?');
    eq('initials skip markup', m.initials('<b>Mallory</b>'), 'BB');
    eq('the same colour for a name', m.colourIndex('Ann'), m.colourIndex('Ann'));

    const me = 'me';
    const task = (id, at, extra = {}) => ({ id, title: `Viber: ${id}`, status: 'new', assignee_id: null, integration_id: 'default', last_message_at: at, ...extra });
    const all = { tab: 'all', status: '', bot: '', q: '' };
    eq('mine', m.matchesFilter(task('a', 1, { assignee_id: 'me' }), { ...all, tab: 'mine' }, me), true);
    eq('not mine', m.matchesFilter(task('a', 1, { assignee_id: 'x' }), { ...all, tab: 'mine' }, me), false);
    eq('unassigned', m.matchesFilter(task('a', 1), { ...all, tab: 'unassigned' }, me), true);
    eq('assigned is not unassigned', m.matchesFilter(task('a', 1, { assignee_id: 'x' }), { ...all, tab: 'unassigned' }, me), false);
    eq('status', m.matchesFilter(task('a', 1, { status: 'waiting' }), { ...all, status: 'new' }, me), false);
    eq('open statuses', m.matchesFilter(task('a', 1, { status: 'waiting' }), { ...all, status: 'active' }, me), true);
    eq('closed is not open', m.matchesFilter(task('a', 1, { status: 'completed' }), { ...all, status: 'active' }, me), false);
    eq('bot', m.matchesFilter(task('a', 1), { ...all, bot: 'sales' }, me), false);
    eq('search by title, any case', m.matchesFilter(task('Олена', 1), { ...all, q: 'олЕНа' }, me), true);
    eq('search by client name', m.matchesFilter(task('a', 1, { requester_name: 'Петро' }), { ...all, q: 'петр' }, me), true);
    eq('search misses', m.matchesFilter(task('a', 1), { ...all, q: 'zzz' }, me), false);
    eq('list params of Mine', m.listParams({ ...all, tab: 'mine', q: ' x ' }, me), { assignee_id: 'me', q: 'x' });
    eq('list params of Unassigned', m.listParams({ ...all, tab: 'unassigned', status: 'active', bot: 'b' }, me), { unassigned: 'true', integration_id: 'b' });

    const t1 = task('t1', '2025-01-01T10:00:00Z');
    const t2 = task('t2', '2025-01-01T11:00:00Z');
    const t3 = task('t3', '2025-01-01T09:00:00Z');
    eq('merge sorts newest first', m.mergeTasks([t1], [t2, t3], all, me).map((t) => t.id), ['t2', 't1', 't3']);
    const moved = { ...t3, last_message_at: '2025-01-01T12:00:00Z' };
    eq('merge moves a changed task up, once', m.mergeTasks([t2, t1, t3], [moved], all, me).map((t) => t.id), ['t3', 't2', 't1']);
    eq('merge twice changes nothing', m.mergeTasks(m.mergeTasks([t1], [t2], all, me), [t2], all, me).length, 2);
    eq('merge drops a task that left the filter', m.mergeTasks([t1, t2], [{ ...t1, assignee_id: 'x' }], { ...all, tab: 'unassigned' }, me).map((t) => t.id), ['t2']);
    eq('merge keeps fields a change does not carry', m.mergeTasks([{ ...t1, requester: { name: 'A' } }], [{ ...t1, status: 'waiting' }], all, me)[0].requester, { name: 'A' });

    eq('a task never seen is news', m.isNewer(t1, undefined), true);
    eq('the same task is not', m.isNewer({ ...t1 }, t1), false);
    eq('a page without unread is not', m.isNewer({ ...t1 }, { ...t1, unread: false }), false);
    eq('unread again is', m.isNewer({ ...t1, unread: true }, { ...t1, unread: false }), true);
    eq('a new client message is', m.isNewer({ ...t1, last_message_at: '2025-01-01T10:05:00Z' }, t1), true);
    eq('ticks', ['queued', 'sent', 'delivered', 'seen', 'failed', 'received', 'internal'].map((s) => m.tick(s) && m.tick(s).cls), ['queued', 'sent', 'delivered', 'seen', 'failed', null, null]);
    const now = Date.parse('2025-01-02T12:00:00Z');
    eq('inside the window', m.replyWindow('2025-01-02T02:00:00Z', now), { open: true, since: 10 * 3600000, left: 14 * 3600000 });
    eq('outside the window', m.replyWindow('2025-01-01T11:00:00Z', now).open, false);
    eq('no client message', m.replyWindow(null, now), null);

    eq('kind from type', m.messageKind({ message_type: 'sticker', attachments: [] }), 'sticker');
    eq('kind from location', m.messageKind({ location: { lat: 1, lon: 2 } }), 'location');
    eq('kind from a picture', m.messageKind({ attachments: [{ content_type: 'image/png' }] }), 'picture');
    eq('kind from a video', m.messageKind({ attachments: [{ content_type: 'video/mp4' }] }), 'video');
    eq('kind from a file', m.messageKind({ attachments: [{ content_type: 'application/pdf' }] }), 'file');
    eq('kind of text', m.messageKind({ text: 'hi' }), 'text');
    eq('map link', m.mapLink({ lat: 50.45, lon: 30.52 }), 'https://www.openstreetmap.org/?mlat=50.45&mlon=30.52#map=16/50.45/30.52');
    eq('no map link without numbers', m.mapLink({ lat: 'x', lon: 1 }), null);

    eq('links in text', m.linkify('see https://example.com/a?b=1. ok'), [{ text: 'see ' }, { url: 'https://example.com/a?b=1' }, { text: '. ok' }]);
    eq('no javascript: links', m.linkify('javascript:alert(1)'), [{ text: 'javascript:alert(1)' }]);
    eq('markup stays text', m.linkify('<img src=x onerror=alert(1)>'), [{ text: '<img src=x onerror=alert(1)>' }]);

    eq('slash query', m.quickReplyQuery('/gre'), 'gre');
    eq('slash alone', m.quickReplyQuery('/'), '');
    eq('not a slash query', m.quickReplyQuery('a /gre'), null);
    eq('not after a space', m.quickReplyQuery('/gre x'), null);
    const replies = [{ id: 1, title: 'Greeting', text: 'Hello' }, { id: 2, title: 'Delivery', text: 'Your greeting card' }, { id: 3, title: 'Bye', text: 'x' }];
    eq('quick replies by title first', m.findQuickReplies(replies, 'gre').map((r) => r.id), [1, 2]);
    eq('every quick reply for nothing typed', m.findQuickReplies(replies, '').length, 3);
    eq('placeholders filled', m.previewQuickReply('Hello, {client_name}! I am {staff_name}.', { client_name: 'Олена', staff_name: 'Іван' }), 'Hello, Олена! I am Іван.');
    eq('an unknown value leaves no gap', m.previewQuickReply('Hello {client_name}, hi', { client_name: '' }), 'Hello, hi');

    eq('poll while visible', m.pollDelay({ visible: true }), 4000);
    eq('poll while hidden', m.pollDelay({ visible: false }), 60000);
    eq('back off after errors', m.pollDelay({ visible: true, failures: 3 }), 8000);
    eq('back-off is bounded', m.pollDelay({ visible: true, failures: 30 }), 30000);

    eq('content type from the browser', m.contentTypeOf({ name: 'a.bin', type: 'image/png' }), 'image/png');
    eq('content type from the extension', m.contentTypeOf({ name: 'Рахунок.PDF', type: '' }), 'application/pdf');
    eq('unknown content type', m.contentTypeOf({ name: 'x', type: '' }), 'application/octet-stream');

    const c = (id, status) => ({ id, status });
    eq('comments merged by id', m.mergeComments([c(1, 'sent'), c(2, 'queued')], [c(2, 'delivered'), c(3, 'received')]), [c(1, 'sent'), c(2, 'delivered'), c(3, 'received')]);
    const at = (minutesAgo) => new Date(now - minutesAgo * 60000).toISOString();
    eq('a recent reply awaits its ticks', m.awaitingTicks([{ status: 'sent', created_at: at(2) }], now), true);
    eq('a seen reply does not', m.awaitingTicks([{ status: 'seen', created_at: at(2) }], now), false);
    eq('an old reply does not', m.awaitingTicks([{ status: 'delivered', created_at: at(30) }], now), false);
    eq('last client comment', m.lastClientComment([{ id: 1, author: { type: 'contact' } }, { id: 2, author: { type: 'staff' } }]).id, 1);

    eq('route of a task', m.parseRoute('#/tasks/t%201'), { page: 'inbox', taskId: 't 1' });
    eq('route of bots', m.parseRoute('#/bots'), { page: 'bots' });
    eq('route of nothing', m.parseRoute(''), { page: 'inbox', taskId: null });
    eq('route of junk', m.parseRoute('#/tasks/a/b'), { page: 'inbox', taskId: null });
    eq('route of contacts', m.parseRoute('#/contacts'), { page: 'contacts' });

    eq('labels typed with commas', m.parseLabels(' vip, b2b,,vip ,'), ['vip', 'b2b']);
    eq('no labels', m.parseLabels(''), []);
    eq('fields one per line', m.parseFields('source: Viber: Acme\n  \nnote\n region :Lviv '), { source: 'Viber: Acme', note: '', region: 'Lviv' });
    eq('fields as typed back', m.fieldsText({ source: 'fair', note: '' }), 'source: fair\nnote: ');
    eq('an empty group is none', m.sortingBody({ group: '  ', labels: 'a', fields: '' }), { group: null, labels: ['a'], fields: {} });
    eq('a form of nothing', m.sortingForm(null), { group: '', labels: '', fields: '' });
    eq('a form of a contact', m.sortingForm({ group: 'Retail', labels: ['a', 'b'], fields: { x: '1' } }), { group: 'Retail', labels: 'a, b', fields: 'x: 1' });

    eq('language from the browser', i18n.initialLanguage(null, ['ru-RU', 'en']), 'ru');
    eq('language picked before', i18n.initialLanguage('en', ['ru-RU']), 'en');
    eq('unknown language', i18n.initialLanguage(null, ['de-DE']), 'en');
    eq('fill', i18n.fill('{a} and {b}', { a: 1 }), '1 and {b}');
    eq('size', i18n.formatSize(1500000).replace(/\s/g, ' '), '1.5 MB');
    eq('every key has both languages', i18n.missingTranslations(), []);
    done(failures);
  })
  .catch((error) => done([`could not run: ${error}`]));
