import { execFile } from 'node:child_process';
import { join } from 'node:path';

/** The repository root, where the command line runs from. */
export const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'matchbridge.js');

/** What one command-line run printed and its exit code. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `matchbridge <args>` as a user would (its own process, this environment plus `env`). */
export function cli(args: string[], env: Record<string, string | undefined>): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env }, timeout: 180_000, cwd: ROOT },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
