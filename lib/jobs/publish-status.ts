import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { StatusDeliveryError } from '../errors.ts';
import { type RetryPolicy, retry } from '../model/retry.ts';
import type { StatusDeadLetterSink, StatusEnvelope, StatusPublisher } from '../model/status.ts';
import type { ImportKind, JobStatusMessage } from '../model/types.ts';
import { METRIC_NAMES } from '../observability/job-metrics.ts';
import { logJob, metrics } from '../observability/logger.ts';
import type { DeliveryStatus } from './status-event-repository.ts';

/** The kinds with a status topic of their own; an erasure's message goes with the nodes' (same shape, same readers). */
type RoutedKind = Exclude<ImportKind, 'erasure'>;

/** Where status messages of each kind of import go, and the `__TypeId__` their consumers expect. */
export interface StatusRouting {
  readonly topics: Readonly<Record<RoutedKind, string>>;
  readonly typeIds: Readonly<Record<RoutedKind, string>>;
}

/** Records one delivery of a status message (`job_status_events`). */
export type StatusRecorder = (
  destination: string,
  message: JobStatusMessage,
  delivery: { readonly status: DeliveryStatus; readonly error?: string },
) => Promise<void>;

/** Everything status publishing works with. */
export interface StatusDelivery {
  readonly routing: StatusRouting;
  /** Every destination, in order; the Kafka one is {@link noStatusPublisher} when no brokers are configured. */
  readonly publishers: readonly StatusPublisher[];
  readonly deadLetters: StatusDeadLetterSink;
  /** Attempts per destination and the jittered waits between them (tests pass a zero `baseDelayMs`). */
  readonly retry: RetryPolicy;
}

/** What became of the message at one destination. */
export interface DeliveryReport {
  readonly destination: string;
  readonly status: 'SENT' | 'PENDING' | 'DEAD_LETTERED';
  readonly attempts: number;
  readonly error?: string;
}

/** The Kafka destination when no brokers are configured: messages are recorded as PENDING, not published. */
export const noStatusPublisher: StatusPublisher = {
  destination: (envelope) => envelope.topic,
  publish: async () => 'PENDING',
};

/** The envelope of a status message: topic by kind, key and `jobId` header the job id, `__TypeId__` by kind. */
export function statusEnvelope(message: JobStatusMessage, routing: StatusRouting): StatusEnvelope {
  const routed: RoutedKind = message.kind === 'erasure' ? 'nodes' : message.kind;
  return {
    topic: routing.topics[routed],
    key: message.jobId,
    headers: { jobId: message.jobId, kind: message.kind, __TypeId__: routing.typeIds[routed] },
    message,
  };
}

function oneError(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message}`;
}

/** The error and its root cause (Kafka clients nest theirs: aggregate of aggregates of network errors). */
function describeError(error: unknown): { name: string; text: string } {
  if (!(error instanceof Error)) return { name: 'Error', text: String(error) };
  let root: Error = error;
  for (let depth = 0; depth < 10; depth += 1) {
    const nested = (root as { errors?: unknown }).errors;
    const next = Array.isArray(nested) && nested.length > 0 ? nested[0] : root.cause;
    if (!(next instanceof Error)) break;
    root = next;
  }
  const text = root === error ? oneError(error) : `${oneError(error)} (root cause: ${oneError(root)})`;
  return { name: error.name, text };
}

/** Up to `retry.attempts` deliveries of the envelope, with the policy's waits between them. */
async function attemptDelivery(
  publisher: StatusPublisher,
  envelope: StatusEnvelope,
  delivery: StatusDelivery,
  log: ReturnType<typeof logJob>,
): Promise<{ outcome?: 'SENT' | 'PENDING'; attempts: number; last?: { name: string; text: string } }> {
  const destination = publisher.destination(envelope);
  let last: { name: string; text: string } | undefined;
  let attempts = 0;
  try {
    const outcome = await retry(
      (attempt) => {
        attempts = attempt;
        return publisher.publish(envelope);
      },
      {
        ...delivery.retry,
        onFailedAttempt: ({ error, attemptNumber }) => {
          last = describeError(error);
          log.warn('status message not delivered', { destination, attempt: attemptNumber, error: last.text });
        },
      },
    );
    return { outcome, attempts };
  } catch (error) {
    // The last attempt's failure: dead-lettered by the caller, with why.
    last ??= describeError(error);
    return { attempts, last };
  }
}

/**
 * Publishes a final job's status message to every destination and records each delivery. Call it once the
 * job row is final: a destination that still fails after `retry.attempts` attempts gets the message
 * dead-lettered (recorded FAILED with the error) and this call still succeeds, the job being final and the
 * message kept. Only when dead-lettering fails too does it throw, after every destination was tried.
 *
 * @throws StatusDeliveryError when a message could be neither delivered nor dead-lettered.
 */
export async function publishStatus(
  delivery: StatusDelivery,
  record: StatusRecorder,
  message: JobStatusMessage,
): Promise<DeliveryReport[]> {
  const envelope = statusEnvelope(message, delivery.routing);
  const log = logJob(message);
  const reports: DeliveryReport[] = [];
  const lost: string[] = [];
  for (const publisher of delivery.publishers) {
    const destination = publisher.destination(envelope);
    const { outcome, attempts, last } = await attemptDelivery(publisher, envelope, delivery, log);
    if (outcome) {
      await record(destination, message, { status: outcome });
      reports.push({ destination, status: outcome, attempts });
      continue;
    }
    const failure = last ?? { name: 'Error', text: 'no delivery attempt' };
    const error = `${failure.text} (after ${attempts} attempts)`;
    try {
      await delivery.deadLetters.send({
        reason: error,
        error: failure.name,
        destination,
        attempts,
        topic: envelope.topic,
        key: envelope.key,
        headers: envelope.headers,
        message,
      });
    } catch (dlqError) {
      const dlq = describeError(dlqError).text;
      await record(destination, message, {
        status: 'FAILED',
        error: `${error}; dead-lettering failed: ${dlq}`,
      });
      log.error('status message lost: neither delivered nor dead-lettered', { destination, error, dlq });
      lost.push(destination);
      continue;
    }
    await record(destination, message, { status: 'FAILED', error: `${error}; dead-lettered` });
    metrics.addMetric(METRIC_NAMES.statusMessagesDeadLettered, MetricUnit.Count, 1);
    log.error('status message dead-lettered', { destination, error });
    reports.push({ destination, status: 'DEAD_LETTERED', attempts, error });
  }
  if (lost.length > 0) {
    throw new StatusDeliveryError(
      `status message of job ${message.jobId} could not be delivered nor dead-lettered (${lost.join(', ')})`,
      { jobId: message.jobId, destinations: lost },
    );
  }
  return reports;
}
