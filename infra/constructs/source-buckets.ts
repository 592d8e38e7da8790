import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface SourceBucketsProps {
  /** Names of buckets owned elsewhere that import files may be read from. */
  readonly bucketNames: readonly string[];
}

/** Buckets, besides the pipeline's own, that hold import files (e.g. the daily user export's bucket). */
export class SourceBuckets extends Construct {
  readonly buckets: readonly s3.IBucket[];

  constructor(scope: Construct, id: string, props: SourceBucketsProps) {
    super(scope, id);
    this.buckets = props.bucketNames.map((name) => s3.Bucket.fromBucketName(this, name, name));
  }

  /** Lets a function read import files from every source bucket (the URI travels in the job input). */
  grantRead(fn: lambda.Function): void {
    for (const bucket of this.buckets) bucket.grantRead(fn);
  }
}
