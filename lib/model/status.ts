/** The ports status messages leave through: what a publisher and a dead-letter sink are given. */

import type { JobStatusMessage } from './types.ts';

/** A status message ready to go out: its topic, its key (the job id), its headers and the message itself. */
export interface StatusEnvelope {
  readonly topic: string;
  readonly key: string;
  /** `jobId`, `kind` and `__TypeId__` (the class Spring's JsonDeserializer maps the value to). */
  readonly headers: Readonly<Record<string, string>>;
  readonly message: JobStatusMessage;
}

/** One destination of status messages (a Kafka topic, an EventBridge bus). */
export interface StatusPublisher {
  /** What `job_status_events.topic` records for this destination: the topic itself for Kafka. */
  destination(envelope: StatusEnvelope): string;
  /**
   * Delivers the message once (no retry: {@link publishStatus} retries). Resolves `SENT` once the
   * destination acknowledged it, or `PENDING` when this publisher does not deliver (nothing configured).
   */
  publish(envelope: StatusEnvelope): Promise<'SENT' | 'PENDING'>;
}

/** A status message that could not be delivered, with why: what the status dead-letter queue keeps. */
export interface StatusDeadLetter {
  readonly reason: string;
  /** Name of the last error (`KafkaError`'s subclass, an AWS SDK exception…). */
  readonly error: string;
  readonly destination: string;
  readonly attempts: number;
  readonly topic: string;
  readonly key: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly message: JobStatusMessage;
}

/** Keeps status messages that could not be delivered (SQS on AWS, a JSON-lines file locally). */
export interface StatusDeadLetterSink {
  send(letter: StatusDeadLetter): Promise<void>;
}
