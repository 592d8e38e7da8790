import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { ExportSummary } from '../export/types.ts';
import { openLocalEnvironment } from '../local/environment.ts';
import { outboxFile } from '../local/outbox.ts';
import { runExportLocally } from '../local/run-export.ts';
import { closeExportDeps, exportDeps } from '../runtime/export-deps.ts';
import { EXIT, parseCommandLine, UsageError } from './usage.ts';

const OPTIONS = {
  group: { type: 'string' },
  domain: { type: 'string' },
  full: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

async function emit(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

/** The outbox lines (`{topic, key, headers, value}`) of one run, streamed from the local outbox file. */
async function* runRequests(file: string, runId: string): AsyncGenerator<string> {
  try {
    await access(file);
  } catch {
    return; // Nothing was sent yet.
  }
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const request = JSON.parse(line) as { headers?: Record<string, string> };
    if (request.headers?.runId === runId) yield line;
  }
}

function groupLine(g: ExportSummary['groups'][number]): string {
  const what = g.costBased ? `${g.exported} users → ${g.file ?? 'no file'}` : `${g.exported} usernames`;
  const error = g.error ? ` (${g.error})` : '';
  const removed = g.removed ? `, ${g.removed} removed` : '';
  return `group ${g.groupId} (domain ${g.domainId}) ${g.status}: ${what}${removed}, ${g.messages} import request(s)${error}\n`;
}

/**
 * `matchbridge export users [--group <id>] [--domain <uuid>] [--full] [--json]`: runs the export state
 * machine locally. Files go to S3 when a bucket is configured (`EXPORT_BUCKET` or `STAGING_BUCKET`, with
 * `S3_ENDPOINT`), otherwise under the home folder; import requests go to Kafka when `KAFKA_BROKERS` is set,
 * otherwise to the local outbox, and are printed (`sentMessages` with `--json`). Exit 0 when every group
 * COMPLETED, 1 when one FAILED.
 */
export async function exportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (positionals.length !== 1 || positionals[0] !== 'users')
    throw new UsageError('export takes: export users');
  const groupId = values.group?.trim();
  if (groupId !== undefined && (groupId.length === 0 || groupId.length > 255)) {
    throw new UsageError('--group must be 1 to 255 characters');
  }
  if (values.domain !== undefined && !z.uuid().safeParse(values.domain).success) {
    throw new UsageError('--domain must be a UUID');
  }
  const env = await openLocalEnvironment();
  try {
    const summary = await runExportLocally({
      full: values.full,
      trigger: 'cli',
      ...(groupId ? { groupId } : {}),
      ...(values.domain ? { domainId: values.domain } : {}),
    });
    const { sender, config } = await exportDeps();
    const printed =
      sender.kind === 'outbox'
        ? runRequests(outboxFile(resolve(config.localHome)), summary.runId)
        : undefined;
    if (values.json) {
      const head = JSON.stringify({
        runId: summary.runId,
        full: summary.full,
        date: summary.date,
        groups: summary.groups,
      });
      if (!printed) {
        await emit(`${head}\n`);
      } else {
        // Streamed: a run's username lists may be long.
        await emit(`${head.slice(0, -1)},"sentMessages":[`);
        let first = true;
        for await (const line of printed) {
          await emit(`${first ? '' : ','}${line}`);
          first = false;
        }
        await emit(']}\n');
      }
    } else {
      await emit(
        `Export run ${summary.runId} (${summary.full ? 'full' : 'incremental'}, ${summary.date}): ${summary.groups.length} group(s), ${summary.exported} exported, ${summary.failed} failed\n`,
      );
      for (const g of summary.groups) await emit(groupLine(g));
      if (printed) {
        await emit('No KAFKA_BROKERS: the import requests, one per line (also in the local outbox):\n');
        for await (const line of printed) await emit(`${line}\n`);
      }
    }
    return summary.failed > 0 ? EXIT.failed : EXIT.completed;
  } finally {
    await closeExportDeps();
    await env.close();
  }
}
