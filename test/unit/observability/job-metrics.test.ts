import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { METRIC_NAMES, METRICS_NAMESPACE, METRICS_SERVICE } from '../../../lib/observability/job-metrics.ts';

const run = promisify(execFile);

/** The EMF lines a child process writes when it records one finished job (metrics enabled there). */
async function emittedBy(
  kind: string,
  status: string,
  seconds: number,
): Promise<Array<Record<string, unknown>>> {
  const script = `
    const { recordJobFinished } = await import(${JSON.stringify(new URL('../../../lib/observability/job-metrics.ts', import.meta.url).href)});
    recordJobFinished(${JSON.stringify(kind)}, ${JSON.stringify(status)}, ${seconds});`;
  const { POWERTOOLS_METRICS_DISABLED: _disabled, ...env } = process.env;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env });
  return stdout
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

interface EmfLine {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
  [key: string]: unknown;
}

describe('job metrics', () => {
  it('records a finished job as one duration sample with service, kind and status, where the alarms read it', async () => {
    const lines = (await emittedBy('matches', 'FAILED', 12.5)) as EmfLine[];

    assert.equal(lines.length, 1);
    const [line] = lines;
    const directive = line?._aws.CloudWatchMetrics[0];
    assert.equal(directive?.Namespace, METRICS_NAMESPACE);
    assert.deepEqual([...(directive?.Dimensions[0] ?? [])].sort(), ['kind', 'service', 'status']);
    assert.equal(line?.service, METRICS_SERVICE);
    assert.equal(line?.kind, 'matches');
    assert.equal(line?.status, 'FAILED');
    assert.equal(line?.[METRIC_NAMES.jobDuration], 12.5);
  });
});
