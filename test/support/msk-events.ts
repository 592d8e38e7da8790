import type { MskEvent, MskRecord } from '../../lib/model/ingest.ts';

/** A Kafka record in the exact shape the MSK event-source mapping delivers: base64 key/value, byte headers. */
export function mskRecord(
  value: string | Buffer | null,
  options: {
    topic?: string;
    partition?: number;
    offset?: number;
    key?: string;
    headers?: Record<string, string>;
  } = {},
): MskRecord {
  const bytes = value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(value);
  return {
    topic: options.topic ?? 'dating-users',
    partition: options.partition ?? 0,
    offset: options.offset ?? 0,
    timestamp: 1_732_000_000_000,
    timestampType: 'CREATE_TIME',
    key: options.key === undefined ? null : Buffer.from(options.key).toString('base64'),
    value: bytes === null ? null : bytes.toString('base64'),
    headers: Object.entries(options.headers ?? {}).map(([name, text]) => ({
      [name]: [...Buffer.from(text)],
    })),
  };
}

/** An MSK event: records grouped by `topic-partition`, as Lambda receives them. */
export function mskEvent(records: MskRecord[]): MskEvent {
  const grouped: Record<string, MskRecord[]> = {};
  for (const record of records) {
    const key = `${record.topic}-${record.partition}`;
    grouped[key] ??= [];
    grouped[key].push(record);
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn:
      'arn:aws:kafka:us-east-1:123456789012:cluster/matchbridge/abcd1234-ab12-cd34-ef56-abcdef123456-1',
    bootstrapServers: 'b-1.matchbridge.abcd12.c2.kafka.us-east-1.amazonaws.com:9098',
    records: grouped,
  } as MskEvent;
}
