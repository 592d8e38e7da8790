import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { Context } from 'aws-lambda';
import { type IdempotentStarter, idempotencyOptions, withIdempotency } from '../aws/idempotent-starter.ts';
import type { Config } from '../config.ts';
import type { IngestDeps } from '../ingest/ingest-records.ts';
import { getJob } from '../jobs/job-repository.ts';
import { referenceStager } from '../jobs/reference-list.ts';
import type { ExecutionStarter } from '../model/ingest.ts';
import type { ImportExecutionInput, JobStatusMessage } from '../model/types.ts';
import { runtimeDeps } from '../runtime/deps.ts';
import { type LocalDeadLetters, localDeadLetters } from './dead-letters.ts';
import type { TaskObserver } from './local-runner.ts';
import { runImportLocally } from './run-import.ts';

/** A starter that runs each job it starts to its end, in-process, and keeps the jobs' status messages. */
export interface LocalExecutionStarter extends ExecutionStarter {
  /** The status message of every job started through this starter, by job id, in start order. */
  readonly finished: ReadonlyMap<string, JobStatusMessage>;
}

/** How a local starter runs its jobs: `background` hands each run over and returns at once. */
export interface LocalStarterOptions {
  readonly observe?: TaskObserver;
  /** Takes a started run (the API server tracks it until it ends); without it `start` awaits the run. */
  readonly background?: (run: Promise<void>) => void;
}

/**
 * The local stand-in for Step Functions' StartExecution: a job id that already has a job row, or was
 * started by this starter, is a duplicate (as an existing execution name is on AWS); any other runs through
 * {@link runImportLocally} — the synthesized state machine — before `start` returns, or in the background.
 */
export function localExecutionStarter(options: LocalStarterOptions = {}): LocalExecutionStarter {
  const finished = new Map<string, JobStatusMessage>();
  const started = new Set<string>();
  return {
    finished,
    async start(input: ImportExecutionInput) {
      const { pool } = await runtimeDeps();
      if (started.has(input.jobId) || (await getJob(pool, input.jobId))) return 'duplicate';
      started.add(input.jobId);
      const run = runImportLocally(input, options.observe ? { observe: options.observe } : {}).then(
        (message) => {
          finished.set(input.jobId, message);
        },
      );
      if (options.background) options.background(run);
      else await run;
      return 'started';
    },
  };
}

/** How long a local start holds its idempotency key if the process dies mid-start. */
const LOCAL_IN_PROGRESS_MS = 15 * 60 * 1000;

/**
 * An invocation context for the command line, so that a start interrupted by the process dying frees its key
 * after a while, as a Lambda's does when its invocation would have ended. Each start gets the full window.
 */
function commandLineContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'matchbridge-cli',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:matchbridge-cli',
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: '/local/matchbridge-cli',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => LOCAL_IN_PROGRESS_MS,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Everything local ingest and replay need, wired from the configuration. */
export interface LocalIngest {
  readonly deps: IngestDeps & { readonly starter: IdempotentStarter };
  readonly starter: LocalExecutionStarter;
  readonly deadLetters: LocalDeadLetters;
}

/**
 * Local ingest: jobs run in-process to their end; dead letters go to `<MATCHBRIDGE_HOME>/dlq/ingest.jsonl`;
 * starts are de-duplicated by the Powertools idempotency table when `IDEMPOTENCY_TABLE` is set (with
 * `DYNAMODB_ENDPOINT` for an emulator), otherwise by the job rows alone. Import paths may be local files.
 */
export function openLocalIngest(cfg: Config, options: LocalStarterOptions = {}): LocalIngest {
  const starter = localExecutionStarter(options);
  const idempotent = withIdempotency(starter, idempotencyOptions(cfg));
  idempotent.registerLambdaContext(commandLineContext());
  const deadLetters = localDeadLetters(resolve(cfg.localHome));
  return {
    deps: {
      starter: idempotent,
      deadLetters,
      allowLocalFiles: true,
      pipelineBucket: cfg.stagingBucket,
      matchTopics: new Set(cfg.matchImportTopics),
      erasureTopics: new Set(cfg.erasureTopics),
      stageReferences: async (jobId, ids, list) =>
        referenceStager((await runtimeDeps()).store, cfg)(jobId, ids, list),
    },
    starter,
    deadLetters,
  };
}
