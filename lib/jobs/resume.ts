import { InvalidRequestError } from '../errors.ts';
import type { ImportExecutionInput, ImportSource, StagedRemovals } from '../model/types.ts';
import type { ImportJobRow } from './job-repository.ts';

/**
 * The execution input that runs an unfinished job again under its own id — so under its own execution name,
 * which lets the plan step claim the PROCESSING job again. Its completed batches return their recorded
 * results (`import_job_batches`), so only the rest is loaded and the counts are those of a single run.
 *
 * @param referenceList where a reference-list job of this id staged its list (`referenceListUri`): a job
 *   whose source is there is run as a reference list again.
 * @param removals the job's staged removal list, when there is one: removed again (what is gone stays gone and
 *   is not counted twice), and a job whose source it is runs as removals alone.
 * @throws InvalidRequestError `NOT_RESUMABLE` for a job that already ended, one the bulk API accepted, or an
 *   erasure.
 */
export function resumeInput(
  job: ImportJobRow,
  referenceList: string,
  removals?: StagedRemovals,
): ImportExecutionInput {
  if (job.status === 'COMPLETED' || job.status === 'FAILED') {
    throw new InvalidRequestError('NOT_RESUMABLE', `job ${job.id} already ended ${job.status}`, {
      jobId: job.id,
    });
  }
  // The API loads users and CSV/NDJSON matches itself and converts NDJSON nodes before the pipeline: its
  // job's source is not what a state machine would read. Its jobs are run again by the API (docs/runbook.md).
  if (job.origin === 'api') {
    throw new InvalidRequestError(
      'NOT_RESUMABLE',
      `job ${job.id} was accepted by the bulk API: submit it there again`,
      {
        jobId: job.id,
      },
    );
  }
  // An erasure's input says whether it covers every group, which its row does not keep; running it again from
  // its request is as good: erasing what is already gone finds nothing.
  if (job.kind === 'erasure') {
    throw new InvalidRequestError('NOT_RESUMABLE', `job ${job.id} is an erasure: request it again`, {
      jobId: job.id,
    });
  }
  const source: ImportSource =
    job.source === referenceList
      ? { uri: job.source, kind: 'references' }
      : job.source === removals?.uri
        ? { uri: job.source, kind: 'removals' }
        : { uri: job.source };
  return {
    jobId: job.id,
    kind: job.kind,
    domainId: job.domainId,
    groupId: job.groupId,
    source,
    origin: job.origin,
    ...(removals ? { removals } : {}),
    ...(job.dryRun ? { dryRun: true } : {}),
  };
}
