// Child process of the export benchmark: runs one user export of a domain through the synthesized export
// state machine (in-process handlers, files to the local folder, requests to the outbox) and prints its
// figures as JSON on stdout.

import { initLocalConfig } from '../lib/local/adapters.ts';
import { runExportLocally } from '../lib/local/run-export.ts';
import { closeRuntimeDeps } from '../lib/runtime/deps.ts';
import { closeExportDeps } from '../lib/runtime/export-deps.ts';

const [databaseUrl, home, domainId] = process.argv.slice(2);
if (!databaseUrl || !home || !domainId)
  throw new Error('usage: run-export.ts <databaseUrl> <home> <domainId>');
initLocalConfig({ DATABASE_URL: databaseUrl, MATCHBRIDGE_HOME: home });
const started = process.hrtime.bigint();
const summary = await runExportLocally({ domainId, full: true, trigger: 'bench' });
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await closeExportDeps();
await closeRuntimeDeps();
const [group] = summary.groups;
process.stdout.write(
  `${JSON.stringify({
    status: group?.status,
    exported: group?.exported,
    file: group?.file,
    seconds,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  })}\n`,
);
