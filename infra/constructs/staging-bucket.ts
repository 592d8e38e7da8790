import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';

/**
 * Key prefixes of the bucket and how long objects under each are kept: `redrive` ones as long as an execution
 * that reads them can be redriven, the others as long as the records they belong to (the retention settings).
 */
export const BUCKET_PREFIXES = {
  /** Uploaded import files (manual drops, the sources of upload-started jobs). */
  incoming: { prefix: 'incoming/', keep: 'redrive' },
  /** What running jobs read again: decompressed parts, staged reference lists, API uploads, batch outputs. */
  staging: { prefix: 'staging/', keep: 'redrive' },
  /** Complete success/failed lists of finished jobs (`…/reports/<jobId>/failed.csv`): as long as the jobs. */
  reports: { prefix: 'reports/', keep: 'importJobs' },
  /** The daily user export's files (`exports/users/…`): as long as the export runs that wrote them. */
  exports: { prefix: 'exports/', keep: 'exportRuns' },
} as const;

export interface StagingBucketProps {
  /** Days `incoming/` and `staging/` objects are kept: longer than the 14 days of Step Functions' redrive. */
  readonly redriveRetentionDays: number;
  /** Days job reports are kept: the retention of import jobs (`retention.importJobsDays`). */
  readonly importJobsDays: number;
  /** Days exported files are kept: the retention of export runs (`retention.exportRunsDays`). */
  readonly exportRunsDays: number;
}

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

  constructor(scope: Construct, id: string, props: StagingBucketProps) {
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
      lifecycleRules: Object.entries(BUCKET_PREFIXES).map(([name, { prefix, keep }]) => ({
        id: name,
        prefix,
        expiration: Duration.days(
          keep === 'redrive'
            ? props.redriveRetentionDays
            : keep === 'importJobs'
              ? props.importJobsDays
              : props.exportRunsDays,
        ),
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
