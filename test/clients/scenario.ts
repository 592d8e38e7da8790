import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What a generated client is made to do against the local API, every operation once at least, and what it saw.
 * Both clients (TypeScript, Java) report the same shape, checked by {@link assertScenario}.
 */
export interface ScenarioInputs {
  /** users.csv: sent as a multipart upload. */
  readonly multipartCsv: string;
  /** A CSV under the API's import folder, named by `source_uri`. */
  readonly sourceCsv: string;
  /** An NDJSON file sent as the raw body. */
  readonly rawNdjson: string;
  /** An NDJSON file PUT to the `upload_url` of a JSON request without a source. */
  readonly uploadNdjson: string;
  /** A CSV with four bad rows (lines 2, 4, 6, 8), read back three errors a page. */
  readonly errorsCsv: string;
  /** The body sent twice with one Idempotency-Key, and another body sent with that key. */
  readonly repeatCsv: string;
  readonly conflictCsv: string;
}

interface JobSeen {
  readonly status: string;
  readonly total: number;
  readonly success: number;
  readonly fail: number;
}

export interface ScenarioReport {
  readonly openapi: string;
  readonly multipart: { readonly status: number; readonly job: JobSeen };
  readonly sourceUri: { readonly status: number; readonly job: JobSeen };
  readonly rawNdjson: { readonly status: number; readonly job: JobSeen };
  readonly uploadUrl: {
    readonly created: number;
    readonly pendingStatus: string;
    readonly uploaded: number;
    readonly job: JobSeen;
  };
  /** The error lines of each page, in order. */
  readonly errorPages: readonly (readonly number[])[];
  readonly errorJob: JobSeen;
  /** The usernames of a streamed CSV export of the domain (fields=username), in the order they came. */
  readonly streamedCsv: { readonly header: string; readonly usernames: readonly string[] };
  readonly asyncExport: {
    readonly created: number;
    readonly status: string;
    readonly total: number;
    readonly usernames: readonly string[];
  };
  readonly idempotency: {
    readonly first: number;
    readonly repeat: number;
    readonly sameJob: boolean;
    readonly conflict: number;
    readonly conflictCode: string;
  };
}

export const PAGE_SIZE = 3;

export async function writeInputs(dir: string, imports: string): Promise<ScenarioInputs> {
  const inputs: ScenarioInputs = {
    multipartCsv: join(dir, 'users.csv'),
    sourceCsv: join(imports, 'source.csv'),
    rawNdjson: join(dir, 'users.ndjson'),
    uploadNdjson: join(dir, 'upload.ndjson'),
    errorsCsv: join(dir, 'errors.csv'),
    repeatCsv: join(dir, 'repeat.csv'),
    conflictCsv: join(dir, 'conflict.csv'),
  };
  await writeFile(inputs.multipartCsv, 'username\nalice\nbob\n');
  await writeFile(inputs.sourceCsv, 'username\ncarol\n');
  await writeFile(inputs.rawNdjson, '{"username":"dave"}\n{"username":"erin"}\n');
  await writeFile(inputs.uploadNdjson, '{"username":"frank"}\n');
  // A minimum preferred age under 18 is refused: u0, u2, u4 and u6 (lines 2, 4, 6, 8) fail.
  const rows = Array.from({ length: 7 }, (_, i) => `u${i},${i % 2 === 0 ? 5 : 30}`);
  await writeFile(inputs.errorsCsv, `username,preferred_min_age\n${rows.join('\n')}\n`);
  await writeFile(inputs.repeatCsv, 'username\ngina\n');
  await writeFile(inputs.conflictCsv, 'username\nhank\n');
  return inputs;
}

const completed = (total: number): JobSeen => ({ status: 'completed', total, success: total, fail: 0 });
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'u1', 'u3', 'u5'];

export function assertScenario(report: ScenarioReport): void {
  assert.equal(report.openapi, '3.1.0');
  assert.deepEqual(report.multipart, { status: 202, job: completed(2) });
  assert.deepEqual(report.sourceUri, { status: 202, job: completed(1) });
  assert.deepEqual(report.rawNdjson, { status: 202, job: completed(2) });
  assert.deepEqual(report.uploadUrl, {
    created: 202,
    pendingStatus: 'pending',
    uploaded: 202,
    job: completed(1),
  });
  assert.deepEqual(report.errorPages, [[2, 4, 6], [8]]);
  assert.deepEqual(report.errorJob, { status: 'failed', total: 7, success: 3, fail: 4 });
  assert.deepEqual(report.idempotency, {
    first: 202,
    repeat: 200,
    sameJob: true,
    conflict: 422,
    conflictCode: 'IDEMPOTENCY_KEY_REUSED',
  });
  assert.equal(report.streamedCsv.header, 'username');
  assert.deepEqual([...report.streamedCsv.usernames].sort(), USERS);
  assert.deepEqual(
    { ...report.asyncExport, usernames: [...report.asyncExport.usernames].sort() },
    { created: 202, status: 'completed', total: USERS.length, usernames: USERS },
  );
}
