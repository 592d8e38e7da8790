import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatLogLine } from '../../../lib/observability/log-line.ts';
import { logger, logJob, useCliLogLines } from '../../../lib/observability/logger.ts';

const JOB = { jobId: '0f1e2d3c-4b5a-4c6d-8e7f-9a0b1c2d3e4f', groupId: 'g1', domainId: 'd' };

/** What `work` writes to stderr, line by line. */
function stderrOf(work: () => void): string[] {
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    work();
  } finally {
    process.stderr.write = write;
  }
  return written.join('').split('\n').filter(Boolean);
}

describe('log lines on a terminal', () => {
  it('read time, level, message, job, then the details as key=value', () => {
    const line = formatLogLine({
      level: 'WARN',
      message: 'batch retried',
      timestamp: '2026-12-06T03:04:05.678Z',
      service: 'matchbridge',
      sampling_rate: 0,
      ...JOB,
      batch: 3,
      counts: { inserted: 2, updated: 1 },
      error: { name: 'DatabaseUnavailableError', message: 'connection\nreset', stack: 'at …' },
    });
    assert.equal(
      line,
      '03:04:05.678 WARN  batch retried job=0f1e2d3c-4b5a-4c6d-8e7f-9a0b1c2d3e4f group=g1 batch=3 ' +
        'counts={"inserted":2,"updated":1} error=DatabaseUnavailableError: connection⏎reset',
    );
  });

  it('the CLI logger prints one readable line per record on a terminal, one JSON object per line otherwise', () => {
    const level = logger.getLevelName();
    logger.setLogLevel('INFO');
    try {
      useCliLogLines('readable');
      const readable = stderrOf(() => logJob(JOB).info('planned import', { batches: 4 }));
      useCliLogLines('json');
      const json = stderrOf(() => logJob(JOB).info('planned import', { batches: 4 }));

      assert.equal(readable.length, 1);
      assert.match(
        readable[0] ?? '',
        /^\d\d:\d\d:\d\d\.\d{3} INFO {2}planned import job=0f1e2d3c\S+ group=g1 batches=4$/,
      );
      assert.equal(json.length, 1);
      const record = JSON.parse(json[0] ?? '');
      assert.deepEqual(
        [record.level, record.message, record.jobId, record.batches],
        ['INFO', 'planned import', JOB.jobId, 4],
      );
    } finally {
      logger.setLogLevel(level);
    }
  });
});
