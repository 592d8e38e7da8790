import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';

/** Key prefixes of the bucket and how many days objects under each are kept. */
export const BUCKET_PREFIXES = {
  /** Uploaded import files (bulk API uploads, manual drops). */
  incoming: { prefix: 'incoming/', expireDays: 7 },
  /** Intermediate parts of running jobs (large reference lists, batch outputs). */
  staging: { prefix: 'staging/', expireDays: 1 },
  /** Complete success/failed lists of finished jobs (`…/reports/<jobId>/failed.csv`). */
  reports: { prefix: 'reports/', expireDays: 90 },
} as const;

/** How long the bucket's server access logs are kept. */
const ACCESS_LOG_DAYS = 90;

/**
 * The pipeline's own bucket: private, encrypted, TLS-only, every object event sent to EventBridge, and a
 * lifecycle per prefix so nothing outlives its use.
 */
export class StagingBucket extends Construct {
  readonly bucket: s3.Bucket;
  /** Server access logs of {@link bucket}. */
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'expire', expiration: Duration.days(ACCESS_LOG_DAYS) }],
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'staging-bucket/',
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      eventBridgeEnabled: true,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: Object.entries(BUCKET_PREFIXES).map(([name, { prefix, expireDays }]) => ({
        id: name,
        prefix,
        expiration: Duration.days(expireDays),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      })),
    });
  }

  /** Lets a function read and write the bucket, and find it through STAGING_BUCKET. */
  bind(fn: lambda.Function): void {
    this.bucket.grantReadWrite(fn);
    fn.addEnvironment(CONFIG_ENV.stagingBucket, this.bucket.bucketName);
  }
}
