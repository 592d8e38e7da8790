import { resolve } from 'node:path';
import { CONFIG_ENV, type Config } from '../config.ts';
import { ConfigurationError } from '../errors.ts';

/**
 * The URI of a pipeline-owned object: in the staging bucket (`s3://<bucket>/<parts…>`), or without one in
 * local mode under the local home folder. `area` is the top-level prefix with its own lifecycle rule. On AWS
 * a missing bucket is a ConfigurationError: the code folder is read-only there.
 */
export function pipelineObjectUri(
  config: Pick<Config, 'stagingBucket' | 'localHome' | 'localMode'>,
  area: 'staging' | 'reports',
  ...parts: string[]
): string {
  if (config.stagingBucket) return `s3://${config.stagingBucket}/${[area, ...parts].join('/')}`;
  if (!config.localMode) {
    throw new ConfigurationError(`${CONFIG_ENV.stagingBucket} is not set`, {
      variable: CONFIG_ENV.stagingBucket,
    });
  }
  return resolve(config.localHome, 'objects', area, ...parts);
}
