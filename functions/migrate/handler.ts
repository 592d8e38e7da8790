import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { migrateWhenReachable } from '../../lib/db/migrate.ts';
import { logger } from '../../lib/observability/logger.ts';
import { resolveDatabaseUrl, setUpDatabaseRoles } from '../../lib/runtime/deps.ts';
import { requireHandlerConfig } from '../../lib/runtime/handler-config.ts';
import { lambdaHandler } from '../../lib/runtime/lambda-handler.ts';

const cfg = requireHandlerConfig('migrate');

/** Custom resource: applies pending migrations on every deploy, before any function runs on the schema. */
export const handler = lambdaHandler(
  async (event: CloudFormationCustomResourceEvent): Promise<{ PhysicalResourceId: string }> => {
    const physicalResourceId = 'matchbridge-schema';
    if (event.RequestType !== 'Delete') {
      // The URL is made again for each attempt: it carries a fresh IAM token. The roles come first: the
      // migrations run as the migrator role, which the master user creates.
      await migrateWhenReachable(async () => {
        await setUpDatabaseRoles(cfg);
        return resolveDatabaseUrl(cfg);
      });
      logger.info('migrations applied', { requestType: event.RequestType });
    }
    return { PhysicalResourceId: physicalResourceId };
  },
);
