import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';

export interface IdempotencyTableProps {
  /** How long a started job id is remembered (the records' `expiration`). */
  readonly ttl: Duration;
}

/**
 * The Powertools idempotency records of job starts: partition key `id`, DynamoDB TTL on `expiration` (the
 * layout `DynamoDBPersistenceLayer` reads and writes). Records live a day by default, so the table is not
 * kept when the stack goes: execution names still de-duplicate for 90 days.
 */
export class IdempotencyTable extends Construct {
  readonly table: dynamodb.Table;
  private readonly ttl: Duration;

  constructor(scope: Construct, id: string, props: IdempotencyTableProps) {
    super(scope, id);
    this.ttl = props.ttl;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiration',
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  /**
   * Lets a function record job starts — only the item operations the persistence layer uses — and find the
   * table and the TTL through IDEMPOTENCY_TABLE and IDEMPOTENCY_TTL_SECONDS.
   */
  bind(fn: lambda.Function): void {
    this.table.grant(
      fn,
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
    );
    fn.addEnvironment(CONFIG_ENV.idempotencyTable, this.table.tableName);
    fn.addEnvironment(CONFIG_ENV.idempotencyTtlSeconds, String(this.ttl.toSeconds()));
  }
}
