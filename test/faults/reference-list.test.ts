import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { JobStatusMessage } from '../../lib/model/types.ts';
import { cli } from '../support/cli.ts';
import { groupState } from '../support/faults.ts';
import { assertIdListMemory, IDS, idListSuite, idOf } from '../support/id-list.ts';
import { describeMemory, runWithMemoryProbe } from '../support/memory-run.ts';

const DOMAIN = '6b5a4f3e-2d1c-4b0a-9f8e-7d6c5b4a3f2e';
const OTHER_DOMAIN = '7c6b5a4f-3e2d-4c1b-8a9f-0e1d2c3b4a5f';
/** Ids listed twice: the first ones again at the end of the list. */
const REPEATED = 1000;
/** Ids that already are nodes with metadata before the list is imported. */
const KNOWN = 1000;

/** Every id once, with a blank line every 100,000, then the first ones again. */
async function* listedIds(): AsyncGenerator<string> {
  for (let i = 0; i < IDS; i++) yield `${idOf(i)}\n${i % 100_000 === 0 ? '\n' : ''}`;
  for (let i = 0; i < REPEATED; i++) yield `${idOf(i)}\n`;
}

describe('a 1M-id reference list through `matchbridge import references`', () => {
  const suite = idListSuite('reference_list', listedIds);

  before(async () => {
    // Known nodes with metadata in the list's group, and the same ids in another group and another domain;
    // the first import also fills the command's synthesis cache, so the measured run does not synthesize.
    const known = join(suite.dir, 'known.csv');
    const rows = Array.from({ length: KNOWN }, (_, i) => `${idOf(i * 7)},known ${i}`);
    await writeFile(known, `reference_id,note\n${rows.join('\n')}\n`);
    for (const [domain, group] of [
      [DOMAIN, 'list'],
      [DOMAIN, 'other-group'],
      [OTHER_DOMAIN, 'list'],
    ] as const) {
      const run = await cli(
        ['import', 'nodes', known, '--domain', domain, '--group', group, '--json'],
        suite.env,
      );
      assert.equal(run.code, 0, run.stderr);
    }
  });

  it('loads every id once, leaves known nodes’ metadata and other groups and domains as they were', async (t) => {
    const otherGroup = await groupState(suite.pool, DOMAIN, 'other-group');
    const otherDomain = await groupState(suite.pool, OTHER_DOMAIN, 'list');
    const knownBefore = (await groupState(suite.pool, DOMAIN, 'list')) as { metadata: unknown }[];

    const { stdout, memory, ms } = await runWithMemoryProbe(
      [
        join('bin', 'matchbridge.js'),
        'import',
        'references',
        '--domain',
        DOMAIN,
        '--group',
        'list',
        '--ids-file',
        suite.idsFile,
        '--json',
      ],
      suite.env,
    );

    const message = JSON.parse(stdout) as JobStatusMessage;
    t.diagnostic(`${IDS + REPEATED} ids in ${(ms / 1000).toFixed(1)} s; ${describeMemory(memory)}`);
    assert.deepEqual(
      [message.status, message.total, message.processed, message.failedList],
      ['COMPLETED', IDS + REPEATED, IDS, []],
    );
    assertIdListMemory(memory);
    const { rows } = await suite.pool.query<Record<string, string>>(
      `SELECT count(*) AS nodes, count(m.node_id) AS with_metadata,
         min(n.reference_id) AS first, max(n.reference_id) AS last,
         count(*) FILTER (WHERE n.reference_id !~ '^u-[0-9]{7}$') AS strange
       FROM nodes n LEFT JOIN node_metadata m ON m.node_id = n.id
       WHERE n.domain_id = $1 AND n.group_id = 'list'`,
      [DOMAIN],
    );
    assert.deepEqual(rows[0], {
      nodes: String(IDS),
      with_metadata: String(KNOWN),
      first: idOf(0),
      last: idOf(IDS - 1),
      strange: '0',
    });
    const known = await suite.pool.query(
      `SELECT n.reference_id, m.metadata FROM nodes n JOIN node_metadata m ON m.node_id = n.id
       WHERE n.domain_id = $1 AND n.group_id = 'list' ORDER BY n.reference_id`,
      [DOMAIN],
    );
    assert.deepEqual(known.rows, knownBefore);
    assert.deepEqual(await groupState(suite.pool, DOMAIN, 'other-group'), otherGroup);
    assert.deepEqual(await groupState(suite.pool, OTHER_DOMAIN, 'list'), otherDomain);
    // Counted once each: known ids as updated, the rest as inserted, the repeats as duplicates.
    const job = await suite.pool.query<Record<string, string>>(
      `SELECT j.status, j.success_count, sum(b.inserted) AS inserted, sum(b.updated) AS updated,
         sum(b.duplicates) AS duplicates
       FROM import_jobs j JOIN import_job_batches b ON b.job_id = j.id WHERE j.id = $1
       GROUP BY j.status, j.success_count`,
      [message.jobId],
    );
    assert.deepEqual(job.rows[0], {
      status: 'COMPLETED',
      success_count: String(IDS),
      inserted: String(IDS - KNOWN),
      updated: String(KNOWN),
      duplicates: String(REPEATED),
    });
    let lines = 0;
    for await (const chunk of createReadStream(message.successListUri ?? '')) {
      for (let at = (chunk as Buffer).indexOf(10); at >= 0; at = (chunk as Buffer).indexOf(10, at + 1))
        lines++;
    }
    assert.equal(lines - 1, IDS, 'the success list names every id once, after its header');
  });
});
