import { z } from 'zod';
import { ApiRequestError } from '../../errors.ts';
import type { RuntimeDeps } from '../../jobs/deps.ts';
import type { IdempotencyStore } from '../../model/idempotency.ts';
import type { ErasureExecutionInput } from '../../model/types.ts';
import type { DeadLetterAdmin } from '../dead-letter-admin.ts';
import type { ApiExportJob } from '../export-jobs.ts';
import type { Caller, Route } from '../http.ts';
import type { ApiImportJob } from '../import-jobs.ts';
import openapi from '../openapi.json' with { type: 'json' };

/** Starts accepted jobs in the background (in-process locally, asynchronously on AWS). */
export interface JobLauncher {
  launchImport(job: ApiImportJob): Promise<void>;
  launchExport(job: ApiExportJob): Promise<void>;
  /** Starts an erasure's execution (its job row is recorded already). */
  launchErasure(input: ErasureExecutionInput): Promise<void>;
}

/** What the handlers work with. */
export interface ApiContext {
  readonly deps: RuntimeDeps;
  readonly idempotency: IdempotencyStore;
  readonly launcher: JobLauncher;
  /** The ingest dead letters, for operators; absent where no queue is configured. */
  readonly deadLetters?: DeadLetterAdmin;
}

/** How long presigned download links stay valid. */
export const LINK_SECONDS = 3600;

function invalid(error: z.ZodError): ApiRequestError {
  const problems = error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
  return new ApiRequestError(400, 'INVALID_REQUEST', problems.join('; '));
}

/** `value` as `schema` has it, or a 400 `INVALID_REQUEST` naming every problem. */
export function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw invalid(result.error);
  return result.data;
}

/** The caller may act only for its own domain (locally, with no identity, any domain given is trusted). */
export function authorize(caller: Caller, domainId: string): void {
  if (caller.domainId !== undefined && caller.domainId !== domainId) {
    throw new ApiRequestError(403, 'FORBIDDEN', 'the caller may not act for this domain');
  }
}

/** The caller may read what belongs to its own domain; an operator (admin) reads every domain's. */
export function authorizeRead(caller: Caller, domainId: string): void {
  if (caller.admin !== true) authorize(caller, domainId);
}

/** The query parameters as an object to parse (the last of repeated ones wins). */
export const fromQuery = (query: URLSearchParams): Record<string, string> =>
  Object.fromEntries(query.entries());

const JobId = z.uuid();

/** The `{job_id}` of the path; one that is no UUID names no job, so it is a 404 like an unknown one. */
export function jobIdParam(params: Readonly<Record<string, string>>): string {
  const parsed = JobId.safeParse(params.job_id);
  if (!parsed.success) throw new ApiRequestError(404, 'JOB_NOT_FOUND', 'no such job');
  return parsed.data;
}

/**
 * The `failure` of a job that failed for a reason other than its rows (those record a code; a job failed by
 * its rows does not): the message recorded only when it was safe to show, otherwise a generic one.
 */
export function failureOf(job: {
  readonly status: string;
  readonly failureCode: string | null;
  readonly failureMessage: string | null;
}): { failure?: { code: string; message: string } } {
  if (job.status !== 'FAILED' || !job.failureCode) return {};
  const message = job.failureMessage ?? `the job failed (${job.failureCode}); the operators' logs say why`;
  return { failure: { code: job.failureCode, message } };
}

type Handler = Route<ApiContext>['handle'];

interface Parameter {
  readonly name?: string;
  readonly in?: string;
  readonly $ref?: string;
}

/** The names of the query parameters the document declares for an operation (shared ones by their `$ref`). */
export function queryOf(method: Route<ApiContext>['method'], path: string): string[] {
  const operation = (openapi.paths as Record<string, Record<string, { parameters?: Parameter[] }>>)[path]?.[
    method.toLowerCase()
  ];
  const shared = openapi.components.parameters as Record<string, Parameter>;
  return (operation?.parameters ?? [])
    .map((p) => (p.$ref === undefined ? p : (shared[p.$ref.replace('#/components/parameters/', '')] ?? {})))
    .flatMap((p) => (p.in === 'query' && p.name ? [p.name] : []));
}

/** A route whose query parameters are those the document declares for it (one source for both) unless given. */
export function route(
  method: Route<ApiContext>['method'],
  path: string,
  handle: Handler,
  query: readonly string[] = queryOf(method, path),
): Route<ApiContext> {
  return { method, path, query, handle };
}
