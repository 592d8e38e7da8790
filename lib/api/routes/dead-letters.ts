import { z } from 'zod';
import { ApiRequestError } from '../../errors.ts';
import type { ReplayOutcome } from '../../model/ingest.ts';
import type { AdminDeadLetter, DeadLetterAdmin, ReplayAllResult } from '../dead-letter-admin.ts';
import { type DeadLetterFields, deadLetterView } from '../dead-letter-view.ts';
import type { ApiRequest, ApiResponse, Caller, Route } from '../http.ts';
import { type ApiContext, fromQuery, parse, route } from './shared.ts';

const SQS_NOTE =
  'The dead letters are in an SQS queue, which cannot be browsed without receiving its messages (and hiding ' +
  'them from everyone else for a while): only its depth is shown. Replay all pending letters to re-submit them.';

const ListParams = z.object({
  state: z.enum(['pending', 'replayed']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
});

/** Only operators see the dead letters: they hold other domains' records. */
function adminLetters(caller: Caller, context: ApiContext): DeadLetterAdmin {
  if (caller.admin !== true) {
    throw new ApiRequestError(403, 'FORBIDDEN', 'only an admin caller may read or replay dead letters');
  }
  if (!context.deadLetters) {
    throw new ApiRequestError(503, 'DEAD_LETTERS_UNAVAILABLE', 'no dead-letter queue is configured here');
  }
  return context.deadLetters;
}

const outcomeJson = (outcome: ReplayOutcome) => ({
  outcome: outcome.outcome,
  ...(outcome.outcome === 'started' ? { job_id: outcome.jobId } : {}),
  ...(outcome.outcome === 'dead-lettered' ? { reason: outcome.reason } : {}),
});

/** A letter as the API shows it: the record itself too, for an operator deciding on a replay. */
const API_LETTER_FIELDS: DeadLetterFields<AdminDeadLetter> = {
  letter: [
    'id',
    'state',
    'deadLetteredAt',
    'code',
    'reason',
    'topic',
    'partition',
    'offset',
    'key',
    'headers',
    'value',
    'valueEncoding',
  ],
  replay: ['replayedAt', 'outcome', 'jobId', 'reason'],
};

const letterJson = (letter: AdminDeadLetter) => deadLetterView(letter, API_LETTER_FIELDS, 'snake_case');

async function listDeadLetters(request: ApiRequest, context: ApiContext): Promise<ApiResponse> {
  const letters = adminLetters(request.caller, context);
  const params = parse(ListParams, fromQuery(request.query));
  if (!letters.browsable) {
    const depth = await letters.depth();
    return {
      status: 200,
      json: {
        browsable: false,
        letters: [],
        approximate_depth: { waiting: depth.waiting, in_flight: depth.inFlight },
        note: SQS_NOTE,
      },
    };
  }
  // The cursor is the id of the last letter shown; the file is streamed past it, never held.
  const after = params.cursor === undefined ? undefined : Buffer.from(params.cursor, 'base64url').toString();
  let passed = after === undefined;
  const page: AdminDeadLetter[] = [];
  let more = false;
  for await (const letter of letters.list()) {
    if (!passed) {
      passed = letter.id === after;
      continue;
    }
    if (params.state !== undefined && letter.state !== params.state) continue;
    if (page.length === params.limit) {
      more = true;
      break;
    }
    page.push(letter);
  }
  if (!passed) throw new ApiRequestError(400, 'INVALID_CURSOR', 'cursor is not one this API gave');
  const last = page.at(-1);
  return {
    status: 200,
    json: {
      browsable: true,
      letters: page.map(letterJson),
      ...(more && last ? { next_cursor: Buffer.from(last.id).toString('base64url') } : {}),
    },
  };
}

const notFound = () => new ApiRequestError(404, 'DEAD_LETTER_NOT_FOUND', 'no such dead letter');

async function getDeadLetter(
  request: ApiRequest,
  params: Readonly<Record<string, string>>,
  context: ApiContext,
): Promise<ApiResponse> {
  const letters = adminLetters(request.caller, context);
  if (letters.browsable) {
    for await (const letter of letters.list()) {
      if (letter.id === params.id) return { status: 200, json: letterJson(letter) };
    }
  }
  throw notFound();
}

async function replayOne(
  request: ApiRequest,
  params: Readonly<Record<string, string>>,
  context: ApiContext,
): Promise<ApiResponse> {
  const letters = adminLetters(request.caller, context);
  // Letters in SQS have no address: they can only be replayed all together.
  const outcome = letters.browsable ? await letters.replay(params.id ?? '') : undefined;
  if (outcome === undefined) throw notFound();
  if (outcome === 'already-replayed') {
    throw new ApiRequestError(409, 'ALREADY_REPLAYED', 'this dead letter was already replayed');
  }
  return { status: 200, json: { id: params.id, ...outcomeJson(outcome) } };
}

function replayAllJson(result: ReplayAllResult): ApiResponse {
  if (result.mode === 'invoked') {
    return { status: 202, json: { invoked: result.functionName } };
  }
  const count = (kind: ReplayOutcome['outcome']) => result.replayed.filter((r) => r.outcome === kind).length;
  return {
    status: 200,
    json: {
      replayed: result.replayed.map((r) => ({ id: r.id, ...outcomeJson(r) })),
      started: count('started'),
      dead_lettered: count('dead-lettered'),
      duplicates: count('duplicate'),
    },
  };
}

/** The ingest dead letters, for operators: list, read one, replay one, replay every pending one. */
export const DEAD_LETTER_ROUTES: readonly Route<ApiContext>[] = [
  route('GET', '/v1/dead-letters', (request, _params, context) => listDeadLetters(request, context)),
  route('POST', '/v1/dead-letters/replay', async (request, _params, context) =>
    replayAllJson(await adminLetters(request.caller, context).replayAll()),
  ),
  route('GET', '/v1/dead-letters/{id}', getDeadLetter),
  route('POST', '/v1/dead-letters/{id}/replay', replayOne),
];
