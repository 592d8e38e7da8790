import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { JobRef } from '../model/types.ts';

/** One logger per process; every line of a job carries jobId, groupId and domainId (see {@link logJob}). */
export const logger = new Logger({ serviceName: 'matchbridge' });

/** One metrics sink per process (CloudWatch EMF); names follow the seeds' tables. */
export const metrics = new Metrics({ namespace: 'Matchbridge', serviceName: 'matchbridge' });

/** A child logger whose every line carries the job's identifiers. */
export function logJob(job: Pick<JobRef, 'jobId' | 'groupId' | 'domainId'>): Logger {
  return logger.createChild({
    persistentKeys: { jobId: job.jobId, groupId: job.groupId, domainId: job.domainId },
  });
}
