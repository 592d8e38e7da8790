import { setTimeout as sleep } from 'node:timers/promises';
import { ApiRequestError } from '../../errors.ts';
import type { ApiRequest, ApiResponse, Route } from '../http.ts';
import { type ImportJobView, readImportJobView } from '../import-job-queries.ts';
import { importJobBody, isFinal } from './import-body.ts';
import { type ApiContext, authorizeRead, jobIdParam, route } from './shared.ts';

/** How a job's event stream runs: how often it reads the job, when it says it is alive, when it ends. */
export interface EventStreamTiming {
  /** Between two reads of the job's counters: the most a progress event waits after its DB batch commits. */
  readonly pollMs: number;
  /** A comment line after this long without an event, so that no proxy closes an idle stream. */
  readonly keepAliveMs: number;
  /**
   * The stream ends after this long, before API Gateway's 15-minute bound on a streamed response; the client
   * reconnects (after `retry`) with `Last-Event-ID` and carries on from there.
   */
  readonly maxStreamMs: number;
  readonly retryMs: number;
}

export const EVENT_STREAM_TIMING: EventStreamTiming = {
  pollMs: 250,
  keepAliveMs: 15_000,
  maxStreamMs: 10 * 60_000,
  retryMs: 1000,
};

const NO_QUERY = new URLSearchParams();

/** One Server-Sent Event; the data is one line of JSON (JSON text holds no raw newline). */
const sseEvent = (name: string, id: number, data: unknown) =>
  `event: ${name}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`;

/** The progress sequence number a reconnecting client saw last; anything else counts as none. */
function lastEventId(headers: ApiRequest['headers']): number {
  const raw = headers['last-event-id']?.trim();
  return raw && /^\d{1,15}$/.test(raw) ? Number(raw) : -1;
}

/**
 * The events of one job: `progress` (id: the counters' sequence number) each time they moved since the
 * last one sent (or since `Last-Event-ID`), then one `completed` or `failed` event with the final body, and
 * the end of the stream. A job that already ended answers with its final event at once.
 */
async function* jobEvents(
  context: ApiContext,
  first: ImportJobView,
  sentBefore: number,
  timing: EventStreamTiming,
): AsyncGenerator<string> {
  const started = Date.now();
  let lastWrite = started;
  let sent = sentBefore;
  let job: ImportJobView | undefined = first;
  yield `retry: ${timing.retryMs}\n\n`;
  while (job) {
    const { seq } = job.progress;
    if (isFinal(job.status)) {
      const name = job.status === 'COMPLETED' ? 'completed' : 'failed';
      yield sseEvent(name, seq, await importJobBody(context, job, NO_QUERY));
      return;
    }
    const now = Date.now();
    if (seq > sent) {
      yield sseEvent('progress', seq, await importJobBody(context, job, NO_QUERY));
      sent = seq;
      lastWrite = now;
    } else if (now - lastWrite >= timing.keepAliveMs) {
      yield ': keep-alive\n\n';
      lastWrite = now;
    }
    if (now - started >= timing.maxStreamMs) return;
    await sleep(timing.pollMs);
    job = await readImportJobView(context.deps.pool, first.id);
  }
}

/** The handler of `GET /v1/imports/{job_id}/events`, with its timing (tests shorten it). */
export function importEventsHandler(timing: EventStreamTiming = EVENT_STREAM_TIMING) {
  return async (
    request: ApiRequest,
    params: Readonly<Record<string, string>>,
    context: ApiContext,
  ): Promise<ApiResponse> => {
    const job = await readImportJobView(context.deps.pool, jobIdParam(params));
    if (!job) throw new ApiRequestError(404, 'JOB_NOT_FOUND', 'no such job');
    authorizeRead(request.caller, job.domainId);
    return {
      status: 200,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        // Proxies that buffer responses (nginx and its kin) pass this one through as it comes.
        'x-accel-buffering': 'no',
      },
      stream: jobEvents(context, job, lastEventId(request.headers), timing),
    };
  };
}

/** Watching an import's progress as Server-Sent Events. */
export const IMPORT_EVENT_ROUTES: readonly Route<ApiContext>[] = [
  route('GET', '/v1/imports/{job_id}/events', importEventsHandler()),
];
