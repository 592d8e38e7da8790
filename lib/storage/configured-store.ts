import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config.ts';
import type { ObjectStore } from './object-store.ts';
import { createS3Client } from './s3-client.ts';
import { createObjectStore } from './store.ts';

/** The object store of this process, from the configuration (S3 endpoint, region; local files in local mode). */
export function configuredObjectStore(
  cfg: Pick<Config, 'awsRegion' | 's3Endpoint' | 's3ForcePathStyle' | 'localMode'>,
): ObjectStore {
  let s3: S3Client | undefined;
  return createObjectStore({
    s3: () => {
      s3 ??= createS3Client({
        region: cfg.awsRegion,
        ...(cfg.s3Endpoint ? { endpoint: cfg.s3Endpoint } : {}),
        ...(cfg.s3ForcePathStyle !== undefined ? { forcePathStyle: cfg.s3ForcePathStyle } : {}),
      });
      return s3;
    },
    allowLocalFiles: cfg.localMode,
  });
}
