import { spawn } from 'node:child_process';

/** What a finished command printed (stdout and stderr interleaved, the last `MAX_OUTPUT` characters) and how it ended. */
export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
}

const MAX_OUTPUT = 16_384;

/**
 * Runs `command` to completion and keeps the tail of its output. Rejects only when the command cannot be started
 * (`ENOENT` when it is not installed) or outlives `timeoutMs`; a non-zero exit is the caller's to judge.
 * The command is killed if this process exits first, so that it cannot write into folders already cleaned up.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const killNow = (): void => {
      child.kill('SIGKILL');
    };
    // First among the exit hooks: before any hook removes what the command writes to.
    process.prependOnceListener('exit', killNow);
    let output = '';
    let timedOut = false;
    // Not spawn's own `timeout`: its timer outlives a command that fails to start and holds the process open.
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (error) => {
      clearTimeout(timer);
      process.off('exit', killNow);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      process.off('exit', killNow);
      if (timedOut) {
        reject(new Error(`${command} did not finish within ${options.timeoutMs} ms\n${output}`));
        return;
      }
      resolve({ code, signal, output });
    });
  });
}
