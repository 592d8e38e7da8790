import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ingestRecords, parseMskEvent } from '../../../lib/ingest/ingest-records.ts';
import { type ConsumedRecord, toMskEvent } from '../../../lib/kafka/msk-event.ts';
import type { DeadLetter, ExecutionStarter } from '../../../lib/model/ingest.ts';
import type { ImportExecutionInput } from '../../../lib/model/types.ts';

const DOMAIN = 'a4f5e6d7-8c9b-4a1e-9f2d-3c4b5a6e7f80';

function consumed(
  value: string | null,
  at: { topic?: string; partition?: number; offset: number },
  extra: Partial<ConsumedRecord> = {},
): ConsumedRecord {
  return {
    topic: at.topic ?? 'dating-users',
    partition: at.partition ?? 0,
    offset: BigInt(at.offset),
    timestamp: 1_734_000_000_000n,
    ...(value === null ? {} : { value: Buffer.from(value) }),
    headerEntries: [],
    ...extra,
  };
}

describe('MSK event of a poll batch', () => {
  it('groups the records under topic-partition in the order given, with the mapping envelope', () => {
    const event = toMskEvent(
      [
        consumed('a', { offset: 5 }),
        consumed('b', { topic: 'eu-users', partition: 2, offset: 9 }),
        consumed('c', { offset: 6 }),
      ],
      ['127.0.0.1:9092', '127.0.0.1:9093'],
    );

    assert.equal(event.eventSource, 'aws:kafka');
    assert.equal(event.bootstrapServers, '127.0.0.1:9092,127.0.0.1:9093');
    assert.deepEqual(Object.keys(event.records), ['dating-users-0', 'eu-users-2']);
    assert.deepEqual(
      event.records['dating-users-0']?.map((r) => [r.topic, r.partition, r.offset]),
      [
        ['dating-users', 0, 5],
        ['dating-users', 0, 6],
      ],
    );
    assert.deepEqual(
      event.records['eu-users-2']?.map((r) => [r.topic, r.partition, r.offset]),
      [['eu-users', 2, 9]],
    );
  });

  it('encodes key and value in base64, headers as arrays of byte values, and keeps repeated headers', () => {
    const value = Buffer.from([0x7b, 0xff, 0x00, 0x7d]);
    const [record] = Object.values(
      toMskEvent(
        [
          consumed(
            null,
            { offset: 1 },
            {
              key: Buffer.from('user-1'),
              value,
              headerEntries: [
                [Buffer.from('idempotency-key'), Buffer.from('k1')],
                [Buffer.from('trace'), Buffer.from('a')],
                [Buffer.from('trace'), Buffer.from('b')],
              ],
            },
          ),
        ],
        ['127.0.0.1:9092'],
      ).records,
    ).flat();

    assert.deepEqual(record, {
      topic: 'dating-users',
      partition: 0,
      offset: 1,
      timestamp: 1_734_000_000_000,
      timestampType: 'CREATE_TIME',
      key: 'dXNlci0x',
      value: value.toString('base64'),
      headers: [{ 'idempotency-key': [107, 49] }, { trace: [97] }, { trace: [98] }],
    });
  });

  it('leaves out the key and value of a record that has none', () => {
    const [record] = Object.values(toMskEvent([consumed(null, { offset: 0 })], ['b:1']).records).flat();

    assert.equal(record !== undefined && 'key' in record, false);
    assert.equal(record !== undefined && 'value' in record, false);
  });

  it('is an event that the ingest accepts as a captured one, starting the job the request asks for', async () => {
    const request = {
      domainId: DOMAIN,
      groupId: 'dating',
      filePath: 's3://uploads/users_2024-12-12.csv.gz',
      fileName: 'users_2024-12-12.csv.gz',
    };
    const event = toMskEvent(
      [
        consumed(JSON.stringify(request), { offset: 41 }, { key: Buffer.from('dating') }),
        consumed(
          '{"not": "a request"}',
          { offset: 42 },
          {
            headerEntries: [[Buffer.from('source'), Buffer.from('export')]],
          },
        ),
      ],
      ['127.0.0.1:9092'],
    );
    const inputs: ImportExecutionInput[] = [];
    const letters: DeadLetter[] = [];
    const starter: ExecutionStarter = {
      async start(input) {
        inputs.push(input);
        return 'started';
      },
    };

    const parsed = parseMskEvent(JSON.parse(JSON.stringify(event)));
    const outcome = await ingestRecords(parsed, {
      starter,
      deadLetters: { send: async (letter) => void letters.push(letter) },
      allowLocalFiles: false,
    });

    assert.equal(outcome.started.length, 1);
    assert.deepEqual(
      inputs.map((i) => [i.domainId, i.groupId, i.source.uri, i.origin]),
      [[DOMAIN, 'dating', 's3://uploads/users_2024-12-12.csv.gz', 'kafka:dating-users/0/41']],
    );
    assert.deepEqual(
      letters.map((l) => [l.offset, l.code, l.headers, l.value]),
      [[42, 'SCHEMA_VIOLATION', { source: 'export' }, '{"not": "a request"}']],
    );
  });
});
