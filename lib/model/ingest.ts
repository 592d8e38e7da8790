/** The ports of ingest: the Kafka records it reads, where it starts imports and keeps dead letters. */

import { z } from 'zod';
import { InvalidRequestError } from '../errors.ts';
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

/** The dead letter of the design, as read back from a queue or a file (extra fields are kept by callers). */
export const DeadLetterSchema = z.object({
  reason: z.string(),
  code: z.string(),
  topic: z.string().min(1),
  partition: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  key: z.string().nullable(),
  headers: z.record(z.string(), z.string()),
  value: z.string().nullable(),
  valueEncoding: z.enum(['utf8', 'base64']),
});

/**
 * Reads a dead letter from parsed JSON.
 *
 * @throws InvalidRequestError `NOT_A_DEAD_LETTER`.
 */
export function parseDeadLetter(json: unknown): DeadLetter {
  const parsed = DeadLetterSchema.safeParse(json);
  if (!parsed.success) {
    throw new InvalidRequestError('NOT_A_DEAD_LETTER', 'not a dead letter of the ingest queue', {
      problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    });
  }
  return parsed.data;
}

/** What became of one replayed letter. */
export type ReplayOutcome =
  | { readonly outcome: 'started'; readonly jobId: string }
  | { readonly outcome: 'duplicate' }
  | { readonly outcome: 'dead-lettered'; readonly reason: string };
