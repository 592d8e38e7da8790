// A job's page: live progress (Server-Sent Events, or polling where the API has no event stream),
// batches, speed, time left, the failed rows with their lines and reasons, the lists and the status message.
import { announce, api, count, duration, h, statusBadge, when } from './ui.js';

const POLL_MS = 1000;
const DETAIL_MS = 2000;
const FINAL = new Set(['completed', 'failed']);

/**
 * The job's figures, live: the import's `progress` (batches, speed, time left) where the API gives one, else
 * the jobs list's batches and speed, and the time left at that speed.
 */
function figures(job) {
  const progress = job.progress ?? {};
  const rate = progress.rows_per_second ?? job.rows_per_second;
  const left = job.total_records - job.processed_count;
  const estimate =
    typeof progress.eta_seconds === 'number'
      ? progress.eta_seconds
      : job.total_records > 0 && rate > 0
        ? left / rate
        : null;
  return {
    batchesDone: progress.batches_done ?? job.batches_done,
    batchesTotal: progress.batches_total ?? job.batches_total,
    rate,
    secondsLeft: FINAL.has(job.status) ? 0 : estimate,
  };
}

function facts(entries) {
  return h(
    'dl',
    { class: 'facts' },
    entries.flatMap(([term, value, id]) => [h('dt', {}, term), h('dd', id ? { id } : {}, value)]),
  );
}

function errorRows(errors) {
  return errors.map((e) =>
    h('tr', {}, h('td', { class: 'num' }, String(e.line)), h('td', {}, e.errors.join('; '))),
  );
}

function statusMessages(messages) {
  if (messages.length === 0)
    return h('p', { class: 'note' }, 'No status message yet: it is sent when the job ends.');
  return h(
    'table',
    {},
    h('caption', {}, 'Status messages and where they were delivered'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Destination', 'Delivery', 'Published', 'Message'].map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    h(
      'tbody',
      {},
      messages.map((m) =>
        h(
          'tr',
          {},
          h('td', {}, m.destination),
          h('td', {}, m.delivery_status, m.delivery_error ? ` (${m.delivery_error})` : ''),
          h('td', {}, when(m.published_at)),
          h(
            'td',
            {},
            h(
              'details',
              {},
              h('summary', {}, 'Show message'),
              h('pre', {}, JSON.stringify(m.message, null, 2)),
            ),
          ),
        ),
      ),
    ),
  );
}

/** Renders the page of the job `param`; its live updates stop when `signal` aborts. */
export async function renderJob(main, { param: jobId }, signal) {
  let detail = (await api(`/v1/jobs/${jobId}`)).body;
  let view = (await api(`/v1/imports/${jobId}`)).body;
  const job = () => ({ ...detail, ...view });

  const progress = h('progress', { id: 'job-progress', 'aria-labelledby': 'progress-label' });
  const progressText = h('span', { id: 'progress-text' });
  const status = h('span', { id: 'job-status' });
  const numbers = {};
  const number = (id) => {
    numbers[id] = h('span', { id });
    return numbers[id];
  };
  const links = h('p', { id: 'job-links' });
  const failure = h('p', { class: 'error', hidden: true });
  const failedBody = h('tbody');
  const moreFailed = h('button', { type: 'button', hidden: true }, 'Show more failed rows');
  const messages = h('section', { 'aria-labelledby': 'messages-title' });
  let errorCursor = null;

  main.append(
    h('h1', {}, `Job ${jobId}`),
    facts([
      ['Kind', detail.kind],
      ['Group', detail.group_id],
      ['Domain', detail.domain_id],
      ['Status', status],
      ['Created', when(detail.created_at)],
      ['Started', number('job-started')],
      ['Completed', number('job-completed')],
    ]),
    h(
      'section',
      { 'aria-labelledby': 'progress-label' },
      h('h2', { id: 'progress-label' }, 'Progress'),
      progress,
      h('p', {}, progressText),
      facts([
        ['Rows processed', number('job-processed')],
        ['Loaded', number('job-success')],
        ['Failed', number('job-failed')],
        ['Stale (older than the data held)', number('job-stale')],
        ['Batches', number('job-batches')],
        ['Rows per second', number('job-rate')],
        ['Time left', number('job-left')],
      ]),
      failure,
      links,
    ),
    h(
      'section',
      { 'aria-labelledby': 'failed-title' },
      h('h2', { id: 'failed-title' }, 'Failed rows'),
      h(
        'table',
        { id: 'failed-rows' },
        h('caption', { class: 'visually-hidden' }, 'Failed rows with their line numbers and reasons'),
        h(
          'thead',
          {},
          h('tr', {}, h('th', { scope: 'col', class: 'num' }, 'Line'), h('th', { scope: 'col' }, 'Reasons')),
        ),
        failedBody,
      ),
      moreFailed,
    ),
    messages,
  );

  const paint = () => {
    const j = job();
    status.replaceChildren(statusBadge(j.status));
    if (j.total_records > 0) {
      progress.max = j.total_records;
      progress.value = Math.min(j.processed_count, j.total_records);
      const percent = Math.floor((100 * j.processed_count) / j.total_records);
      progressText.textContent = `${count(j.processed_count)} of ${count(j.total_records)} rows (${percent}%)`;
    } else {
      progress.removeAttribute('value');
      progressText.textContent = `${count(j.processed_count)} rows so far; the total is not known yet`;
    }
    numbers['job-started'].textContent = when(j.started_at);
    numbers['job-completed'].textContent = when(j.completed_at);
    numbers['job-processed'].textContent = count(j.processed_count);
    numbers['job-success'].textContent = count(j.success_count);
    numbers['job-failed'].textContent = count(j.fail_count);
    numbers['job-stale'].textContent = count(j.stale_count ?? 0);
    const f = figures(j);
    numbers['job-batches'].textContent =
      f.batchesTotal === null || f.batchesTotal === undefined
        ? `${count(f.batchesDone)} done`
        : `${count(f.batchesDone)} of ${count(f.batchesTotal)}`;
    numbers['job-rate'].textContent = count(f.rate);
    numbers['job-left'].textContent = duration(f.secondsLeft);
    failure.hidden = !j.failure;
    failure.textContent = j.failure ? `Failed: ${j.failure.message} (${j.failure.code})` : '';
    links.replaceChildren(
      j.success_list_url
        ? h('a', { href: j.success_list_url }, 'Success list')
        : h('span', { class: 'note' }, 'No success list yet'),
      ' · ',
      j.error_report_url
        ? h('a', { href: j.error_report_url }, 'Failed list')
        : h('span', { class: 'note' }, 'No failed list'),
    );
    messages.replaceChildren(
      h('h2', { id: 'messages-title' }, 'Status message'),
      statusMessages(detail.status_messages),
    );
  };
  const paintErrors = (page, append) => {
    if (!append) failedBody.replaceChildren();
    failedBody.append(...errorRows(page.errors));
    if (failedBody.children.length === 0) failedBody.append(h('tr', {}, h('td', { colspan: 2 }, 'None.')));
    errorCursor = page.next_cursor ?? null;
    moreFailed.hidden = errorCursor === null;
  };
  moreFailed.addEventListener('click', async () => {
    const { body } = await api(`/v1/imports/${jobId}?cursor=${encodeURIComponent(errorCursor)}`);
    paintErrors(body, true);
  });
  paint();
  paintErrors(view, false);
  if (FINAL.has(view.status)) return;

  const timers = [];
  const stopAll = () => {
    for (const t of timers) clearInterval(t);
    source?.close();
  };
  signal.addEventListener('abort', stopAll);
  const finish = async () => {
    stopAll();
    detail = (await api(`/v1/jobs/${jobId}`)).body;
    view = (await api(`/v1/imports/${jobId}`)).body;
    if (signal.aborted) return;
    paint();
    paintErrors(view, false);
    announce(`Job ${view.status}`);
  };
  const update = (next) => {
    view = { ...next, errors: view.errors };
    paint();
    if (FINAL.has(next.status)) finish();
  };
  timers.push(
    setInterval(async () => {
      detail = (await api(`/v1/jobs/${jobId}`)).body;
      if (!signal.aborted) paint();
    }, DETAIL_MS),
  );
  const poll = () =>
    timers.push(setInterval(async () => update((await api(`/v1/imports/${jobId}`)).body), POLL_MS));
  let source = typeof EventSource === 'function' ? new EventSource(`/v1/imports/${jobId}/events`) : undefined;
  if (!source) return poll();
  for (const name of ['progress', 'completed', 'failed']) {
    source.addEventListener(name, (event) => update(JSON.parse(event.data)));
  }
  // An API without the event stream answers with an error: the source closes, and the page polls instead.
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) {
      source = undefined;
      poll();
    }
  });
}
