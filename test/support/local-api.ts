import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ApiServer, startApiServer } from '../../lib/api/server.ts';
import { initLocalConfig } from '../../lib/local/adapters.ts';
import { localApiContext } from '../../lib/local/api-context.ts';
import { closeRuntimeDeps, runtimeDeps } from '../../lib/runtime/deps.ts';
import { testDatabase } from './database.ts';

export const DOMAIN = '7a3e9c10-2b4d-4f6e-8a1c-3d5e7f9a0b2c';
export const GROUP = 'g1';

/** The local API, as `matchbridge api` serves it, over a fresh database with one domain and group. */
export interface LocalApi {
  readonly url: string;
  /** A folder for scratch files and generated code, removed by `close`. */
  readonly dir: string;
  /** Where `source_uri` paths may point (API_LOCAL_IMPORT_ROOT). */
  readonly imports: string;
  close(): Promise<void>;
}

export async function startLocalApi(name: string): Promise<LocalApi> {
  const dir = await mkdtemp(join(tmpdir(), `mb-${name}-`));
  const imports = join(dir, 'imports');
  await mkdir(imports);
  const db = await testDatabase(name);
  initLocalConfig({
    DATABASE_URL: db.url,
    MATCHBRIDGE_HOME: join(dir, 'home'),
    API_LOCAL_IMPORT_ROOT: imports,
  });
  await db.pool.query(`INSERT INTO domains (id, name) VALUES ($1, 'd')`, [DOMAIN]);
  await db.pool.query(`INSERT INTO matching_groups (domain_id, group_id, name) VALUES ($1, $2, 'G1')`, [
    DOMAIN,
    GROUP,
  ]);
  const context = localApiContext(await runtimeDeps());
  const server: ApiServer = await startApiServer(context, { port: 0 });
  return {
    url: server.url,
    dir,
    imports,
    async close() {
      await server.close();
      await context.drain();
      await closeRuntimeDeps();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
