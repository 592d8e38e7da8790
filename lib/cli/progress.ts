import type { JobProgressRead } from '../jobs/job-progress.ts';

/** How often the progress line reads the job's counters. */
const REFRESH_MS = 250;

const n = (value: number) => value.toLocaleString('en-US');

/** A duration in seconds as `1h02m`, `3m05s` or `42s`. */
function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

/** One progress line: batches done of planned, rows done of the total, rate, time left, failed rows. */
export function progressLine({ counters, progress }: JobProgressRead): string {
  const batches = `batches ${progress.batchesDone}/${progress.batchesTotal ?? '?'}`;
  const rows = `${n(progress.rowsDone)}/${n(counters.total)} rows (${progress.percentage.toFixed(1)}%)`;
  const eta = progress.etaSeconds === null ? 'ETA …' : `ETA ${duration(progress.etaSeconds)}`;
  return [
    batches,
    rows,
    `${n(progress.rowsPerSecond)} rows/s`,
    eta,
    `${n(progress.rowsFailed)} failed rows`,
  ].join(' · ');
}

/**
 * Live progress of a job on a terminal: the job's counters as the database holds them (each committed DB
 * batch moves them), read a few times a second and rewritten in place on one line.
 */
export function progressReporter(
  stream: NodeJS.WriteStream,
  read: () => Promise<JobProgressRead | undefined>,
): { finish(): Promise<void> } {
  let shown = false;
  let reading: Promise<void> = Promise.resolve();
  const render = async () => {
    const current = await read().catch(() => undefined);
    if (!current || current.counters.status === 'PENDING') return;
    stream.write(`\r\x1b[K${progressLine(current)}`);
    shown = true;
  };
  const timer = setInterval(() => {
    reading = reading.then(render);
  }, REFRESH_MS);
  return {
    async finish() {
      clearInterval(timer);
      await reading;
      await render();
      if (shown) stream.write('\n');
    },
  };
}
