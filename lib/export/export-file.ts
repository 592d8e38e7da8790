import { resolve } from 'node:path';
import type { Config } from '../config.ts';
import { ConfigurationError } from '../errors.ts';
import type { ExportGroupRef } from './types.ts';

/** The content type of an export file, as the import request states it. */
export const EXPORT_CONTENT_TYPE = 'application/gzip';

/**
 * Where a group's users file of a date goes: `exports/users/<domainId>/<groupId>/users_<date>.csv.gz` in the
 * export bucket (`EXPORT_BUCKET`, else the staging bucket), or without a bucket, in local mode only, under the
 * local home folder's `objects/`. The group id is URI-encoded so that it stays one key segment.
 */
export function exportFileLocation(
  cfg: Pick<Config, 'exportBucket' | 'stagingBucket' | 'localHome' | 'localMode'>,
  group: Pick<ExportGroupRef, 'domainId' | 'groupId'>,
  date: string,
): { uri: string; fileName: string } {
  const fileName = `users_${date}.csv.gz`;
  const parts = ['exports', 'users', group.domainId, encodeURIComponent(group.groupId), fileName];
  const bucket = cfg.exportBucket ?? cfg.stagingBucket;
  if (bucket) return { uri: `s3://${bucket}/${parts.join('/')}`, fileName };
  if (!cfg.localMode) {
    // Named, not read from CONFIG_ENV: the config module (and zod) would follow into export-summary's bundle.
    throw new ConfigurationError('EXPORT_BUCKET is not set', { variable: 'EXPORT_BUCKET' });
  }
  return { uri: resolve(cfg.localHome, 'objects', ...parts), fileName };
}

/** `YYYY-MM-DD` of an instant in a time zone. */
export function dateIn(instant: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).formatToParts(instant);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')}`;
}
