import type { DeadLetter, MskRecord, ReplayOutcome } from '../model/ingest.ts';
import { type IngestDeps, type IngestOutcome, ingestRecord } from './ingest-records.ts';
import { ingestObjectCreated } from './object-created.ts';

/** Upload letters carry `s3:<bucket>` as their topic; every other letter is a Kafka record. */
export const UPLOAD_TOPIC_PREFIX = 's3:';

/**
 * The Kafka record a letter was made from, in the shape the MSK event-source mapping delivers: the same
 * topic, partition, offset, key, headers and value bytes — so it derives the same job id.
 */
export function recordOfLetter(letter: DeadLetter): MskRecord {
  const value =
    letter.value === null
      ? null
      : letter.valueEncoding === 'base64'
        ? letter.value
        : Buffer.from(letter.value, 'utf8').toString('base64');
  return {
    topic: letter.topic,
    partition: letter.partition,
    offset: letter.offset,
    key: letter.key === null ? null : Buffer.from(letter.key, 'utf8').toString('base64'),
    value,
    headers: Object.entries(letter.headers).map(([name, text]) => ({
      [name]: [...Buffer.from(text, 'utf8')],
    })),
  };
}

function single(outcome: IngestOutcome): ReplayOutcome {
  const started = outcome.started[0];
  if (started) return { outcome: 'started', jobId: started.jobId };
  const letter = outcome.deadLettered[0];
  if (letter) return { outcome: 'dead-lettered', reason: letter.reason };
  return { outcome: 'duplicate' };
}

/**
 * Re-submits a letter's original request through the path it first took: a Kafka record through
 * {@link ingestRecord}, an upload event through {@link ingestObjectCreated}. A request that is valid now
 * starts its job (or is a duplicate of one already started); one that is still invalid is dead-lettered
 * again, with the reason of today's rules. Infrastructure errors propagate.
 */
export async function replayDeadLetter(letter: DeadLetter, deps: IngestDeps): Promise<ReplayOutcome> {
  if (letter.topic.startsWith(UPLOAD_TOPIC_PREFIX)) {
    let event: unknown = letter.value;
    try {
      event = letter.value === null ? null : JSON.parse(letter.value);
    } catch {
      // Left as text: the upload path dead-letters it as not being an Object Created event.
    }
    return single(await ingestObjectCreated(event, deps));
  }
  const result = await ingestRecord(recordOfLetter(letter), deps);
  return result.outcome === 'duplicate' ? { outcome: 'duplicate' } : result;
}
