import { pathToFileURL } from 'node:url';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Config } from '../config.ts';
import { parseObjectUri } from './object-uri.ts';
import { createS3Client } from './s3-client.ts';

let client: S3Client | undefined;

/**
 * A link to download a stored object: a presigned S3 GET valid `expiresInSeconds`, or in local mode a
 * `file://` URL of the local object.
 */
export async function downloadUrl(
  cfg: Pick<Config, 'awsRegion' | 's3Endpoint' | 's3ForcePathStyle' | 'localMode'>,
  uri: string,
  expiresInSeconds: number,
): Promise<string> {
  const location = parseObjectUri(uri, { allowLocal: cfg.localMode });
  if (location.kind === 'file') return pathToFileURL(location.path).href;
  client ??= createS3Client({
    region: cfg.awsRegion,
    ...(cfg.s3Endpoint ? { endpoint: cfg.s3Endpoint } : {}),
    ...(cfg.s3ForcePathStyle !== undefined ? { forcePathStyle: cfg.s3ForcePathStyle } : {}),
  });
  return getSignedUrl(client, new GetObjectCommand({ Bucket: location.bucket, Key: location.key }), {
    expiresIn: expiresInSeconds,
  });
}
