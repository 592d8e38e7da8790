/**
 * Preloaded (`node --expose-gc --import`) into a process a test runs (see `runWithMemoryProbe`): every
 * 200 ms it collects garbage and samples the JS heap and buffers that stay, and when the process exits it
 * writes its figures as one JSON line to file descriptor 3. A peak RSS alone mostly measures how lazily V8
 * collects and how little the allocator gives back (it varies by a hundred megabytes between runs of the
 * same import); what stays after a collection is what the process holds.
 */
import { writeSync } from 'node:fs';

/** What the probe reports, in bytes. */
export interface MemoryFigures {
  /** Peak resident set size (getrusage), garbage included. */
  readonly maxRssBytes: number;
  /** Highest live JS heap plus buffers sampled right after a collection. */
  readonly liveHeapBytes: number;
  readonly samples: number;
}

const collect = (globalThis as { gc?: () => void }).gc;
let liveHeapBytes = 0;
let samples = 0;
if (collect) {
  setInterval(() => {
    collect();
    const usage = process.memoryUsage();
    liveHeapBytes = Math.max(liveHeapBytes, usage.heapUsed + usage.arrayBuffers);
    samples += 1;
  }, 200).unref();
}

process.on('exit', () => {
  const figures: MemoryFigures = {
    // maxRSS is in kilobytes.
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    liveHeapBytes,
    samples,
  };
  writeSync(3, `${JSON.stringify(figures)}\n`);
});
