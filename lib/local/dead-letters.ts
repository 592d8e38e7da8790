import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import {
  type DeadLetter,
  DeadLetterSchema,
  type DeadLetterSink,
  type ReplayOutcome,
} from '../model/ingest.ts';
import { logger } from '../observability/logger.ts';

/** A letter as the local queue keeps it: the dead letter plus its id and when it was written. */
export interface StoredDeadLetter extends DeadLetter {
  readonly id: string;
  readonly deadLetteredAt: string;
}

/** The record that a letter was replayed, and what became of it. */
export interface ReplayMark {
  readonly id: string;
  readonly replayedAt: string;
  readonly outcome: ReplayOutcome['outcome'];
  readonly jobId?: string;
  readonly reason?: string;
}

/** A letter with its state: `pending` until it is replayed. */
export type ListedDeadLetter = StoredDeadLetter &
  ({ readonly state: 'pending' } | { readonly state: 'replayed'; readonly replay: ReplayMark });

const StoredSchema = DeadLetterSchema.extend({ id: z.string().min(1), deadLetteredAt: z.string() });
const MarkSchema = z.object({
  id: z.string().min(1),
  replayedAt: z.string(),
  outcome: z.enum(['started', 'duplicate', 'dead-lettered']),
  jobId: z.string().optional(),
  reason: z.string().optional(),
});

/** The local dead-letter queue: a sink for ingest, and the letters to list and replay. */
export interface LocalDeadLetters extends DeadLetterSink {
  /** `<home>/dlq/ingest.jsonl`: one letter per line. */
  readonly file: string;
  /** `<home>/dlq/ingest.replayed.jsonl`: one replay mark per line. */
  readonly replayedFile: string;
  /**
   * Streams the letters in the order they were written, each with its state. Only the letters present
   * when the call started are read, so letters appended meanwhile (a replay dead-lettering again) are not.
   */
  list(): AsyncGenerator<ListedDeadLetter>;
  /** Records that a letter was replayed; `list` shows it as `replayed` from then on. */
  markReplayed(mark: ReplayMark): Promise<void>;
}

/**
 * Appends one line with a single `write` on a file opened for appending: the kernel places each write at
 * the end of the file whole, so lines written by concurrent processes never interleave.
 */
export async function appendLine(file: string, value: unknown): Promise<void> {
  const line = Buffer.from(`${JSON.stringify(value)}\n`, 'utf8');
  const handle = await open(file, 'a');
  try {
    const { bytesWritten } = await handle.write(line);
    if (bytesWritten !== line.length) {
      throw new Error(`short write to ${file}: ${bytesWritten} of ${line.length} bytes`);
    }
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

/** Streams the JSON values of a JSON-lines file's first `size` bytes; unreadable lines are logged and skipped. */
async function* readLines<T>(file: string, size: number, schema: z.ZodType<T>): AsyncGenerator<T> {
  if (size === 0) return;
  const lines = createInterface({
    input: createReadStream(file, { start: 0, end: size - 1 }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let number = 0;
  for await (const line of lines) {
    number += 1;
    if (line.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      logger.warn('skipping a line that is not JSON', { file, line: number });
      continue;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      logger.warn('skipping a line of an unexpected shape', { file, line: number });
      continue;
    }
    yield parsed.data;
  }
}

/** The local dead-letter queue under `<home>/dlq/`. */
export function localDeadLetters(home: string): LocalDeadLetters {
  const dir = join(home, 'dlq');
  const file = join(dir, 'ingest.jsonl');
  const replayedFile = join(dir, 'ingest.replayed.jsonl');
  return {
    file,
    replayedFile,
    async send(letter) {
      await mkdir(dir, { recursive: true });
      const stored: StoredDeadLetter = {
        id: randomUUID(),
        deadLetteredAt: new Date().toISOString(),
        ...letter,
      };
      await appendLine(file, stored);
    },
    async markReplayed(mark) {
      await mkdir(dir, { recursive: true });
      await appendLine(replayedFile, mark);
    },
    async *list() {
      const letterBytes = await sizeOf(file);
      // Only the ids of replayed letters are held, never the letters themselves.
      const replays = new Map<string, ReplayMark>();
      for await (const mark of readLines(replayedFile, await sizeOf(replayedFile), MarkSchema)) {
        replays.set(mark.id, mark);
      }
      for await (const letter of readLines(file, letterBytes, StoredSchema)) {
        const replay = replays.get(letter.id);
        yield replay ? { ...letter, state: 'replayed', replay } : { ...letter, state: 'pending' };
      }
    },
  };
}

/**
 * Rewrites `file` without the lines `drop` selects, streaming: the kept lines go to a temporary file that
 * then takes its place, with whatever was appended meanwhile copied after them. Lines that are not JSON
 * are kept as they are.
 */
async function rewriteWithout(file: string, drop: (value: { id?: unknown }) => boolean): Promise<void> {
  const size = await sizeOf(file);
  if (size === 0) return;
  const temporary = `${file}.${randomUUID()}.tmp`;
  async function* kept(): AsyncGenerator<string> {
    const lines = createInterface({
      input: createReadStream(file, { start: 0, end: size - 1 }),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    for await (const line of lines) {
      let value: { id?: unknown } = {};
      try {
        value = JSON.parse(line) as { id?: unknown };
      } catch {
        // kept as it is
      }
      if (line.trim() !== '' && !drop(value)) yield `${line}\n`;
    }
    // Letters or marks appended while the file was read.
    const grown = await sizeOf(file);
    if (grown > size) yield* createReadStream(file, { start: size, end: grown - 1, encoding: 'utf8' });
  }
  await pipeline(Readable.from(kept()), createWriteStream(temporary));
  await rename(temporary, file);
}

/**
 * Removes the letters replayed before `before` from the local queue, and their replay marks; pending
 * letters and recent replays stay. Holds only the ids of replayed letters. Returns the letters removed
 * (or, with `dryRun`, that would be).
 */
export async function pruneReplayedDeadLetters(home: string, before: Date, dryRun: boolean): Promise<number> {
  const queue = localDeadLetters(home);
  const latest = new Map<string, number>();
  for await (const mark of readLines(queue.replayedFile, await sizeOf(queue.replayedFile), MarkSchema)) {
    latest.set(mark.id, Math.max(latest.get(mark.id) ?? 0, Date.parse(mark.replayedAt)));
  }
  const old = new Set([...latest].filter(([, at]) => at < before.getTime()).map(([id]) => id));
  let count = 0;
  for await (const letter of readLines(queue.file, await sizeOf(queue.file), StoredSchema)) {
    if (old.has(letter.id)) count += 1;
  }
  if (dryRun || old.size === 0) return count;
  const drop = (value: { id?: unknown }) => typeof value.id === 'string' && old.has(value.id);
  await rewriteWithout(queue.file, drop);
  await rewriteWithout(queue.replayedFile, drop);
  return count;
}
