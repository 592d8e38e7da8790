import { runApiExportInProcess } from '../api/export-jobs.ts';
import { runApiImportInProcess } from '../api/import-jobs.ts';
import type { ApiContext } from '../api/routes/shared.ts';
import type { RuntimeDeps } from '../jobs/deps.ts';
import { logger } from '../observability/logger.ts';
import { configuredIdempotencyStore } from '../runtime/configured-idempotency-store.ts';
import { localDeadLetterAdmin } from './dead-letter-admin.ts';
import { runImportLocally } from './run-import.ts';

/**
 * The local API's context: jobs (and those replayed dead letters start) run in this process, in the
 * background; `drain` waits for them.
 */
export function localApiContext(deps: RuntimeDeps): ApiContext & { drain(): Promise<void> } {
  const running = new Set<Promise<void>>();
  const track = (work: Promise<void>) => {
    const tracked = work
      .catch((error: unknown) => logger.error('background job failed', { error: error as Error }))
      .finally(() => running.delete(tracked));
    running.add(tracked);
  };
  return {
    deps,
    idempotency: configuredIdempotencyStore(deps),
    launcher: {
      launchImport: async (job) => track(runApiImportInProcess(deps, job, runImportLocally)),
      launchExport: async (job) => track(runApiExportInProcess(deps, job)),
      launchErasure: async (input) => track(runImportLocally(input).then(() => undefined)),
    },
    deadLetters: localDeadLetterAdmin(deps.config, track),
    async drain() {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
