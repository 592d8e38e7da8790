import { S3Client } from '@aws-sdk/client-s3';

/** Options for the S3 client: an endpoint for S3-compatible stores (MinIO, LocalStack, tests). */
export interface S3ClientOptions {
  readonly region: string;
  readonly endpoint?: string;
  readonly forcePathStyle?: boolean;
}

/** An S3 client; checksums only when required, since S3-compatible stores and range reads reject the rest. */
export function createS3Client(options: S3ClientOptions): S3Client {
  return new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
