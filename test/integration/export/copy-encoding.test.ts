import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import type pg from 'pg';
import { escapeCell } from '../../../lib/csv/spreadsheet-escape.ts';
import { USER_EXPORT_COLUMNS } from '../../../lib/export/user-columns.ts';
import { testDatabase } from '../../support/database.ts';
import { createDomain, insertUsers, type TestUser, wholeGroupCsv } from './support.ts';

/**
 * The encoder the export used before its files came from COPY: the cells read as text through a query, each
 * spreadsheet-escaped in Node, then csv-stringify with a header row. The COPY-produced file must be these
 * bytes exactly.
 */
async function previousEncoding(pool: pg.Pool, domainId: string, groupId: string): Promise<string> {
  const { rows } = await pool.query<Array<string | null>>({
    text: `SELECT ${USER_EXPORT_COLUMNS.map((c) => c.sql).join(', ')} FROM users
            WHERE domain_id = $1 AND group_id = $2 AND ready_for_matching ORDER BY username`,
    values: [domainId, groupId],
    rowMode: 'array',
  });
  const records = rows.map((row) => row.map((cell) => (cell === null ? '' : escapeCell(cell))));
  return stringify(records, { header: true, columns: USER_EXPORT_COLUMNS.map((c) => c.name) });
}

/** Values both encoders must agree on: quoting, formula prefixes, empties, NULLs, line ends, non-ASCII. */
const TRICKY: TestUser[] = [
  {
    username: 'a-quotes',
    display_name: 'Alice "Al", Jr.',
    bio: '=HYPERLINK("http://evil.example","click")\nsecond line\r\nthird',
    location: 'Pune, IN',
    preferred_genders: ['male', 'non-binary'],
    preferred_min_age: -5,
    preferred_max_age: 40,
    smokes: false,
    drinks: true,
  },
  { username: '=cmd|" /C calc"!A0', bio: '+1 555', occupation: '-engineer', education: '@SUM(A1:A9)' },
  { username: '-bob', display_name: "'already quoted", religion: "''two", intent: '\tindented' },
  { username: "'apostrophe", location: "'plain", bio: '\rcarriage', gender: "'" },
  { username: 'émile 😀', display_name: 'Émile ☃', bio: 'semi;colon, comma "quote"', intent: '\\.' },
  { username: 'empties', display_name: '', bio: '', location: ' ', intent: '""', occupation: ',' },
  { username: 'nulls', preferred_genders: [] },
  { username: 'x\\.', bio: '\\.', religion: '\\N', education: 'NULL' },
  // Sorts between "'apostrophe" and "-bob" by its username, after every escaped one by its escaped cell.
  { username: '(paren' },
];

describe('the export file from COPY (issue 20)', () => {
  let pool: pg.Pool;
  let closeDb: () => Promise<void>;

  before(async () => {
    const db = await testDatabase('export_copy_encoding');
    pool = db.pool;
    closeDb = db.close;
  });
  after(async () => closeDb?.());

  it('is byte for byte what the previous encoder wrote, on quotes, commas, line breaks, formulas, NULLs, unicode', async () => {
    const domainId = await createDomain(pool, [['tricky', true]]);
    await insertUsers(pool, domainId, 'tricky', TRICKY);
    const copied = await wholeGroupCsv(pool, domainId, 'tricky');
    assert.equal(copied, await previousEncoding(pool, domainId, 'tricky'));
    // Not trivially equal: the cells that need it are escaped and quoted.
    assert.match(copied, /^reference_id,username,/);
    assert.ok(copied.includes(`"'=HYPERLINK(""http://evil.example"",""click"")\nsecond line\r\nthird"`));
    assert.ok(copied.includes(`'-5`));
  });

  it('agrees with the previous encoder on arbitrary text in every text column', async () => {
    const domainId = await createDomain(pool, [['random', true]]);
    // PostgreSQL text holds no NUL; everything else may come.
    const text = fc
      .oneof(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: fc.constantFrom("'", '=', '+', '-', '@', '\t', '\r', '\n', '"', ',', ' ', 'é') }),
      )
      .map((s) => s.replaceAll('\u0000', ''));
    const users = fc.sample(
      fc.record({ display_name: text, bio: text, location: text, occupation: text, intent: text }),
      { numRuns: 200, seed: 20 },
    );
    await insertUsers(
      pool,
      domainId,
      'random',
      users.map((u, i) => ({ ...u, username: `u${String(i).padStart(4, '0')}` })),
    );
    assert.equal(
      await wholeGroupCsv(pool, domainId, 'random'),
      await previousEncoding(pool, domainId, 'random'),
    );
  });
});
