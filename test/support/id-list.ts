import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { before } from 'node:test';
import { type LocalPipeline, localPipeline } from './local-pipeline.ts';
import type { MemoryFigures } from './memory-probe.ts';
import { describeMemory } from './memory-run.ts';

/** How many ids the large id lists hold (a reference import, an erasure). */
export const IDS = 1_000_000;
const MB = 1024 * 1024;
/** Peak RSS of a whole command over the list (list read, staged, planned, run, reported). */
const PEAK_RSS_BOUND = 400 * MB;
/**
 * What the command may hold after a collection, JS heap and buffers: some 40 MB of it is the command's
 * own code and state; the list as strings would be 40 MB more.
 */
const LIVE_HEAP_BOUND = 64 * MB;

/** The id number `i`: `u-` and seven digits, so that ids sort as their numbers do. */
export const idOf = (i: number) => `u-${String(i).padStart(7, '0')}`;

/** A local pipeline suite whose commands read a list of ids from a file; filled in before its first test. */
export interface IdListSuite extends LocalPipeline {
  /** The environment of the suite's CLI commands: its database, and a CLI home of their own. */
  env: Record<string, string>;
  /** The list: `ids.txt` in the suite's folder. */
  idsFile: string;
}

/**
 * Sets up a local pipeline suite (see localPipeline) and writes the lines `lines` yields (each with its line
 * break) to its id list, streamed, before its first test and before the hooks registered after this call.
 */
export function idListSuite(name: string, lines: () => AsyncIterable<string>): IdListSuite {
  const suite = localPipeline(name) as IdListSuite;
  before(async () => {
    suite.env = { DATABASE_URL: suite.url, MATCHBRIDGE_HOME: join(suite.dir, 'cli-home') };
    suite.idsFile = join(suite.dir, 'ids.txt');
    await pipeline(Readable.from(lines()), createWriteStream(suite.idsFile));
  });
  return suite;
}

/** Asserts that a probed command over the list stayed in flat memory: its peak RSS and its live heap. */
export function assertIdListMemory(memory: MemoryFigures): void {
  assert.ok(memory.samples > 0, 'the probe sampled');
  assert.ok(memory.maxRssBytes < PEAK_RSS_BOUND, describeMemory(memory));
  assert.ok(memory.liveHeapBytes < LIVE_HEAP_BOUND, describeMemory(memory));
}
