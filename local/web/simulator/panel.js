// The misbehaviour panel: make Viber's API fail the next sends, make the phones mishandle the
// next messages, re-send the last callback, and watch what the simulator did (its log).

import { html, useState } from './preact.js';
import { post, remove } from './api.js';
import { formatTime } from './format.js';

const SEND_FAULTS = [
  ['http500', 'HTTP 500'],
  ['rate_limit', 'Rate limit (status 12)'],
  ['drop_connection', 'Drop the connection'],
];
const DELIVERY_FAULTS = [
  ['receipts_out_of_order', 'Receipts out of order (seen before delivered)'],
  ['client_rejects', 'Reject the message (failed callback)'],
];
const NAMES = Object.fromEntries([...SEND_FAULTS, ...DELIVERY_FAULTS]);

function Count({ id, value, onChange }) {
  return html`<input id=${id} class="count" type="number" min="1" max="20" value=${value} onInput=${(e) => onChange(e.target.value)} />`;
}

export function Panel({ view, log, act, busy }) {
  const [sendFault, setSendFault] = useState('http500');
  const [sendCount, setSendCount] = useState('2');
  const [deliveryFault, setDeliveryFault] = useState('receipts_out_of_order');
  const [deliveryCount, setDeliveryCount] = useState('1');
  const waiting = [...view.faults.send, ...view.faults.delivery];
  const last = view.last_callback;
  const count = (raw) => Math.max(1, Math.min(20, parseInt(raw, 10) || 1));
  return html`<aside class="panel" aria-labelledby="panel-title">
    <h2 id="panel-title">Misbehaviour</h2>
    <p class="muted">Make the simulated Viber fail on purpose and watch the stack retry without sending anything twice.</p>

    <section class="box">
      <h3>Viber's API</h3>
      <div class="row">
        <div class="field">
          <label for="send-fault">Answer the next sends with</label>
          <select id="send-fault" value=${sendFault} onChange=${(e) => setSendFault(e.target.value)}>
            ${SEND_FAULTS.map(([value, label]) => html`<option value=${value}>${label}</option>`)}
          </select>
        </div>
        <div class="field">
          <label for="send-count">Sends</label>
          <${Count} id="send-count" value=${sendCount} onChange=${setSendCount} />
        </div>
      </div>
      <button type="button" class="button" disabled=${busy} onClick=${() => act(() => post('/faults', { send: sendFault, count: count(sendCount) }))}>Fail next sends</button>
    </section>

    <section class="box">
      <h3>The phone</h3>
      <div class="row">
        <div class="field">
          <label for="delivery-fault">For the next messages</label>
          <select id="delivery-fault" value=${deliveryFault} onChange=${(e) => setDeliveryFault(e.target.value)}>
            ${DELIVERY_FAULTS.map(([value, label]) => html`<option value=${value}>${label}</option>`)}
          </select>
        </div>
        <div class="field">
          <label for="delivery-count">Messages</label>
          <${Count} id="delivery-count" value=${deliveryCount} onChange=${setDeliveryCount} />
        </div>
      </div>
      <button type="button" class="button" disabled=${busy} onClick=${() => act(() => post('/faults', { delivery: deliveryFault, count: count(deliveryCount) }))}>Mishandle next messages</button>
    </section>

    <section class="box">
      <h3>Callbacks</h3>
      <p class="muted">
        ${last
          ? html`Last: <code>${last.event}</code>${last.client ? ` of ${last.client}` : ''}, message_token <code>${last.message_token}</code>`
          : 'No callback sent yet.'}
      </p>
      <button type="button" class="button" disabled=${busy || !last} onClick=${() => act(() => post('/duplicate', {}))}>Re-send last callback</button>
    </section>

    <section class="box" aria-labelledby="waiting-title">
      <h3 id="waiting-title">Waiting faults</h3>
      ${waiting.length === 0
        ? html`<p class="muted">None: the simulator behaves like Viber.</p>`
        : html`<ol class="faults">${waiting.map((fault) => html`<li>${NAMES[fault] || fault}</li>`)}</ol>`}
      <button type="button" class="button ghost" disabled=${busy || waiting.length === 0} onClick=${() => act(() => remove('/faults'))}>Clear faults</button>
    </section>

    <section class="box log-box">
      <h3 id="log-title">Simulator log</h3>
      <ol class="log" role="log" aria-labelledby="log-title">
        ${log.length === 0 && html`<li class="muted">Nothing yet.</li>`}
        ${[...log].reverse().map((line) => html`<li key=${line.id}><time>${formatTime(line.at)}</time> ${line.text}</li>`)}
      </ol>
    </section>
  </aside>`;
}
