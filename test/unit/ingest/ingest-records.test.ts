import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { DatabaseUnavailableError } from '../../../lib/errors.ts';
import { ingestRecords } from '../../../lib/ingest/ingest-records.ts';
import type { ExecutionStarter } from '../../../lib/model/ingest.ts';
import { IMPORT_REQUEST_MAX_BYTES } from '../../../lib/settings.ts';
import { fakeSink, fakeStarter } from '../../support/ingest-fakes.ts';
import { mskEvent, mskRecord } from '../../support/msk-events.ts';

const DOMAIN = 'a4f5e6d7-8c9b-4a1e-9f2d-3c4b5a6e7f80';
const valid = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    domainId: DOMAIN,
    groupId: 'dating',
    filePath: 's3://uploads/users_2024-12-12.csv.gz',
    fileName: 'users_2024-12-12.csv.gz',
    contentType: 'application/gzip',
    ...extra,
  });

describe('ingest of MSK import requests', () => {
  it('starts one execution per valid file request, named by a job id derived from the record', async () => {
    const starter = fakeStarter();
    const event = mskEvent([
      mskRecord(valid(), { offset: 7 }),
      mskRecord(valid({ groupId: 'other' }), { offset: 8 }),
    ]);

    const outcome = await ingestRecords(event, { starter, deadLetters: fakeSink(), allowLocalFiles: false });

    assert.equal(outcome.started.length, 2);
    assert.equal(starter.inputs[0]?.source.uri, 's3://uploads/users_2024-12-12.csv.gz');
    assert.equal(starter.inputs[0]?.origin, 'kafka:dating-users/0/7');
    assert.match(
      starter.inputs[0]?.jobId ?? '',
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.notEqual(starter.inputs[0]?.jobId, starter.inputs[1]?.jobId);
  });

  it('starts a request with "dryRun": true as a dry run, and dead-letters a dryRun that is no boolean', async () => {
    const starter = fakeStarter();
    const sink = fakeSink();
    const event = mskEvent([
      mskRecord(valid({ dryRun: true, maxFailedRows: 5 }), { offset: 1 }),
      mskRecord(valid(), { offset: 2 }),
      mskRecord(valid({ dryRun: 'yes' }), { offset: 3 }),
    ]);

    await ingestRecords(event, { starter, deadLetters: sink, allowLocalFiles: false });

    assert.deepEqual(
      starter.inputs.map((input) => [input.dryRun, input.maxFailedRows]),
      [
        [true, 5],
        [undefined, undefined],
      ],
    );
    assert.deepEqual(
      sink.letters.map((letter) => letter.offset),
      [3],
    );
  });

  it("carries a request's asOf to its job, and dead-letters an asOf that is no ISO time with an offset", async () => {
    const starter = fakeStarter();
    const sink = fakeSink();
    const event = mskEvent([
      mskRecord(valid({ asOf: '2026-12-01T10:00:00Z' }), { offset: 1 }),
      mskRecord(valid({ asOf: '2026-12-01T15:30:00+05:30' }), { offset: 2 }),
      mskRecord(valid(), { offset: 3 }),
      mskRecord(valid({ asOf: '2026-12-01' }), { offset: 4 }),
      mskRecord(valid({ asOf: 'yesterday' }), { offset: 5 }),
    ]);

    await ingestRecords(event, { starter, deadLetters: sink, allowLocalFiles: false });

    assert.deepEqual(
      starter.inputs.map((input) => input.asOf),
      ['2026-12-01T10:00:00Z', '2026-12-01T15:30:00+05:30', undefined],
    );
    assert.deepEqual(
      sink.letters.map((letter) => [letter.offset, letter.code]),
      [
        [4, 'SCHEMA_VIOLATION'],
        [5, 'SCHEMA_VIOLATION'],
      ],
    );
  });

  it('dead-letters each invalid record with its own code while valid records in the batch start', async () => {
    const starter = fakeStarter();
    const sink = fakeSink();
    const cases: Array<[string, Buffer | string | null]> = [
      ['NOT_JSON', '{"domainId": '],
      ['SCHEMA_VIOLATION', valid({ domainId: 'not-a-uuid' })],
      ['SCHEMA_VIOLATION', valid({ referenceIds: ['a'] })],
      ['SCHEMA_VIOLATION', JSON.stringify({ domainId: DOMAIN, groupId: 'g' })],
      ['SCHEMA_VIOLATION', valid({ groupId: '' })],
      ['INVALID_FILE_PATH', valid({ filePath: '/etc/passwd' })],
      ['INVALID_FILE_PATH', valid({ filePath: 's3://bucket/../../secret' })],
      ['INVALID_FILE_PATH', valid({ filePath: 'https://minio.local/bucket/%E0%A4%A.csv' })],
      ['EMPTY_VALUE', null],
      ['NOT_UTF8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
      ['OVERSIZED', `{"x":"${'a'.repeat(IMPORT_REQUEST_MAX_BYTES)}"}`],
    ];
    const records = cases.map(([, value], offset) => mskRecord(value, { offset, key: `k${offset}` }));
    records.push(mskRecord(valid(), { offset: 99 }));

    const outcome = await ingestRecords(mskEvent(records), {
      starter,
      deadLetters: sink,
      allowLocalFiles: false,
    });

    assert.deepEqual(
      sink.letters.map((l) => l.code),
      cases.map(([code]) => code),
    );
    assert.equal(outcome.started.length, 1);
    assert.equal(outcome.started[0]?.offset, 99);
    const first = sink.letters[0];
    assert.equal(first?.topic, 'dating-users');
    assert.equal(first?.key, 'k0');
    assert.equal(first?.value, '{"domainId": ');
    assert.equal(sink.letters.find((l) => l.code === 'NOT_UTF8')?.valueEncoding, 'base64');
  });

  it('dead-letters local paths that are no files in local mode rather than failing the batch', async () => {
    const starter = fakeStarter();
    const sink = fakeSink();
    const paths = ['file://\0/', 'file://other-host/users.csv', 'file:///a%2Fb.csv', '/tmp/users\0.csv'];
    const records = paths.map((filePath, offset) => mskRecord(valid({ filePath }), { offset }));

    await ingestRecords(mskEvent(records), { starter, deadLetters: sink, allowLocalFiles: true });

    assert.deepEqual(
      sink.letters.map((l) => l.code),
      paths.map(() => 'INVALID_FILE_PATH'),
    );
    assert.equal(starter.inputs.length, 0);
  });

  it("refuses paths into the pipeline's bucket other than the request domain's uploads and exports", async () => {
    const starter = fakeStarter();
    const sink = fakeSink();
    const other = '6f1c2b3a-1d2e-4f50-9a8b-7c6d5e4f3a2b';
    const refused = [
      `s3://pipeline/staging/${randomUUID()}/parts/part-00000.csv`,
      `s3://pipeline/reports/${randomUUID()}/failed.csv`,
      `s3://pipeline/incoming/nodes/${other}/g/users.csv`,
      `s3://pipeline/exports/users/${other}/g/users_2026-11-22.csv.gz`,
      `https://pipeline.s3.eu-west-1.amazonaws.com/incoming/nodes/${other}/g/users.csv`,
    ];
    const accepted = [
      `s3://pipeline/incoming/nodes/${DOMAIN}/g/users.csv`,
      `s3://pipeline/exports/users/${DOMAIN}/g/users_2026-11-22.csv.gz`,
      `s3://partner-bucket/staging/${other}/users.csv`,
    ];
    const records = [...refused, ...accepted].map((filePath, offset) =>
      mskRecord(valid({ filePath }), { offset }),
    );

    await ingestRecords(mskEvent(records), {
      starter,
      deadLetters: sink,
      allowLocalFiles: false,
      pipelineBucket: 'pipeline',
    });

    assert.deepEqual(
      sink.letters.map((l) => l.code),
      refused.map(() => 'FORBIDDEN_FILE_PATH'),
    );
    assert.deepEqual(
      starter.inputs.map((input) => input.source.uri),
      accepted,
    );
  });

  it('starts one job for a record delivered twice, in one event or across events', async () => {
    const starter = fakeStarter();
    const deps = { starter, deadLetters: fakeSink(), allowLocalFiles: false };
    const record = mskRecord(valid(), { offset: 42 });

    const first = await ingestRecords(mskEvent([record, record]), deps);
    const second = await ingestRecords(mskEvent([record]), deps);

    assert.equal(starter.inputs.length, 1);
    assert.equal(first.started.length + second.started.length, 1);
    assert.equal(first.duplicates + second.duplicates, 2);
  });

  it('treats the same idempotency-key header at different offsets as one request', async () => {
    const starter = fakeStarter();
    const headers = { 'idempotency-key': 'export-2024-12-12-dating' };

    await ingestRecords(
      mskEvent([mskRecord(valid(), { offset: 1, headers }), mskRecord(valid(), { offset: 2, headers })]),
      { starter, deadLetters: fakeSink(), allowLocalFiles: false },
    );

    assert.equal(starter.inputs.length, 1);
  });

  it('reports a record that failed transiently for redelivery from it, and skips the rest of its partition only', async () => {
    const inner = fakeStarter();
    const starter: ExecutionStarter = {
      async start(input) {
        if (input.groupId === 'down') throw new DatabaseUnavailableError('down');
        return inner.start(input);
      },
    };
    const event = mskEvent([
      mskRecord(valid(), { partition: 0, offset: 10 }),
      mskRecord(valid({ groupId: 'down' }), { partition: 0, offset: 11 }),
      mskRecord(valid({ groupId: 'after' }), { partition: 0, offset: 12 }),
      mskRecord(valid({ groupId: 'other-partition' }), { partition: 1, offset: 5 }),
    ]);

    const outcome = await ingestRecords(event, { starter, deadLetters: fakeSink(), allowLocalFiles: false });

    assert.deepEqual(outcome.batchItemFailures, [
      { itemIdentifier: { partition: 'dating-users-0', offset: 11 } },
    ]);
    assert.deepEqual(
      outcome.started.map((s) => [s.partition, s.offset]),
      [
        [0, 10],
        [1, 5],
      ],
    );
    assert.deepEqual(
      inner.inputs.map((input) => input.groupId),
      ['dating', 'other-partition'],
    );
  });

  it('reports no failures for a batch of valid and invalid records: invalid ones are dead-lettered', async () => {
    const outcome = await ingestRecords(mskEvent([mskRecord(valid()), mskRecord('{', { offset: 1 })]), {
      starter: fakeStarter(),
      deadLetters: fakeSink(),
      allowLocalFiles: false,
    });

    assert.deepEqual(outcome.batchItemFailures, []);
    assert.equal(outcome.deadLettered.length, 1);
  });
});
