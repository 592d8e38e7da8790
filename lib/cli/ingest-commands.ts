import { once } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type DeadLetterFields, deadLetterView } from '../api/dead-letter-view.ts';
import { config } from '../config.ts';
import { InvalidRequestError } from '../errors.ts';
import { ingestRecords, parseMskEvent } from '../ingest/ingest-records.ts';
import { replayDeadLetter } from '../ingest/replay.ts';
import { type ListedDeadLetter, localDeadLetters } from '../local/dead-letters.ts';
import { openLocalEnvironment } from '../local/environment.ts';
import { openLocalIngest } from '../local/ingest.ts';
import { KafkaBridgeRedeliveryError } from '../local/kafka-bridge.ts';
import type { MskEvent, ReplayOutcome } from '../model/ingest.ts';
import type { JobStatusMessage } from '../model/types.ts';
import { EXIT, UsageError } from './usage.ts';

/** Lambda's largest synchronous payload: no captured MSK event is bigger. */
const MAX_EVENT_BYTES = 6 * 1024 * 1024;

/** Writes one line to stdout, waiting when the pipe is full (a long `dlq list` piped to a slow reader). */
async function emit(line: string): Promise<void> {
  if (!process.stdout.write(`${line}\n`)) await once(process.stdout, 'drain');
}

function where(item: { topic: string; partition: number; offset: number }): string {
  return `${item.topic}/${item.partition}/${item.offset}`;
}

function jobLine(jobId: string, message: JobStatusMessage | undefined): string {
  if (!message) return `job ${jobId}`;
  return `job ${jobId} ${message.status}: ${message.processed} of ${message.total} rows loaded`;
}

/** 0 when every job run here COMPLETED, 1 when one FAILED. */
function exitForJobs(finished: ReadonlyMap<string, JobStatusMessage>): number {
  return [...finished.values()].some((m) => m.status === 'FAILED') ? EXIT.failed : EXIT.completed;
}

async function readMskEvent(file: string): Promise<MskEvent> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (size > MAX_EVENT_BYTES) {
    throw new UsageError(`${file} is ${size} bytes: larger than any MSK event (${MAX_EVENT_BYTES})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code) throw new UsageError(`cannot read ${file}`);
    throw new InvalidRequestError('NOT_JSON', `${file} is not JSON`);
  }
  return parseMskEvent(json);
}

/**
 * `matchbridge ingest <msk-event.json> [--json]`: runs a captured MSK event through the ingest logic; each
 * started job runs locally to its end. Prints `{started, deadLettered, duplicates}`.
 */
export async function ingestCommand(positionals: string[], options: { json: boolean }): Promise<number> {
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) throw new UsageError('ingest takes exactly one MSK event file (JSON)');
  const event = await readMskEvent(file);
  const env = await openLocalEnvironment();
  try {
    const local = openLocalIngest(env.config);
    const { batchItemFailures, ...outcome } = await ingestRecords(event, local.deps);
    // What the mapping would redeliver is an error here: there is no redelivery for a captured event.
    if (batchItemFailures.length > 0) {
      throw new KafkaBridgeRedeliveryError(batchItemFailures.map((failure) => failure.itemIdentifier));
    }
    if (options.json) {
      await emit(JSON.stringify(outcome));
    } else {
      for (const s of outcome.started) {
        await emit(`Started ${jobLine(s.jobId, local.starter.finished.get(s.jobId))} (${where(s)})`);
      }
      for (const d of outcome.deadLettered) await emit(`Dead-lettered ${where(d)}: ${d.reason}`);
      await emit(
        `${outcome.started.length} started, ${outcome.deadLettered.length} dead-lettered, ${outcome.duplicates} duplicates`,
      );
    }
    return exitForJobs(local.starter.finished);
  } finally {
    await env.close();
  }
}

/** A letter as `dlq list --json` prints it: where it came from and why, without the record's headers and value. */
const LISTED_FIELDS: DeadLetterFields<ListedDeadLetter> = {
  letter: ['id', 'deadLetteredAt', 'state', 'code', 'reason', 'topic', 'partition', 'offset', 'key'],
  replay: ['id', 'replayedAt', 'outcome', 'jobId', 'reason'],
};

async function listLetters(options: { json: boolean }): Promise<number> {
  const letters = localDeadLetters(resolve(config().localHome));
  if (options.json) {
    // One JSON array on stdout, written as the letters stream by.
    let first = true;
    for await (const letter of letters.list()) {
      await emit(`${first ? '[' : ','}${JSON.stringify(deadLetterView(letter, LISTED_FIELDS, 'camelCase'))}`);
      first = false;
    }
    await emit(first ? '[]' : ']');
    return EXIT.completed;
  }
  await emit(['ID', 'DEAD-LETTERED AT', 'STATE', 'CODE', 'TOPIC/PARTITION/OFFSET', 'REASON'].join('\t'));
  for await (const letter of letters.list()) {
    const state = letter.state === 'replayed' ? `replayed:${letter.replay.outcome}` : 'pending';
    await emit(
      [letter.id, letter.deadLetteredAt, state, letter.code, where(letter), letter.reason].join('\t'),
    );
  }
  return EXIT.completed;
}

async function replayLetters(id: string | undefined, options: { json: boolean }): Promise<number> {
  const env = await openLocalEnvironment();
  try {
    const local = openLocalIngest(env.config);
    const replayed: Array<{ id: string } & ReplayOutcome> = [];
    let matched = false;
    for await (const letter of local.deadLetters.list()) {
      if (id !== undefined && letter.id !== id) continue;
      matched = true;
      if (letter.state === 'replayed') {
        if (id !== undefined) throw new UsageError(`dead letter ${id} was already replayed`);
        continue;
      }
      const outcome = await replayDeadLetter(letter, local.deps);
      await local.deadLetters.markReplayed({
        id: letter.id,
        replayedAt: new Date().toISOString(),
        ...outcome,
      });
      replayed.push({ id: letter.id, ...outcome });
      if (!options.json) {
        const what =
          outcome.outcome === 'started'
            ? `started ${jobLine(outcome.jobId, local.starter.finished.get(outcome.jobId))}`
            : outcome.outcome === 'duplicate'
              ? 'a duplicate of a job already started'
              : `dead-lettered again: ${outcome.reason}`;
        await emit(`Replayed ${letter.id} (${where(letter)}): ${what}`);
      }
      if (id !== undefined) break;
    }
    if (id !== undefined && !matched) throw new UsageError(`no dead letter ${id}`);
    const count = (kind: ReplayOutcome['outcome']) => replayed.filter((r) => r.outcome === kind).length;
    if (options.json) {
      await emit(
        JSON.stringify({
          replayed,
          started: count('started'),
          deadLettered: count('dead-lettered'),
          duplicates: count('duplicate'),
        }),
      );
    } else {
      await emit(
        `${replayed.length} replayed: ${count('started')} started, ${count('dead-lettered')} dead-lettered again, ${count('duplicate')} duplicates`,
      );
    }
    return exitForJobs(local.starter.finished);
  } finally {
    await env.close();
  }
}

/** `matchbridge dlq list [--json]` and `matchbridge dlq replay [<id>] [--json]`: the local dead letters. */
export async function dlqCommand(positionals: string[], options: { json: boolean }): Promise<number> {
  const [action, id, ...extra] = positionals;
  if (action === 'list' && id === undefined) return listLetters(options);
  if (action === 'replay' && extra.length === 0) return replayLetters(id, options);
  throw new UsageError('dlq takes list, or replay [<id>]');
}
