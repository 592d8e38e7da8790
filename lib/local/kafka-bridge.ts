import { once } from 'node:events';
import type { Message, MessagesStream } from '@platformatic/kafka';
import { config } from '../config.ts';
import { type IngestOutcome, ingestRecords, type KafkaIngestOutcome } from '../ingest/ingest-records.ts';
import { type KafkaSettings, kafkaSettings } from '../kafka/client-options.ts';
import { createKafkaConsumer } from '../kafka/consumer.ts';
import { type BridgedMskEvent, toMskEvent } from '../kafka/msk-event.ts';
import type { MskEvent } from '../model/ingest.ts';
import { logger } from '../observability/logger.ts';
import { openLocalIngest } from './ingest.ts';

type BytesMessage = Message<Buffer, Buffer, Buffer, Buffer>;

/** The event-source mapping's default batch size: most records handed to one ingest call. */
export const DEFAULT_BATCH_SIZE = 100;

/** Options of {@link runKafkaBridge}. */
export interface KafkaBridgeOptions {
  /** Bootstrap brokers, `host:port` each. Authentication, client id and region come from the configuration. */
  readonly brokers: readonly string[];
  /** Topics of node import requests. */
  readonly topics: readonly string[];
  /** Consumer group whose committed offsets say where to resume (the earliest offset for a new group). */
  readonly groupId: string;
  /** Stops the bridge: the batch being ingested is finished and committed first. */
  readonly signal: AbortSignal;
  /** Called with each event once it was ingested and its offsets committed. */
  readonly onEvent?: (event: BridgedMskEvent, outcome: IngestOutcome) => void | Promise<void>;
  /** Most records per event (default {@link DEFAULT_BATCH_SIZE}). */
  readonly batchSize?: number;
  /**
   * What each event is handed to; by default the local ingest that `matchbridge ingest` runs (jobs run
   * in-process to their end, bad requests go to the local dead letters).
   */
  readonly ingest?: (event: MskEvent) => Promise<KafkaIngestOutcome>;
  /** Connection settings besides the brokers; by default `KAFKA_AUTH`, `KAFKA_CLIENT_ID` and `AWS_REGION`. */
  readonly settings?: Omit<KafkaSettings, 'brokers'>;
}

/**
 * Ingest reported records it could not take now: the bridge stops with their batch uncommitted, so the next
 * run reads them again, as the event-source mapping redelivers from a reported record.
 */
export class KafkaBridgeRedeliveryError extends Error {
  readonly code = 'REDELIVERY_NEEDED';
  readonly failures: ReadonlyArray<{ readonly partition: string; readonly offset: number }>;
  constructor(failures: ReadonlyArray<{ readonly partition: string; readonly offset: number }>) {
    super(
      `ingest could not take ${failures.map((f) => `${f.partition}@${f.offset}`).join(', ')}; not committed`,
    );
    this.name = 'KafkaBridgeRedeliveryError';
    this.failures = failures;
  }
}

/** What a bridge run did, in total. */
export interface KafkaBridgeSummary {
  readonly events: number;
  readonly records: number;
  readonly started: number;
  readonly deadLettered: number;
  readonly duplicates: number;
}

/**
 * Reads what the stream has buffered (one fetch or more) in batches of at most `size` records, waiting for
 * the next fetch when it has nothing. Ends when `signal` aborts; throws when the stream fails or ends on its own.
 */
async function* pollBatches(
  stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>,
  size: number,
  signal: AbortSignal,
): AsyncGenerator<BytesMessage[]> {
  while (!signal.aborted) {
    const batch: BytesMessage[] = [];
    while (batch.length < size) {
      const message = stream.read() as BytesMessage | null;
      if (message === null) break;
      batch.push(message);
    }
    if (batch.length > 0) {
      yield batch;
      continue;
    }
    if (stream.readableEnded || stream.destroyed) {
      throw new Error('the Kafka consumer stream ended before the bridge was stopped');
    }
    try {
      await once(stream, 'readable', { signal });
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
  }
}

/** Commits, for each partition of the batch, the offset after its last record. */
async function commitBatch(batch: readonly BytesMessage[]): Promise<void> {
  const last = new Map<string, BytesMessage>();
  for (const message of batch) {
    const key = `${message.topic}-${message.partition}`;
    const seen = last.get(key);
    if (!seen || seen.offset < message.offset) last.set(key, message);
  }
  await Promise.all([...last.values()].map((message) => message.commit()));
}

/**
 * The local stand-in for the MSK event-source mapping: consumes `topics` in consumer group `groupId`, turns
 * each poll batch into the MSK event Lambda would receive, hands it to ingest, and commits the batch's
 * offsets only once ingest returned — at-least-once, as the mapping; ingest de-duplicates by job id. An
 * ingest error stops the bridge with the batch uncommitted, so that the next run reads it again.
 * Needs the local environment (configuration, database) set up, as for `matchbridge ingest`.
 */
export async function runKafkaBridge(options: KafkaBridgeOptions): Promise<KafkaBridgeSummary> {
  const totals = { events: 0, records: 0, started: 0, deadLettered: 0, duplicates: 0 };
  if (options.signal.aborted) return totals;
  const cfg = config();
  const base = options.settings ?? kafkaSettings(cfg, options.brokers);
  if (!base) throw new Error('runKafkaBridge needs at least one broker');
  const settings: KafkaSettings = { ...base, brokers: options.brokers };
  const ingest =
    options.ingest ??
    (() => {
      const local = openLocalIngest(cfg);
      return (event: MskEvent) => ingestRecords(event, local.deps);
    })();
  const consumer = createKafkaConsumer(settings, options.groupId);
  try {
    const stream = await consumer.consume({
      topics: [...options.topics],
      // The mapping's TRIM_HORIZON: a new group starts at the earliest offset.
      mode: 'committed',
      fallbackMode: 'earliest',
    });
    logger.info('kafka bridge consuming', { topics: options.topics, groupId: options.groupId });
    try {
      for await (const batch of pollBatches(
        stream,
        options.batchSize ?? DEFAULT_BATCH_SIZE,
        options.signal,
      )) {
        const event = toMskEvent(batch, options.brokers);
        const outcome = await ingest(event);
        // As the mapping would redeliver from a reported record: stop with the batch uncommitted.
        if (outcome.batchItemFailures.length > 0) {
          throw new KafkaBridgeRedeliveryError(outcome.batchItemFailures.map((f) => f.itemIdentifier));
        }
        await commitBatch(batch);
        totals.events += 1;
        totals.records += batch.length;
        totals.started += outcome.started.length;
        totals.deadLettered += outcome.deadLettered.length;
        totals.duplicates += outcome.duplicates;
        logger.info('kafka bridge batch ingested', {
          records: batch.length,
          started: outcome.started.length,
          deadLettered: outcome.deadLettered.length,
          duplicates: outcome.duplicates,
        });
        await options.onEvent?.(event, outcome);
      }
    } finally {
      // A failure to close must not hide the error that ended the loop, if any.
      await stream
        .close()
        .catch((error: unknown) => logger.warn('closing the Kafka stream failed', { error }));
    }
  } finally {
    await consumer
      .close()
      .catch((error: unknown) => logger.warn('closing the Kafka consumer failed', { error }));
  }
  return totals;
}
