import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
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

/** A process started with the memory probe: its figures arrive when it exits. */
export interface ProbedProcess {
  readonly child: ChildProcess;
  /** Resolves once the process has exited: its exit code, what it printed and its figures. */
  readonly exited: Promise<{ code: number | null; stdout: string; memory: MemoryFigures }>;
  /** What it printed on stdout so far. */
  stdout(): string;
}

/**
 * Starts `node <args>` from the repository root with the memory probe preloaded (this environment plus
 * `env`), for a process that runs until told to stop (a server). Its stderr is the test's.
 */
export function spawnWithMemoryProbe(args: string[], env: Record<string, string>): ProbedProcess {
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
  const exited = once(child, 'close').then(([code]) => ({
    code: code as number | null,
    stdout,
    memory: JSON.parse(figures) as MemoryFigures,
  }));
  return { child, exited, stdout: () => stdout };
}

/**
 * Runs `node <args>` from the repository root with the memory probe preloaded (this environment plus
 * `env`); fails unless it exits with 0. Its stderr is the test's.
 */
export async function runWithMemoryProbe(args: string[], env: Record<string, string>): Promise<ProbedRun> {
  const started = Date.now();
  const { code, stdout, memory } = await spawnWithMemoryProbe(args, env).exited;
  assert.equal(code, 0, `node ${args.join(' ')} exited with ${code}`);
  return { stdout, memory, ms: Date.now() - started };
}

/** The figures for a test's diagnostic line. */
export function describeMemory(memory: MemoryFigures): string {
  const mb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;
  return `peak RSS ${mb(memory.maxRssBytes)}, heap + buffers after collections ${mb(memory.liveHeapBytes)} (${memory.samples} samples)`;
}
