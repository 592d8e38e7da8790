// Dead letters: the list (or, on AWS, the queue's depth), one letter with its original record, and
// replays, each after a confirmation.
import { ApiError, announce, api, confirmAction, h, when } from './ui.js';

function outcomeText(result) {
  if (result.outcome === 'started')
    return h(
      'span',
      {},
      'Replayed: its job started — ',
      h('a', { href: `#/jobs/${result.job_id}` }, `job ${result.job_id}`),
    );
  if (result.outcome === 'duplicate') return h('span', {}, 'Replayed: a duplicate of a job already started.');
  return h('span', {}, `Replayed, and dead-lettered again: ${result.reason}`);
}

function stateText(letter) {
  if (letter.state === 'pending') return 'pending';
  return `replayed (${letter.replay.outcome})`;
}

async function replayAll(result) {
  const ok = await confirmAction(
    'Replay every pending dead letter?',
    'Each pending letter is submitted again through the path it first took: valid requests start their jobs, the others are dead-lettered again with today’s reason.',
  );
  if (!ok) return;
  const { status, body } = await api('/v1/dead-letters/replay', { method: 'POST' });
  const text =
    status === 202
      ? `Handed to the ${body.invoked} function; the queue’s depth falls as it replays.`
      : `${body.replayed.length} replayed: ${body.started} started, ${body.dead_lettered} dead-lettered again, ${body.duplicates} duplicates.`;
  result.textContent = text;
  announce(text);
}

/** The dead-letter list. */
export async function renderDeadLetters(main, { query }) {
  const state = query.get('state') ?? '';
  const { body } = await api(`/v1/dead-letters${state ? `?state=${state}` : ''}`);
  const result = h('p', { role: 'status' });
  const replayButton = h('button', { type: 'button', class: 'danger' }, 'Replay all pending…');
  replayButton.addEventListener('click', () =>
    replayAll(result).catch((e) => (result.textContent = e.message)),
  );
  main.append(h('h1', {}, 'Dead letters'));
  if (!body.browsable) {
    main.append(
      h('p', { class: 'note' }, body.note),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Waiting'),
        h('dd', {}, String(body.approximate_depth.waiting)),
        h('dt', {}, 'Being replayed'),
        h('dd', {}, String(body.approximate_depth.in_flight)),
      ),
      replayButton,
      result,
    );
    return;
  }
  const filter = h(
    'form',
    { class: 'filters', 'aria-label': 'Filter dead letters' },
    h(
      'label',
      {},
      'State',
      h(
        'select',
        { name: 'state' },
        ['', 'pending', 'replayed'].map((v) => h('option', { value: v, selected: v === state }, v || 'any')),
      ),
    ),
    h('button', { type: 'submit' }, 'Apply'),
  );
  filter.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = new FormData(filter).get('state');
    location.hash = value ? `#/dead-letters?state=${value}` : '#/dead-letters';
  });
  const rows = body.letters.map((letter) =>
    h(
      'tr',
      {},
      h('td', {}, h('a', { href: `#/dead-letters/${letter.id}` }, letter.id.slice(0, 8))),
      h('td', {}, when(letter.dead_lettered_at)),
      h('td', {}, stateText(letter)),
      h('td', {}, letter.code),
      h('td', {}, `${letter.topic} / ${letter.partition} / ${letter.offset}`),
      h('td', {}, letter.reason),
    ),
  );
  main.append(
    filter,
    h(
      'table',
      {},
      h('caption', {}, 'Dead letters, oldest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Letter', 'Dead-lettered', 'State', 'Code', 'Topic / partition / offset', 'Reason'].map((t) =>
            h('th', { scope: 'col' }, t),
          ),
        ),
      ),
      h('tbody', {}, rows.length > 0 ? rows : h('tr', {}, h('td', { colspan: 6 }, 'No dead letters.'))),
    ),
    body.next_cursor
      ? h('p', { class: 'note' }, 'More letters exist than are shown here: use `matchbridge dlq list`.')
      : '',
    replayButton,
    result,
  );
}

/** One dead letter: the original record, the reason, and its replay. */
export async function renderDeadLetter(main, { param: id }) {
  const { body: letter } = await api(`/v1/dead-letters/${encodeURIComponent(id)}`);
  const result = h('p', { id: 'replay-result', role: 'status' });
  const button = h(
    'button',
    { type: 'button', class: 'danger', disabled: letter.state !== 'pending' },
    'Replay…',
  );
  button.addEventListener('click', async () => {
    const ok = await confirmAction(
      'Replay this dead letter?',
      `The record from ${letter.topic} (partition ${letter.partition}, offset ${letter.offset}) is submitted again through ingest. If it is valid now, its job starts.`,
    );
    if (!ok) return;
    button.disabled = true;
    try {
      const { body } = await api(`/v1/dead-letters/${encodeURIComponent(id)}/replay`, { method: 'POST' });
      result.replaceChildren(outcomeText(body));
      announce(result.textContent);
      result.querySelector('a')?.focus();
    } catch (error) {
      result.textContent = error instanceof ApiError ? `Not replayed: ${error.message}` : String(error);
      button.disabled = false;
    }
  });
  let value = letter.value;
  if (letter.value_encoding === 'utf8' && value !== null) {
    try {
      value = JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      // Not JSON (often the very reason it was dead-lettered): shown as it came.
    }
  }
  main.append(
    h('h1', {}, `Dead letter ${letter.id}`),
    h(
      'dl',
      { class: 'facts' },
      [
        ['Reason', letter.reason],
        ['Code', letter.code],
        ['Dead-lettered', when(letter.dead_lettered_at)],
        ['State', stateText(letter)],
        ['Topic', letter.topic],
        ['Partition / offset', `${letter.partition} / ${letter.offset}`],
        ['Key', letter.key ?? '(none)'],
      ].flatMap(([t, d]) => [h('dt', {}, t), h('dd', {}, d)]),
    ),
    h('h2', {}, 'Original record'),
    h('pre', { 'aria-label': 'Original record value', tabindex: 0 }, value ?? '(no value)'),
    Object.keys(letter.headers).length > 0
      ? h('pre', { 'aria-label': 'Headers', tabindex: 0 }, JSON.stringify(letter.headers, null, 2))
      : '',
    letter.replay?.job_id
      ? h(
          'p',
          {},
          'Replayed earlier: ',
          h('a', { href: `#/jobs/${letter.replay.job_id}` }, `job ${letter.replay.job_id}`),
        )
      : '',
    button,
    result,
  );
}
