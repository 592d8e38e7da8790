import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type pg from 'pg';
import { initLocalConfig } from '../../lib/local/adapters.ts';
import { runImportLocally } from '../../lib/local/run-import.ts';
import type { ImportKind, JobStatusMessage } from '../../lib/model/types.ts';
import { closeRuntimeDeps } from '../../lib/runtime/deps.ts';
import { testDatabase } from './database.ts';

/** What a suite running the local pipeline in-process works with; filled in before its first test. */
export interface LocalPipeline {
  /** A temporary folder of the suite (the local home is `home/` in it). */
  dir: string;
  /** The suite's database, for commands run in a process of their own. */
  url: string;
  pool: pg.Pool;
}

/**
 * Sets up a suite that runs imports in-process through the synthesized state machines: a temporary folder,
 * its own migrated database `name`, and local mode configured with `settings` (batch sizes…; a function is
 * called when the suite starts, after the hooks registered before this call); everything is closed and
 * removed after the suite.
 */
export function localPipeline(
  name: string,
  settings: Record<string, string> | (() => Record<string, string>) = {},
): LocalPipeline {
  const suite = {} as LocalPipeline;
  let closeDb: (() => Promise<void>) | undefined;
  before(async () => {
    suite.dir = await mkdtemp(join(tmpdir(), `mb-${name}-`));
    const db = await testDatabase(name);
    suite.pool = db.pool;
    suite.url = db.url;
    closeDb = db.close;
    initLocalConfig({
      DATABASE_URL: db.url,
      MATCHBRIDGE_HOME: join(suite.dir, 'home'),
      ...(typeof settings === 'function' ? settings() : settings),
    });
  });
  after(async () => {
    await closeRuntimeDeps();
    await closeDb?.();
    if (suite.dir) await rm(suite.dir, { recursive: true, force: true });
  });
  return suite;
}

/**
 * An import of the file at `uri` into a group, as a new job, through the synthesized state machine of its
 * kind (nodes unless `kind` says otherwise) in-process; `asOf` and `dryRun` as a request gives them (left out
 * when undefined or false).
 */
export function importFile(
  domainId: string,
  groupId: string,
  uri: string,
  options: { readonly kind?: ImportKind; readonly asOf?: string | undefined; readonly dryRun?: boolean } = {},
): Promise<JobStatusMessage> {
  return runImportLocally({
    jobId: randomUUID(),
    kind: options.kind ?? 'nodes',
    domainId,
    groupId,
    source: { uri },
    origin: 'test',
    ...(options.asOf !== undefined ? { asOf: options.asOf } : {}),
    ...(options.dryRun ? { dryRun: true } : {}),
  });
}
