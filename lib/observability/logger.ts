import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions } from '@aws-lambda-powertools/logger/types';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { JobRef } from '../model/types.ts';
import { formatLogLine } from './log-line.ts';

/** How the CLI prints log lines on stderr; undefined: as Powertools does (Lambda). */
let cliLines: 'readable' | 'json' | undefined;

/**
 * Powertools' Logger, whose lines can be made readable: Powertools prints every record as JSON (a
 * LogFormatter shapes the object, never the text), so the printing step is what changes.
 */
class MatchbridgeLogger extends Logger {
  protected override createLogger(options?: ConstructorOptions): Logger {
    return new MatchbridgeLogger(options);
  }

  protected override printLog(logLevel: number, log: LogItem): void {
    if (cliLines === undefined) {
      super.printLog(logLevel, log);
      return;
    }
    log.prepareForPrint();
    const attributes = log.getAttributes();
    const line =
      cliLines === 'readable'
        ? formatLogLine(attributes)
        : JSON.stringify(attributes, this.getJsonReplacer());
    process.stderr.write(`${line}\n`);
  }
}

/** One logger per process; every line of a job carries jobId, groupId and domainId (see {@link logJob}). */
export const logger: Logger = new MatchbridgeLogger({ serviceName: 'matchbridge' });

/**
 * Makes the command line print every log line on stderr, one line each: `readable` on a terminal (time,
 * level, message, job, details), `json` (one JSON object a line) for pipes, files and `--json`.
 */
export function useCliLogLines(lines: 'readable' | 'json'): void {
  cliLines = lines;
}

/** One metrics sink per process (CloudWatch EMF); names follow the seeds' tables. */
export const metrics = new Metrics({ namespace: 'Matchbridge', serviceName: 'matchbridge' });

/** A child logger whose every line carries the job's identifiers. */
export function logJob(job: Pick<JobRef, 'jobId' | 'groupId' | 'domainId'>): Logger {
  return logger.createChild({
    persistentKeys: { jobId: job.jobId, groupId: job.groupId, domainId: job.domainId },
  });
}
