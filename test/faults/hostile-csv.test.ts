import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_COLUMNS, normalizeHeaderName, REFERENCE_COLUMN } from '../../lib/csv/header.ts';
import { MAX_REFERENCE_LENGTH } from '../../lib/csv/parse-range.ts';
import { planCsvRanges } from '../../lib/csv/plan-csv.ts';
import { unescapeCell } from '../../lib/csv/spreadsheet-escape.ts';
import { InvalidFileError } from '../../lib/errors.ts';
import { groupState, importNodes } from '../support/faults.ts';
import { localPipeline } from '../support/local-pipeline.ts';

const DOMAIN = '0c9b8a7f-6e5d-4c3b-8a2f-1e0d9c8b7a6f';
/** Fixed seeds: a failure replays exactly. */
const SEED = 80_08;
const MAX_RECORD_BYTES = 1024 * 1024;

/** Pieces of text that SQL, CSV and JSON handling trip on. */
const NASTY = [
  "'",
  "''",
  '"',
  ';',
  '--',
  '/*',
  '$1',
  '$$',
  '\\',
  '\\N',
  '%',
  '_',
  ',',
  '\n',
  '\r\n',
  '\t',
  ' ',
  '\0',
  '=',
  '+',
  '@',
  'é',
  'ß',
  '😀',
  '\u202e',
  '\u00a0',
  '\ufeff',
  'a',
  'Z',
  '0',
  'DROP TABLE nodes',
  ')',
  '{',
  '}',
  '[',
  ':',
];

const nasty = (maxLength: number) =>
  fc.array(fc.constantFrom(...NASTY), { maxLength }).map((parts) => parts.join(''));

/** A cell as written in the file: quoted when it must be, or at random. */
function encodeCell(value: string, quote: boolean): string {
  return quote || /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function encodeRecord(values: readonly string[], quotes: readonly boolean[]): string {
  return `${values.map((value, c) => encodeCell(value, quotes[c % quotes.length] ?? false)).join(',')}\n`;
}

/** What resolving a header must give: its normalised names, or the code of the first problem (in column order). */
function expectedHeader(raw: readonly string[]): { names: string[] } | { code: string } {
  if (raw.length > MAX_COLUMNS) return { code: 'TOO_MANY_COLUMNS' };
  const names: string[] = [];
  for (const name of raw) {
    if (name.includes('\0')) return { code: 'INVALID_HEADER' };
    const normalised = normalizeHeaderName(name);
    if (normalised === '') return { code: 'EMPTY_HEADER_NAME' };
    if (names.includes(normalised)) return { code: 'DUPLICATE_COLUMN' };
    names.push(normalised);
  }
  return names.includes(REFERENCE_COLUMN) ? { names } : { code: 'NO_REFERENCE_COLUMN' };
}

async function planOf(csv: string) {
  const bytes = Buffer.from(csv);
  return planCsvRanges(Readable.from([bytes]), {
    uri: 'hostile.csv',
    size: bytes.length,
    splitBytes: 1024,
    maxBatches: 10,
    maxRecordBytes: MAX_RECORD_BYTES,
  });
}

/** A header: the reference column spelled some way, at some place, among hostile names. */
const hostileHeader = fc
  .record({
    reference: fc.constantFrom(
      'reference_id',
      'Reference ID',
      'referenceId',
      ' REFERENCE-ID ',
      'reference__id',
    ),
    others: fc.array(
      fc.oneof(
        { weight: 4, arbitrary: nasty(6) },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
        { weight: 1, arbitrary: fc.constantFrom('x'.repeat(10_000), 'Reference Id', 'name', 'Name', '') },
      ),
      { maxLength: 5 },
    ),
    at: fc.nat(),
    quotes: fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
    bom: fc.boolean(),
  })
  .map(({ reference, others, at, quotes, bom }) => {
    const raw = [...others];
    raw.splice(at % (others.length + 1), 0, reference);
    return { raw, line: `${bom ? '\ufeff' : ''}${encodeRecord(raw, quotes)}` };
  });

describe('hostile CSV headers and fields through plan and load', () => {
  const suite = localPipeline('hostile_csv', {
    SPLIT_BYTES: String(4 * 1024),
    DB_BATCH_ROWS: '7',
    MAX_RECORD_BYTES: String(MAX_RECORD_BYTES),
  });
  let files = 0;

  async function importCsv(csv: string, groupId: string) {
    files += 1;
    const path = join(suite.dir, `hostile-${files}.csv`);
    await writeFile(path, csv);
    return importNodes(DOMAIN, groupId, path);
  }

  const stateOf = async (groupId: string) =>
    ((await groupState(suite.pool, DOMAIN, groupId)) as { reference_id: string; metadata: unknown }[]).map(
      (row) => ({ reference: row.reference_id, metadata: row.metadata ?? {} }),
    );

  it('header names: the planner gives the normalised names or the first problem’s code (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(hostileHeader, async ({ raw, line }) => {
        const expected = expectedHeader(raw);
        const planned = await planOf(`${line}r1\n`).then(
          (plan) => ({ names: plan.header as string[] }),
          (error: unknown) => {
            assert.ok(error instanceof InvalidFileError, `unexpected ${String(error)}`);
            return { code: error.code };
          },
        );
        assert.deepEqual(planned, expected);
      }),
      { numRuns: 500, seed: SEED },
    );
  });

  it('header names through the pipeline: the keys stored exactly, or the job FAILED with nothing loaded', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        hostileHeader,
        fc.array(nasty(4), { minLength: 6, maxLength: 6 }),
        async (header, cells) => {
          run += 1;
          const group = `header-${run}`;
          const expected = expectedHeader(header.raw);
          const values = header.raw.map((_, c) => cells[c % cells.length] ?? '');
          const reference = header.raw.findIndex((name) => normalizeHeaderName(name) === REFERENCE_COLUMN);
          values[reference < 0 ? 0 : reference] = `ref-${run}`;

          const message = await importCsv(`${header.line}${encodeRecord(values, [true])}`, group);

          if ('code' in expected) {
            assert.equal(message.status, 'FAILED');
            assert.match(message.failureReason ?? '', /^InvalidFileError: /);
            assert.deepEqual(await stateOf(group), []);
            return;
          }
          const metadata: Record<string, string> = {};
          expected.names.forEach((name, c) => {
            const value = unescapeCell(values[c] ?? '');
            if (c !== reference && values[c] !== '') metadata[name] = value;
          });
          const clean = Object.values(metadata).every((value) => !value.includes('\0'));
          assert.equal(message.status, clean ? 'COMPLETED' : 'FAILED', message.failureReason);
          assert.deepEqual(await stateOf(group), clean ? [{ reference: `ref-${run}`, metadata }] : []);
        },
      ),
      { numRuns: 25, seed: SEED },
    );
  });

  /** References that collide (duplicates), need quoting, are blank, too long or hold NUL. */
  const reference = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom("o'brien", 'x;--', '$1', '\\', '%_', 'é😀', ' lead', "'=1+1", '"q"'),
    },
    { weight: 3, arbitrary: nasty(5) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('', '  ', '\u3000', 'x\0y', 'r'.repeat(MAX_REFERENCE_LENGTH + 1)),
    },
    { weight: 1, arbitrary: fc.constant('😀'.repeat(MAX_REFERENCE_LENGTH)) },
  );
  const HEADER = [
    'reference_id',
    'na"me',
    "'; DROP TABLE nodes; --",
    '$1',
    'back\\slash',
    'per%cent_',
    'ünï 😀',
  ];
  const record = fc.record({
    values: fc.tuple(reference, ...HEADER.slice(1).map(() => nasty(6))),
    quotes: fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }),
    // Now and then a field too many or too few.
    width: fc.oneof(
      { weight: 12, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.constantFrom(-1, 1) },
    ),
  });

  it('SQL metacharacters, quotes, newlines and NUL in every field: rows stored exactly or failed with a code', async () => {
    const names = HEADER.map(normalizeHeaderName);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 15 }), async (records) => {
        run += 1;
        const group = `fields-${run}`;
        let line = 2;
        let text = encodeRecord(HEADER, [false]);
        const failed = new Map<number, string>();
        const stored = new Map<string, Record<string, string>>();
        for (const { values, quotes, width } of records) {
          const cells = width > 0 ? [...values, 'extra'] : width < 0 ? values.slice(0, -1) : values;
          const encoded = encodeRecord(cells, quotes);
          const ref = unescapeCell(values[0]);
          const metadata: Record<string, string> = {};
          for (let c = 1; c < names.length; c++)
            if (values[c] !== '') metadata[names[c]!] = unescapeCell(values[c]!);
          const code =
            width !== 0
              ? 'WRONG_FIELD_COUNT'
              : ref.trim() === ''
                ? 'MISSING_REFERENCE'
                : [...ref].length > MAX_REFERENCE_LENGTH
                  ? 'REFERENCE_TOO_LONG'
                  : [ref, ...Object.values(metadata)].some((v) => v.includes('\0'))
                    ? 'NUL_CHARACTER'
                    : undefined;
          if (code) failed.set(line, code);
          else {
            // Last line wins.
            stored.delete(ref);
            stored.set(ref, metadata);
          }
          text += encoded;
          line += encoded.split('\n').length - 1;
        }

        const message = await importCsv(text, group);

        assert.deepEqual(
          [message.status, message.total, message.processed],
          [failed.size === 0 ? 'COMPLETED' : 'FAILED', records.length, stored.size],
        );
        const byReference = (a: { reference: string }, b: { reference: string }) =>
          a.reference < b.reference ? -1 : a.reference > b.reference ? 1 : 0;
        const expected = [...stored]
          .map(([ref, metadata]) => ({ reference: ref, metadata }))
          .sort(byReference);
        const actual = (await stateOf(group)).sort(byReference);
        assert.deepEqual(actual, expected);
        const errors = await suite.pool.query<{ line: string; code: string }>(
          'SELECT line, code FROM import_job_errors WHERE job_id = $1 ORDER BY line',
          [message.jobId],
        );
        assert.deepEqual(
          errors.rows.map((row) => [Number(row.line), row.code]),
          [...failed],
        );
      }),
      { numRuns: 60, seed: SEED },
    );
  });

  it('60 metadata columns load (more than one jsonb_build_object call can take)', async () => {
    const header = ['reference_id', ...Array.from({ length: 60 }, (_, c) => `column ${c}`)];
    const values = ['wide', ...Array.from({ length: 60 }, (_, c) => `value ${c}`)];

    const message = await importCsv(encodeRecord(header, [false]) + encodeRecord(values, [false]), 'sixty');

    assert.equal(message.status, 'COMPLETED', message.failureReason);
    const metadata = Object.fromEntries(values.slice(1).map((value, c) => [`column_${c}`, value]));
    assert.deepEqual(await stateOf('sixty'), [{ reference: 'wide', metadata }]);
  });

  it(`${MAX_COLUMNS} columns of incompressible cells filling a record: stored exactly; one more: TOO_MANY_COLUMNS`, async () => {
    const header = ['reference_id', ...Array.from({ length: MAX_COLUMNS - 1 }, (_, c) => `c${c}`)];
    const cellBytes = Math.floor(MAX_RECORD_BYTES / MAX_COLUMNS) - 16;
    const values = [
      'widest',
      ...header.slice(1).map(() => randomBytes(cellBytes).toString('base64').slice(0, cellBytes)),
    ];
    const record = encodeRecord(values, [false]);
    assert.ok(record.length <= MAX_RECORD_BYTES && record.length > MAX_RECORD_BYTES * 0.9);

    const widest = await importCsv(encodeRecord(header, [false]) + record, 'widest');
    const tooWide = [...header, 'one_more'];
    const refused = await importCsv(
      `${encodeRecord(tooWide, [false])}${encodeRecord([...values, 'x'], [false])}`,
      'too-wide',
    );

    assert.equal(widest.status, 'COMPLETED', widest.failureReason);
    const metadata = Object.fromEntries(values.slice(1).map((value, c) => [`c${c}`, value]));
    assert.deepEqual(await stateOf('widest'), [{ reference: 'widest', metadata }]);
    assert.equal(refused.status, 'FAILED');
    assert.match(refused.failureReason ?? '', /^InvalidFileError: /);
    assert.deepEqual(await stateOf('too-wide'), []);
    await assert.rejects(planOf(encodeRecord(tooWide, [false])), {
      name: 'InvalidFileError',
      code: 'TOO_MANY_COLUMNS',
    });
  });

  it('a NUL in a header name, a line over the size limit: the job FAILED, no row loaded', async () => {
    const rows = Array.from({ length: 50 }, (_, i) => `ok-${i},fine`);
    const nul = await importCsv(`reference_id,na\0me\n${rows.join('\n')}\n`, 'nul-header');
    const long = await importCsv(
      `reference_id,bio\n${rows.slice(0, 25).join('\n')}\nlong,${'x'.repeat(MAX_RECORD_BYTES)}\n${rows.slice(25).join('\n')}\n`,
      'long-line',
    );

    for (const [message, group] of [
      [nul, 'nul-header'],
      [long, 'long-line'],
    ] as const) {
      assert.equal(message.status, 'FAILED', group);
      assert.match(message.failureReason ?? '', /^InvalidFileError: /, group);
      assert.deepEqual(await stateOf(group), [], group);
    }
    await assert.rejects(planOf('reference_id,na\0me\nr,x\n'), {
      name: 'InvalidFileError',
      code: 'INVALID_HEADER',
    });
  });
});
