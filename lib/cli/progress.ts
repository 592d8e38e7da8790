import type { TaskObserver } from '../local/local-runner.ts';

/** Live progress of a local import on a terminal: batches done of planned, rows/s, failed rows so far. */
export function progressReporter(stream: NodeJS.WriteStream): { observe: TaskObserver; finish(): void } {
  const state = { planned: 0, total: 0, done: 0, rows: 0, failed: 0 };
  const started = Date.now();
  let last = 0;
  const render = (force: boolean) => {
    const now = Date.now();
    if (!force && now - last < 200) return;
    last = now;
    const seconds = Math.max(0.001, (now - started) / 1000);
    const rate = Math.round(state.rows / seconds).toLocaleString('en-US');
    stream.write(
      `\r\x1b[Kbatches ${state.done}/${state.planned} · ${state.rows.toLocaleString('en-US')}/${state.total.toLocaleString(
        'en-US',
      )} rows · ${rate} rows/s · ${state.failed.toLocaleString('en-US')} failed rows`,
    );
  };
  return {
    observe(handler, _input, output) {
      const out = output as Record<string, unknown> | null;
      if (handler === 'plan' && out) {
        state.planned = Array.isArray(out.batches) ? out.batches.length : 0;
        state.total = typeof out.total === 'number' ? out.total : 0;
      } else if (handler === 'load-batch' && out) {
        state.done += 1;
        state.rows += typeof out.rows === 'number' ? out.rows : 0;
        state.failed += typeof out.failed === 'number' ? out.failed : 0;
      }
      render(handler !== 'load-batch');
    },
    finish() {
      if (last > 0) {
        render(true);
        stream.write('\n');
      }
    },
  };
}
