// The user export benchmark: N users (BENCH_USERS, default 100,000) of one cost-based group are exported
// through the local export state machine in a child process whose old space is capped at 48 MB (and young
// space at 2 MB, so that V8's lazily grown young generation does not blur the figure), at a tenth of N and at
// N, to show that peak memory does not grow with the number of users; then the file is imported by the node
// import and the nodes are compared with the users (the round trip).
// Each size is measured beside the reference path, in the same run and just before the export: `psql \copy
// (SELECT …) TO STDOUT CSV | gzip -6` of the same rows (the same columns rendered by the same SQL, the same
// group, ordered the same way; the system psql, with the database URL). The ratio is the export's time over
// the reference's: the target is ≤ 1.5 (DESIGN, targets). CPU: the client processes' (psql and gzip, or the
// export's Node child) and the PostgreSQL server's (every backend that ended meanwhile, other sessions' too).
//
// Measured here (2 cores shared with other work; `DATABASE_URL` = PostgreSQL 15; load average beside each):
//   before (cursor + csv-stringify, gzip 6): 100K users 10.0 s, 10,010 users/s, peak RSS 145 MB (load ~3–8,
//     no reference in that version); 1M users 3.9× the reference (issue 20).
//   after (COPY, SQL escape, gzip 2):
//     users      reference               export                   ratio  peak RSS  load
//     100,000    1.6 s   61,300/s        3.0 s   33,687/s         1.82×  144 MB    6.0
//     1,000,000  9.2 s  108,507/s       12.5 s   80,260/s         1.35×  151 MB    6.0
//     1,000,000 16.3 s   61,248/s       22.9 s   43,614/s         1.40×  159 MB    13–14.5 (before the
//       ascii() escape and the plain columns)
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { USER_EXPORT_COLUMNS } from '../lib/export/user-columns.ts';
import { initLocalConfig } from '../lib/local/adapters.ts';
import { synthesizedMachines } from '../lib/local/run-import.ts';
import { benchDatabase, child, DATA, type Figures, withCpu } from './support.ts';

const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const HEAP_MB = 48;
const HOME = resolve(DATA, 'export-home');

interface ExportFigures {
  status: string;
  exported: number;
  file: string;
  seconds: number;
  maxRssBytes: number;
}

/** The reference path: the group's rows through `psql \copy … TO STDOUT CSV`, piped into `gzip -6`. */
async function reference(url: string, domainId: string, users: number): Promise<Figures> {
  const select = `SELECT ${USER_EXPORT_COLUMNS.map((c) => `${c.sql} AS ${c.name}`).join(', ')} FROM users
    WHERE domain_id = '${domainId}' AND group_id = 'bench' AND ready_for_matching ORDER BY username`;
  const out = resolve(DATA, 'reference.csv.gz');
  const copy = `\\copy (${select.replaceAll('\n', ' ')}) TO STDOUT WITH (FORMAT csv, HEADER true)`;
  const started = process.hrtime.bigint();
  await promisify(execFile)('bash', [
    '-o',
    'pipefail',
    '-c',
    `psql "$1" -v ON_ERROR_STOP=1 -c "$2" | gzip -6 > "$3"`,
    'reference',
    url,
    copy,
    out,
  ]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await rm(out);
  return { path: 'psql \\copy | gzip -6', rows: users, seconds };
}

const cpu = (f: Figures) =>
  `CPU ${f.clientCpuSeconds?.toFixed(1)} s client + ${f.serverCpuSeconds?.toFixed(1)} s PostgreSQL`;

/** `count` ready users of a new cost-based group, with every field set and some values that look like formulas. */
async function seed(client: pg.Client, count: number): Promise<string> {
  const domainId = randomUUID();
  await client.query('INSERT INTO domains (id, name) VALUES ($1, $2)', [domainId, 'bench']);
  await client.query(
    `INSERT INTO matching_groups (domain_id, group_id, name, cost_based) VALUES ($1, 'bench', 'bench', true)`,
    [domainId],
  );
  await client.query(
    `INSERT INTO users (domain_id, group_id, username, display_name, gender, date_of_birth, location, intent, bio,
                        smokes, drinks, wants_kids, education, religion, occupation, preferred_genders,
                        preferred_min_age, preferred_max_age, relationship_type, open_to_long_distance,
                        ready_for_matching)
     SELECT $1, 'bench', 'user-' || lpad(i::text, 7, '0'), 'User ' || i || ', "the ' || i || 'th"',
            (ARRAY['female', 'male', 'non-binary'])[1 + i % 3], date '1970-01-01' + (i % 15000),
            'City ' || (i % 500), 'long-term',
            CASE WHEN i % 10 = 0 THEN '=HYPERLINK("http://x.example/' || i || '")' ELSE '' END
              || repeat('Likes hiking, books and "good" coffee. ', 4) || E'\\nSecond line ' || i,
            i % 2 = 0, i % 3 = 0, i % 5 = 0, 'Degree ' || (i % 7), 'Religion ' || (i % 4),
            CASE WHEN i % 7 = 0 THEN '-engineer' ELSE 'Engineer' END,
            ARRAY['female', 'male'], 21 + i % 10, 35 + i % 20, 'monogamous', i % 2 = 1, true
       FROM generate_series(1, $2::int) AS i`,
    [domainId, count],
  );
  await client.query('ANALYZE users');
  return domainId;
}

const db = await benchDatabase('mb_bench_export');
const client = new pg.Client({ connectionString: db.url });
await client.connect();
try {
  await rm(HOME, { recursive: true, force: true });
  // Synthesize once here: the capped children read the cached definitions.
  initLocalConfig({ DATABASE_URL: db.url, MATCHBRIDGE_HOME: HOME });
  await synthesizedMachines();
  const runs: Array<ExportFigures & { users: number; ref: Figures; cpu: Figures; load: [number, number] }> =
    [];
  let roundTrip: { domainId: string; file: string } | undefined;
  for (const users of [Math.max(1, Math.round(USERS / 10)), USERS]) {
    const domainId = await seed(client, users);
    await client.query('CHECKPOINT');
    const ref = await withCpu(db.url, () => reference(db.url, domainId, users));
    const refLoad = loadavg()[0] ?? 0;
    let figures: ExportFigures | undefined;
    const measured = await withCpu(db.url, async () => {
      figures = await child<ExportFigures>(
        'bench/run-export.ts',
        [db.url, HOME, domainId],
        [`--max-old-space-size=${HEAP_MB}`, '--max-semi-space-size=2'],
      );
      return { path: 'export', rows: users, seconds: figures.seconds };
    });
    if (figures?.status !== 'COMPLETED' || figures.exported !== users) {
      throw new Error(`export of ${users} users: ${JSON.stringify(figures)}`);
    }
    runs.push({ ...figures, users, ref, cpu: measured, load: [refLoad, loadavg()[0] ?? 0] });
    roundTrip = { domainId, file: figures.file };
  }
  if (!roundTrip) throw new Error('no export ran');
  const imported = await child<{ status: string; processed: number; total: number; seconds: number }>(
    'bench/run-pipeline.ts',
    [roundTrip.file, db.url, HOME, roundTrip.domainId, 'bench'],
  );
  const { rows } = await client.query<{ users: number; equal: number }>(
    `SELECT count(*)::int AS users,
            count(*) FILTER (WHERE m.metadata = jsonb_strip_nulls(jsonb_build_object(
              'username', u.username, 'group_id', u.group_id, 'display_name', u.display_name,
              'gender', u.gender, 'date_of_birth', to_char(u.date_of_birth, 'YYYY-MM-DD'),
              'location', u.location, 'intent', u.intent, 'bio', u.bio, 'smokes', u.smokes::text,
              'drinks', u.drinks::text, 'wants_kids', u.wants_kids::text, 'education', u.education,
              'religion', u.religion, 'occupation', u.occupation,
              'preferred_genders', array_to_json(u.preferred_genders)::text,
              'preferred_min_age', u.preferred_min_age::text, 'preferred_max_age', u.preferred_max_age::text,
              'relationship_type', u.relationship_type,
              'open_to_long_distance', u.open_to_long_distance::text,
              'ready_for_matching', u.ready_for_matching::text)))::int AS equal
       FROM users u
       LEFT JOIN nodes n ON n.domain_id = u.domain_id AND n.group_id = u.group_id AND n.reference_id = u.username
       LEFT JOIN node_metadata m ON m.node_id = n.id
      WHERE u.domain_id = $1`,
    [roundTrip.domainId],
  );
  const check = rows[0];
  console.log(`User export, one cost-based group, child heap capped at ${HEAP_MB} MB:`);
  const rate = (users: number, seconds: number) =>
    Math.round(users / seconds)
      .toLocaleString('en-US')
      .padStart(9);
  for (const r of runs) {
    const size = (await stat(r.file)).size;
    console.log(
      `  ${String(r.users).padStart(9)} users  reference ${r.ref.seconds.toFixed(1).padStart(6)} s ` +
        `${rate(r.users, r.ref.seconds)} users/s  ${cpu(r.ref)}  load ${r.load[0].toFixed(2)}`,
    );
    console.log(
      `  ${''.padStart(9)}        export    ${r.seconds.toFixed(1).padStart(6)} s ` +
        `${rate(r.users, r.seconds)} users/s  ${cpu(r.cpu)}  load ${r.load[1].toFixed(2)}  ` +
        `ratio ${(r.seconds / r.ref.seconds).toFixed(2)}×  file ${(size / 2 ** 20).toFixed(1)} MB gz  ` +
        `peak RSS ${(r.maxRssBytes / 2 ** 20).toFixed(0)} MB`,
    );
  }
  console.log(
    `Round trip: node import ${imported.status}, ${imported.processed} of ${imported.total} rows in ` +
      `${imported.seconds.toFixed(1)} s; nodes equal to their users: ${check?.equal} of ${check?.users}`,
  );
  if (imported.status !== 'COMPLETED' || check?.equal !== check?.users) process.exitCode = 1;
} finally {
  await client.end();
  await db.stop();
}
