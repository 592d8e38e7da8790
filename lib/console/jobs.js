// The jobs page: a live list (refreshed every few seconds), with filters kept in the address.
import { api, count, h, statusBadge, when } from './ui.js';

const REFRESH_MS = 2000;
const KINDS = ['', 'nodes', 'matches', 'users'];
const STATUSES = ['', 'pending', 'processing', 'completed', 'failed'];

function select(name, label, values, selected) {
  return h(
    'label',
    {},
    label,
    h(
      'select',
      { name },
      values.map((v) => h('option', { value: v, selected: v === selected }, v || 'any')),
    ),
  );
}

function progressCell(job) {
  const total = job.total_records;
  if (job.status === 'completed' || job.status === 'failed') return count(job.processed_count);
  const label = `Progress of job ${job.job_id}`;
  return total > 0
    ? h('progress', { max: total, value: job.processed_count, 'aria-label': label })
    : h('progress', { 'aria-label': label });
}

function row(job) {
  return h(
    'tr',
    { 'data-job': job.job_id },
    h('td', {}, h('a', { href: `#/jobs/${job.job_id}` }, job.job_id.slice(0, 8))),
    h('td', {}, job.kind),
    h('td', {}, job.group_id),
    h('td', {}, statusBadge(job.status)),
    h('td', {}, progressCell(job)),
    h('td', { class: 'num' }, count(job.processed_count), ' / ', count(job.total_records)),
    h('td', { class: 'num' }, count(job.fail_count)),
    h('td', { class: 'num' }, count(job.rows_per_second)),
    h('td', {}, when(job.created_at)),
  );
}

/**
 * Puts the jobs in the table. When the same jobs are listed in the same order, only their figures change
 * and the links stay the same elements, so a refresh never takes the keyboard focus away from a link.
 */
function show(body, jobs) {
  const rows = [...body.rows];
  const same = rows.length === jobs.length && jobs.every((job, i) => rows[i].dataset.job === job.job_id);
  if (!same) {
    body.replaceChildren(...jobs.map(row));
    return;
  }
  for (const [i, job] of jobs.entries()) {
    const cells = [...row(job).cells];
    for (const [c, cell] of [...rows[i].cells].entries())
      if (c > 0) cell.replaceChildren(...cells[c].childNodes);
  }
}

/** Renders the jobs page into `main`; stops refreshing when `signal` aborts. */
export async function renderJobs(main, { query }, signal) {
  const filters = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter jobs' },
    select('kind', 'Kind', KINDS, query.get('kind') ?? ''),
    select('status', 'Status', STATUSES, query.get('status') ?? ''),
    h('label', {}, 'Group', h('input', { name: 'group_id', value: query.get('group_id') ?? '', size: 14 })),
    h(
      'label',
      {},
      'Created since',
      h('input', { name: 'since', type: 'datetime-local', value: query.get('since')?.slice(0, 16) ?? '' }),
    ),
    h('button', { type: 'submit' }, 'Apply'),
  );
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(filters)) {
      if (value === '') continue;
      params.set(name, name === 'since' ? new Date(value).toISOString() : value);
    }
    location.hash = `#/jobs?${params}`;
  });
  const body = h('tbody');
  const updated = h('p', { class: 'note' });
  const more = h('button', { type: 'button', hidden: true }, 'Show older jobs');
  const table = h(
    'table',
    {},
    h('caption', {}, 'Jobs, newest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Job', 'Kind', 'Group', 'Status', 'Progress'].map((t) => h('th', { scope: 'col' }, t)),
        ['Rows', 'Failed', 'Rows/s'].map((t) => h('th', { scope: 'col', class: 'num' }, t)),
        h('th', { scope: 'col' }, 'Created'),
      ),
    ),
    body,
  );
  main.append(h('h1', {}, 'Jobs'), filters, updated, table, more);

  const params = new URLSearchParams();
  for (const name of ['kind', 'status', 'group_id', 'since']) {
    if (query.get(name)) params.set(name, query.get(name));
  }
  // Refreshing replaces the first page; older pages, once shown, stay as they were loaded.
  let older = [];
  let cursor = null;
  const refresh = async () => {
    const { body: page } = await api(`/v1/jobs?${params}`);
    if (signal.aborted) return;
    show(body, [...page.jobs, ...older]);
    if (older.length === 0) cursor = page.next_cursor;
    more.hidden = cursor === null;
    updated.textContent =
      page.jobs.length === 0 ? 'No jobs match.' : `Updated ${new Date().toLocaleTimeString()}`;
  };
  more.addEventListener('click', async () => {
    const { body: page } = await api(`/v1/jobs?${params}&cursor=${encodeURIComponent(cursor)}`);
    older = [...older, ...page.jobs];
    cursor = page.next_cursor;
    await refresh();
  });
  await refresh();
  const timer = setInterval(() => refresh().catch(() => undefined), REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(timer));
}
