// Export runs per group: what the daily user export (and API exports) did, newest first.
import { api, count, h, statusBadge, when } from './ui.js';

/** The export runs, one table per group. */
export async function renderExportRuns(main, { query }) {
  const group = query.get('group_id') ?? '';
  const { body } = await api(`/v1/export-runs${group ? `?group_id=${encodeURIComponent(group)}` : ''}`);
  const filter = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter export runs' },
    h('label', {}, 'Group', h('input', { name: 'group_id', value: group, size: 14 })),
    h('button', { type: 'submit' }, 'Apply'),
  );
  filter.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = new FormData(filter).get('group_id');
    location.hash = value ? `#/exports?group_id=${encodeURIComponent(value)}` : '#/exports';
  });
  main.append(h('h1', {}, 'Export runs'), filter);
  const groups = Map.groupBy(
    body.runs,
    (run) => `${run.group_id ?? '(all groups)'} · domain ${run.domain_id}`,
  );
  if (groups.size === 0) main.append(h('p', {}, 'No export runs.'));
  for (const [name, runs] of groups) {
    main.append(
      h(
        'table',
        {},
        h('caption', {}, `Group ${name}`),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Started', 'Trigger', 'Status', 'Full', 'Exported', 'Messages', 'Duration', 'File', 'Error'].map(
              (t) => h('th', { scope: 'col' }, t),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          runs.map((run) =>
            h(
              'tr',
              {},
              h('td', {}, when(run.created_at)),
              h('td', {}, run.triggered_by),
              h('td', {}, statusBadge(run.status)),
              h('td', {}, run.full_export === null ? '—' : run.full_export ? 'yes' : 'changes only'),
              h('td', { class: 'num' }, count(run.exported)),
              h('td', { class: 'num' }, count(run.messages_sent)),
              h(
                'td',
                { class: 'num' },
                run.duration_ms === null ? '—' : `${(run.duration_ms / 1000).toFixed(1)} s`,
              ),
              h('td', {}, run.file ?? '—'),
              h('td', {}, run.error ?? ''),
            ),
          ),
        ),
      ),
    );
  }
}
