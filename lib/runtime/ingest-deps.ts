import { type IdempotentStarter, idempotencyOptions, withIdempotency } from '../aws/idempotent-starter.ts';
import { sqsDeadLetters } from '../aws/sqs-dead-letters.ts';
import { stepFunctionsStarter } from '../aws/step-functions.ts';
import type { Config } from '../config.ts';
import { ConfigurationError } from '../errors.ts';
import type { IngestDeps } from '../ingest/ingest-records.ts';
import { referenceStager } from '../jobs/reference-list.ts';
import { configuredObjectStore } from '../storage/configured-store.ts';

/** What the ingest functions on AWS share: an idempotent Step Functions starter and the SQS dead letters. */
export interface AwsIngestDeps extends IngestDeps {
  readonly starter: IdempotentStarter;
  readonly dlqUrl: string;
}

/**
 * Wires ingest for a Lambda (ingest, object-created, dlq-replay) from its configuration; fails at cold start
 * when the state machine or the dead-letter queue is not configured.
 */
export function awsIngestDeps(cfg: Config): AwsIngestDeps {
  if (!cfg.importStateMachineArn || !cfg.ingestDlqUrl) {
    throw new ConfigurationError('ingest needs IMPORT_STATE_MACHINE_ARN and INGEST_DLQ_URL');
  }
  return {
    starter: withIdempotency(
      stepFunctionsStarter(
        {
          nodes: cfg.importStateMachineArn,
          ...(cfg.matchImportStateMachineArn ? { matches: cfg.matchImportStateMachineArn } : {}),
          ...(cfg.erasureStateMachineArn ? { erasure: cfg.erasureStateMachineArn } : {}),
        },
        cfg.awsRegion,
      ),
      idempotencyOptions(cfg),
    ),
    deadLetters: sqsDeadLetters(cfg.ingestDlqUrl, cfg.awsRegion),
    allowLocalFiles: false,
    pipelineBucket: cfg.stagingBucket,
    matchTopics: new Set(cfg.matchImportTopics),
    erasureTopics: new Set(cfg.erasureTopics),
    ...(cfg.stagingBucket ? { stageReferences: referenceStager(configuredObjectStore(cfg), cfg) } : {}),
    dlqUrl: cfg.ingestDlqUrl,
  };
}
