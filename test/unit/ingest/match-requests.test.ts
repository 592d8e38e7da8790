import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ingestRecords } from '../../../lib/ingest/ingest-records.ts';
import { fakeSink, fakeStarter } from '../../support/ingest-fakes.ts';
import { mskEvent, mskRecord } from '../../support/msk-events.ts';

const DOMAIN = 'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f';
const MATCH_TOPIC = 'dating-matches';
const request = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    domainId: DOMAIN,
    groupId: 'dating',
    filePath: 's3://engine/out/matches-2024-12-12.parquet',
    fileName: 'matches-2024-12-12.parquet',
    contentType: 'application/vnd.apache.parquet',
    ...extra,
  });

describe('ingest of MSK match import requests', () => {
  it('starts a match import for a record of a match topic, and a node import for the others', async () => {
    const starter = fakeStarter();
    const event = mskEvent([
      mskRecord(request(), { topic: MATCH_TOPIC, offset: 3 }),
      mskRecord(request({ filePath: 's3://uploads/users.csv', contentType: 'text/csv' }), { offset: 4 }),
    ]);

    const outcome = await ingestRecords(event, {
      starter,
      deadLetters: fakeSink(),
      allowLocalFiles: false,
      matchTopics: new Set([MATCH_TOPIC]),
    });

    assert.equal(outcome.started.length, 2);
    assert.deepEqual(
      starter.inputs.map((input) => [input.kind, input.source.uri]),
      [
        ['matches', 's3://engine/out/matches-2024-12-12.parquet'],
        ['nodes', 's3://uploads/users.csv'],
      ],
    );
    assert.equal(starter.inputs[0]?.origin, `kafka:${MATCH_TOPIC}/0/3`);
  });

  it('dead-letters invalid match requests with their codes, and the valid ones start', async () => {
    const starter = fakeStarter();
    const sink = fakeSink();
    const bad = [
      '{"domainId":',
      request({ filePath: undefined }),
      request({ referenceIds: ['a'], filePath: undefined }),
      request({ contentType: 'text/csv' }),
      request({ filePath: '/etc/passwd' }),
    ];
    const records = bad.map((value, offset) => mskRecord(value, { topic: MATCH_TOPIC, offset }));
    records.push(mskRecord(request(), { topic: MATCH_TOPIC, offset: 99 }));

    const outcome = await ingestRecords(mskEvent(records), {
      starter,
      deadLetters: sink,
      allowLocalFiles: false,
      matchTopics: new Set([MATCH_TOPIC]),
    });

    assert.deepEqual(
      sink.letters.map((letter) => letter.code),
      ['NOT_JSON', 'SCHEMA_VIOLATION', 'SCHEMA_VIOLATION', 'SCHEMA_VIOLATION', 'INVALID_FILE_PATH'],
    );
    assert.deepEqual(
      outcome.started.map((started) => started.offset),
      [99],
    );
    assert.equal(starter.inputs[0]?.kind, 'matches');
  });
  it('starts one match import for a folder or manifest of parts; a folder of the pipeline bucket outside the domain is refused', async () => {
    const starter = fakeStarter();
    const sink = fakeSink();
    const event = mskEvent([
      mskRecord(request({ filePath: 's3://engine/run-42/' }), { topic: MATCH_TOPIC, offset: 1 }),
      mskRecord(request({ filePath: 's3://engine/run-42/_manifest' }), { topic: MATCH_TOPIC, offset: 2 }),
      mskRecord(request({ filePath: 's3://pipeline/staging/' }), { topic: MATCH_TOPIC, offset: 3 }),
      mskRecord(request({ filePath: 's3://engine/' }), { topic: MATCH_TOPIC, offset: 4 }),
    ]);

    const outcome = await ingestRecords(event, {
      starter,
      deadLetters: sink,
      allowLocalFiles: false,
      matchTopics: new Set([MATCH_TOPIC]),
      pipelineBucket: 'pipeline',
    });

    assert.deepEqual(
      starter.inputs.map((input) => [input.kind, input.source.uri]),
      [
        ['matches', 's3://engine/run-42/'],
        ['matches', 's3://engine/run-42/_manifest'],
      ],
    );
    assert.equal(outcome.started.length, 2);
    assert.deepEqual(
      sink.letters.map((letter) => letter.code),
      ['FORBIDDEN_FILE_PATH', 'INVALID_FILE_PATH'],
    );
  });
});
