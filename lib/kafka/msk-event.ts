import type { MskEvent, MskRecord } from '../model/ingest.ts';

/** A record as a Kafka consumer returns it: raw bytes, 64-bit offset and timestamp (ms). */
export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: bigint;
  readonly key?: Buffer | null | undefined;
  readonly value?: Buffer | null | undefined;
  /** Headers in the order sent; a name may repeat. */
  readonly headerEntries: ReadonlyArray<readonly [Buffer | null | undefined, Buffer | null | undefined]>;
}

/** The event an MSK event-source mapping hands its function, as the local bridge builds it. */
export interface BridgedMskEvent extends MskEvent {
  readonly eventSource: 'aws:kafka';
  /** The brokers the records were read from, comma-separated (as the mapping reports its cluster's). */
  readonly bootstrapServers: string;
  readonly records: Record<string, MskRecord[]>;
}

function toMskRecord(record: ConsumedRecord): MskRecord {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: Number(record.offset),
    timestamp: Number(record.timestamp),
    // The client does not expose the batch's timestamp type; producers set CREATE_TIME unless the topic
    // overrides it with LOG_APPEND_TIME.
    timestampType: 'CREATE_TIME',
    ...(record.key ? { key: record.key.toString('base64') } : {}),
    ...(record.value ? { value: record.value.toString('base64') } : {}),
    headers: record.headerEntries.map(([name, value]) => ({
      [name?.toString('utf8') ?? '']: [...(value ?? [])],
    })),
  };
}

/**
 * Builds the MSK event of a batch of consumed records, as Lambda's event-source mapping delivers it:
 * `eventSource: 'aws:kafka'`, records grouped under `<topic>-<partition>` in the order given, key and value
 * base64-encoded (left out when absent), each header an object of one name whose value is its bytes.
 */
export function toMskEvent(records: Iterable<ConsumedRecord>, brokers: readonly string[]): BridgedMskEvent {
  const grouped: Record<string, MskRecord[]> = {};
  for (const record of records) {
    const batchKey = `${record.topic}-${record.partition}`;
    const list = grouped[batchKey] ?? [];
    grouped[batchKey] = list;
    list.push(toMskRecord(record));
  }
  return { eventSource: 'aws:kafka', bootstrapServers: brokers.join(','), records: grouped };
}
