import { sqsDeadLetters } from '../../lib/aws/sqs-dead-letters.ts';
import { stepFunctionsStarter } from '../../lib/aws/step-functions.ts';
import { config } from '../../lib/config.ts';
import { ConfigurationError } from '../../lib/errors.ts';
import { type IngestOutcome, ingestRecords, type MskEvent } from '../../lib/ingest/ingest-records.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

const cfg = config();
if (!cfg.importStateMachineArn || !cfg.ingestDlqUrl) {
  throw new ConfigurationError('ingest needs IMPORT_STATE_MACHINE_ARN and INGEST_DLQ_URL');
}
const deps = {
  starter: stepFunctionsStarter(cfg.importStateMachineArn, cfg.awsRegion),
  deadLetters: sqsDeadLetters(cfg.ingestDlqUrl, cfg.awsRegion),
  allowLocalFiles: false,
};

/** MSK event-source target: each valid request starts one import execution; invalid ones are dead-lettered. */
export const handler = lambdaHandler((event: MskEvent): Promise<IngestOutcome> => ingestRecords(event, deps));
