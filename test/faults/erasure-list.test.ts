import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { JobStatusMessage } from '../../lib/model/types.ts';
import { cli } from '../support/cli.ts';
import { assertIdListMemory, IDS, idListSuite, idOf } from '../support/id-list.ts';
import { describeMemory, runWithMemoryProbe } from '../support/memory-run.ts';

const DOMAIN = '8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b5a';
const OTHER_DOMAIN = '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6c';
/** Members of the domain, in two groups: every other one is in the list. */
const MEMBERS = 20_000;

/** Even member numbers, then ids no member has, up to 1M. */
async function* listedIds(): AsyncGenerator<string> {
  for (let i = 0; i < MEMBERS; i += 2) yield `${idOf(i)}\n`;
  for (let i = MEMBERS; i < IDS + MEMBERS / 2; i++) yield `${idOf(i)}\n`;
}

describe('a 1M-id erasure through `matchbridge erase`', () => {
  const suite = idListSuite('erasure_list', listedIds);

  before(async () => {
    for (const domain of [DOMAIN, OTHER_DOMAIN]) {
      await suite.pool.query(
        `INSERT INTO nodes (domain_id, group_id, reference_id)
         SELECT $1, g, 'u-' || lpad(i::text, 7, '0') FROM generate_series(0, $2 - 1) i, unnest('{a,b}'::text[]) g`,
        [domain, MEMBERS],
      );
      await suite.pool.query(
        `INSERT INTO node_metadata (node_id, domain_id, metadata)
         SELECT id, domain_id, jsonb_build_object('n', reference_id) FROM nodes WHERE domain_id = $1`,
        [domain],
      );
      // Each member suggested to the next one.
      await suite.pool.query(
        `INSERT INTO match_suggestions (domain_id, group_id, participant_id, matched_participant_id, compatibility_score)
         SELECT $1, 'a', 'u-' || lpad(i::text, 7, '0'), 'u-' || lpad((i + 1)::text, 7, '0'), 0.5
         FROM generate_series(0, $2 - 2) i`,
        [domain, MEMBERS],
      );
    }
    // Fills the command's synthesis cache, so the measured run does not synthesize.
    const warm = await cli(
      ['erase', '--domain', OTHER_DOMAIN, '--group', 'none', '--ids', 'x', '--json'],
      suite.env,
    );
    assert.equal(warm.code, 0, warm.stderr);
  });

  it('erases every listed member in flat memory, and nothing else', async (t) => {
    const { stdout, memory, ms } = await runWithMemoryProbe(
      [join('bin', 'matchbridge.js'), 'erase', '--domain', DOMAIN, '--ids-file', suite.idsFile, '--json'],
      suite.env,
    );

    const message = JSON.parse(stdout) as JobStatusMessage;
    t.diagnostic(`${IDS} ids in ${(ms / 1000).toFixed(1)} s; ${describeMemory(memory)}`);
    assert.deepEqual(
      [message.kind, message.status, message.total, message.processed],
      ['erasure', 'COMPLETED', IDS, IDS],
    );
    assertIdListMemory(memory);
    const left = await suite.pool.query<Record<string, string>>(
      `SELECT count(*) AS nodes,
         count(*) FILTER (WHERE right(reference_id, 1) IN ('0', '2', '4', '6', '8')) AS even,
         (SELECT count(*) FROM node_metadata WHERE domain_id = $1) AS metadata,
         (SELECT count(*) FROM match_suggestions WHERE domain_id = $1) AS suggestions
       FROM nodes WHERE domain_id = $1`,
      [DOMAIN],
    );
    // Odd members stay in both groups; a suggestion always has an even side (i → i + 1), so none is left.
    assert.deepEqual(left.rows[0], {
      nodes: String(MEMBERS),
      even: '0',
      metadata: String(MEMBERS),
      suggestions: '0',
    });
    const other = await suite.pool.query<Record<string, string>>(
      `SELECT (SELECT count(*) FROM nodes WHERE domain_id = $1) AS nodes,
              (SELECT count(*) FROM match_suggestions WHERE domain_id = $1) AS suggestions`,
      [OTHER_DOMAIN],
    );
    assert.deepEqual(other.rows[0], { nodes: String(2 * MEMBERS), suggestions: String(MEMBERS - 1) });
    const record = await suite.pool.query(`SELECT counts FROM erasures WHERE job_id = $1`, [message.jobId]);
    assert.deepEqual(record.rows[0]?.counts, {
      nodes: MEMBERS,
      node_metadata: MEMBERS,
      match_suggestions: MEMBERS - 1,
      users: 0,
      user_removals: 0,
      import_job_errors: 0,
      job_status_events: 0,
    });
    assert.equal(
      Number((await suite.pool.query('SELECT count(*) AS n FROM erasure_references')).rows[0]?.n),
      0,
    );
  });
});
