import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ROOT } from './cli.ts';
import type { MemoryFigures } from './memory-probe.ts';

const MB = 1024 * 1024;

/** What a probed process printed and how much memory it used. */
export interface ProbedRun {
  readonly stdout: string;
  readonly memory: MemoryFigures;
  readonly ms: number;
}

/**
 * Runs `node <args>` from the repository root with the memory probe preloaded (this environment plus
 * `env`); fails unless it exits with 0. Its stderr is the test's.
 */
export async function runWithMemoryProbe(args: string[], env: Record<string, string>): Promise<ProbedRun> {
  const started = Date.now();
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', join(ROOT, 'test', 'support', 'memory-probe.ts'), ...args],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit', 'pipe'] },
  );
  let stdout = '';
  let figures = '';
  (child.stdout as Readable).setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  (child.stdio[3] as Readable).setEncoding('utf8').on('data', (text: string) => {
    figures += text;
  });
  const [code] = await once(child, 'close');
  assert.equal(code, 0, `node ${args.join(' ')} exited with ${code}`);
  return { stdout, memory: JSON.parse(figures) as MemoryFigures, ms: Date.now() - started };
}

/** The figures for a test's diagnostic line. */
export function describeMemory(memory: MemoryFigures): string {
  const mb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;
  return `peak RSS ${mb(memory.maxRssBytes)}, heap + buffers after collections ${mb(memory.liveHeapBytes)} (${memory.samples} samples)`;
}
