/** The ports of ingest: the Kafka records it reads, where it starts imports and keeps dead letters. */

import type { ImportExecutionInput } from './types.ts';

/** A Kafka record as the MSK event-source mapping delivers it (base64 key/value, headers as byte arrays). */
export interface MskRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp?: number;
  readonly timestampType?: string;
  readonly key?: string | null;
  readonly value?: string | null;
  readonly headers?: ReadonlyArray<Record<string, readonly number[]>>;
}

/** The MSK event: records grouped by `topic-partition`. */
export interface MskEvent {
  readonly eventSource?: string;
  readonly records: Record<string, readonly MskRecord[]>;
}

/** What goes to the ingest dead-letter queue: the original record, decoded where it is text, and why. */
export interface DeadLetter {
  readonly reason: string;
  readonly code: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly headers: Record<string, string>;
  readonly value: string | null;
  /** `utf8` when `value` is the decoded text, `base64` when the bytes were not UTF-8 and are kept as sent. */
  readonly valueEncoding: 'utf8' | 'base64';
}

/** Starts a state machine execution named by the job id; `duplicate` when that execution already exists. */
export interface ExecutionStarter {
  start(input: ImportExecutionInput): Promise<'started' | 'duplicate'>;
}

/** Receives records that can never be processed. */
export interface DeadLetterSink {
  send(letter: DeadLetter): Promise<void>;
}
