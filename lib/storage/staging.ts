import { resolve } from 'node:path';
import type { Config } from '../config.ts';

/**
 * The URI of a pipeline-owned object: in the staging bucket on AWS (`s3://<bucket>/<parts…>`), under the
 * local home folder in local mode. `area` is the top-level prefix with its own lifecycle rule.
 */
export function pipelineObjectUri(
  config: Pick<Config, 'stagingBucket' | 'localHome'>,
  area: 'staging' | 'reports',
  ...parts: string[]
): string {
  return config.stagingBucket
    ? `s3://${config.stagingBucket}/${[area, ...parts].join('/')}`
    : resolve(config.localHome, 'objects', area, ...parts);
}
