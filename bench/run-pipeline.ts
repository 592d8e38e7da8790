// Child process of the import benchmark: runs one import through the local pipeline (the synthesized
// state machine with in-process handlers) and prints its figures as JSON on stdout.
import { randomUUID } from 'node:crypto';
import { initLocalConfig } from '../lib/local/adapters.ts';
import { runImportLocally, synthesizedMachines } from '../lib/local/run-import.ts';
import { closeRuntimeDeps } from '../lib/runtime/deps.ts';

const [file, databaseUrl, home, domainId, groupId, kind = 'nodes', mode = 'real'] = process.argv.slice(2);
if (
  !file ||
  !databaseUrl ||
  !home ||
  !domainId ||
  !groupId ||
  (kind !== 'nodes' && kind !== 'matches') ||
  (mode !== 'real' && mode !== 'dry-run')
) {
  throw new Error(
    'usage: run-pipeline.ts <file> <databaseUrl> <home> <domainId> <groupId> [nodes|matches] [real|dry-run]',
  );
}
initLocalConfig({ DATABASE_URL: databaseUrl, MATCHBRIDGE_HOME: home });
await synthesizedMachines();
const started = process.hrtime.bigint();
const message = await runImportLocally({
  jobId: randomUUID(),
  kind,
  domainId,
  groupId,
  source: { uri: file },
  origin: 'bench',
  ...(mode === 'dry-run' ? { dryRun: true } : {}),
});
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await closeRuntimeDeps();
process.stdout.write(
  `${JSON.stringify({
    status: message.status,
    processed: message.processed,
    total: message.total,
    seconds,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  })}\n`,
);
