import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { StatusDeadLetter, StatusDeadLetterSink } from '../model/status.ts';
import { appendLine } from './dead-letters.ts';

/** The local status dead-letter queue: an append-only JSON-lines file. */
export interface LocalStatusDeadLetters extends StatusDeadLetterSink {
  /** `<home>/dlq/status.jsonl`: one letter per line, with `deadLetteredAt`. */
  readonly file: string;
}

/**
 * Status messages that could not be delivered, kept under `<home>/dlq/status.jsonl`. Each letter is one
 * `write` on a file opened for appending, flushed before `send` resolves: the kernel places each write at the
 * end whole, so letters of concurrent processes never interleave, and a letter acknowledged is on disk.
 */
export function localStatusDeadLetters(home: string): LocalStatusDeadLetters {
  const file = join(home, 'dlq', 'status.jsonl');
  return {
    file,
    async send(letter: StatusDeadLetter) {
      await mkdir(dirname(file), { recursive: true });
      await appendLine(file, { ...letter, deadLetteredAt: new Date().toISOString() });
    },
  };
}
