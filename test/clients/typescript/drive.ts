// Compiled beside the client typescript-fetch generates (test/clients/typescript-fetch.test.ts copies it there):
// type-checked against the generated signatures, then run against the local API. It prints the scenario's
// report (test/clients/scenario.ts) as one JSON object.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  Configuration,
  type ExportFormat,
  ExportsApi,
  type ImportJob,
  ImportsApi,
  MetaApi,
  ResponseError,
} from './index';

const [baseUrl = '', domainId = '', groupId = '', inputsJson = '{}'] = process.argv.slice(2);
const inputs = JSON.parse(inputsJson) as Record<string, string>;
const configuration = new Configuration({ basePath: baseUrl });
const imports = new ImportsApi(configuration);
const exportsApi = new ExportsApi(configuration);
let keys = 0;
const nextKey = () => `ts-client-${process.pid}-${++keys}`;
const file = async (name: string) => new Blob([await readFile(inputs[name] ?? '')]);
const text = (name: string) => readFile(inputs[name] ?? '', 'utf8');
const MAX_POLLS = 600;

/** Polls a job until it is no longer pending or processing (the bound only stops a hung run). */
async function settled<T extends { status: string }>(read: () => Promise<T>): Promise<T> {
  for (let i = 0; i < MAX_POLLS; i += 1) {
    const job = await read();
    if (job.status !== 'pending' && job.status !== 'processing') return job;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the job did not finish');
}

const importSettled = async (jobId: string) => {
  const job: ImportJob = await settled(() => imports.getImport({ jobId }));
  return {
    status: job.status,
    total: job.totalRecords,
    success: job.successCount,
    fail: job.failCount,
  };
};

async function main() {
  const document = await new MetaApi(configuration).getOpenApi();

  const multipart = await imports.createImportFromMultipartRaw({
    idempotencyKey: nextKey(),
    file: await file('multipartCsv'),
    resourceType: 'users',
    format: 'csv',
    domainId,
    groupId,
  });
  const multipartJob = await importSettled((await multipart.value()).jobId);

  const bySource = await imports.createImportRaw({
    idempotencyKey: nextKey(),
    importRequest: { resourceType: 'users', format: 'csv', domainId, groupId, sourceUri: inputs.sourceCsv },
  });
  const sourceJob = await importSettled((await bySource.value()).jobId);

  const raw = await imports.createImportFromBodyRaw({
    idempotencyKey: nextKey(),
    resourceType: 'users',
    format: 'ndjson',
    domainId,
    groupId,
    body: await text('rawNdjson'),
  });
  const rawJob = await importSettled((await raw.value()).jobId);

  const pending = await imports.createImportRaw({
    idempotencyKey: nextKey(),
    importRequest: { resourceType: 'users', format: 'ndjson', domainId, groupId },
  });
  const pendingJob = await pending.value();
  const pendingStatus = (await imports.getImport({ jobId: pendingJob.jobId })).status;
  const uploaded = await imports.uploadImportFileRaw({
    jobId: pendingJob.jobId,
    body: await text('uploadNdjson'),
  });
  const uploadJob = await importSettled(pendingJob.jobId);

  const withErrors = await imports.createImportFromBody({
    idempotencyKey: nextKey(),
    resourceType: 'users',
    format: 'csv',
    domainId,
    groupId,
    body: await text('errorsCsv'),
  });
  const errorJob = await importSettled(withErrors.jobId);
  const errorPages: number[][] = [];
  let cursor: string | undefined;
  do {
    const page = await imports.getImport({ jobId: withErrors.jobId, limit: Number(inputs.pageSize), cursor });
    errorPages.push(page.errors.map((e) => e.line));
    cursor = page.nextCursor;
  } while (cursor !== undefined);

  const key = nextKey();
  const once = { idempotencyKey: key, resourceType: 'users', format: 'csv', domainId, groupId } as const;
  const first = await imports.createImportFromBodyRaw({ ...once, body: await text('repeatCsv') });
  const repeat = await imports.createImportFromBodyRaw({ ...once, body: await text('repeatCsv') });
  let conflict = 0;
  let conflictCode = '';
  try {
    await imports.createImportFromBody({ ...once, body: await text('conflictCsv') });
  } catch (error) {
    if (!(error instanceof ResponseError)) throw error;
    conflict = error.response.status;
    conflictCode = ((await error.response.json()) as { code: string }).code;
  }
  const firstJob = await first.value();
  await importSettled(firstJob.jobId);

  const csv: ExportFormat = 'csv';
  const streamed = await (
    await exportsApi.streamExport({ resourceType: 'users', format: csv, domainId, fields: 'username' })
  ).text();
  const [header = '', ...usernames] = streamed.trimEnd().split('\n');

  const exportCreated = await exportsApi.createExportRaw({
    idempotencyKey: nextKey(),
    exportRequest: { resourceType: 'users', format: 'ndjson', domainId, fields: ['username'] },
  });
  const exportId = (await exportCreated.value()).jobId;
  const exportJob = await settled(() => exportsApi.getExport({ jobId: exportId }));
  const exported = await readFile(fileURLToPath(exportJob.downloadUrl ?? ''), 'utf8');

  const report = {
    openapi: (document as { openapi?: string }).openapi,
    multipart: { status: multipart.raw.status, job: multipartJob },
    sourceUri: { status: bySource.raw.status, job: sourceJob },
    rawNdjson: { status: raw.raw.status, job: rawJob },
    uploadUrl: {
      created: pending.raw.status,
      pendingStatus,
      uploaded: uploaded.raw.status,
      job: uploadJob,
    },
    errorPages,
    errorJob,
    streamedCsv: { header, usernames },
    asyncExport: {
      created: exportCreated.raw.status,
      status: exportJob.status,
      total: exportJob.totalRecords,
      usernames: exported
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { username: string }).username),
    },
    idempotency: {
      first: first.raw.status,
      repeat: repeat.raw.status,
      sameJob: (await repeat.value()).jobId === firstJob.jobId,
      conflict,
      conflictCode,
    },
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
