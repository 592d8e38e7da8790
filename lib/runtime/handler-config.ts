import { CONFIG_ENV, type Config, config } from '../config.ts';
import { ConfigurationError } from '../errors.ts';

/** A setting a function needs on AWS: one configuration key, or several of which any one will do. */
export type Requirement = keyof Config | readonly (keyof Config)[];

/** DATABASE_URL, or DB_HOST with the secret or IAM sign-in (checked when the pool is made). */
const DATABASE: Requirement = ['databaseUrl', 'dbHost'];

/**
 * What each function (`functions/<name>/handler.ts`) needs on AWS, checked at its cold start. The infra
 * tests hold every function's template environment to this table, so code and template cannot drift.
 */
export const HANDLER_REQUIREMENTS = {
  ingest: ['importStateMachineArn', 'ingestDlqUrl', 'stagingBucket'],
  'object-created': ['importStateMachineArn', 'ingestDlqUrl'],
  'dlq-replay': ['importStateMachineArn', 'ingestDlqUrl', 'stagingBucket'],
  plan: [DATABASE, 'stagingBucket'],
  'load-batch': [DATABASE, 'stagingBucket'],
  'plan-matches': [DATABASE, 'stagingBucket'],
  'load-match-batch': [DATABASE, 'stagingBucket'],
  finalize: [DATABASE, 'stagingBucket', 'statusDlqUrl'],
  'fail-job': [DATABASE, 'stagingBucket', 'statusDlqUrl'],
  'plan-erasure': [DATABASE, 'stagingBucket'],
  'erase-batch': [DATABASE, 'stagingBucket'],
  'finalize-erasure': [DATABASE, 'stagingBucket', 'statusDlqUrl'],
  migrate: [DATABASE],
  'export-plan': [DATABASE],
  'export-group': [DATABASE, ['exportBucket', 'stagingBucket'], 'kafkaBrokers'],
  'export-group-failed': [DATABASE],
  // Totals its input only: no configuration, and no config module (zod) in its bundle.
  'export-summary': [],
  api: [DATABASE, 'stagingBucket', 'importStateMachineArn', 'erasureStateMachineArn'],
  prune: [DATABASE],
} as const satisfies Record<string, readonly Requirement[]>;

/** A function of {@link HANDLER_REQUIREMENTS}. */
export type RequiringHandler = keyof typeof HANDLER_REQUIREMENTS;

/** The variable names of a requirement, as they are set: `STAGING_BUCKET`, `DATABASE_URL or DB_HOST`. */
export function requirementVariables(requirement: Requirement): readonly string[] {
  return (typeof requirement === 'string' ? [requirement] : requirement).map((key) => CONFIG_ENV[key]);
}

/**
 * The configuration of function `name`, checked against what it needs on AWS; throws ConfigurationError
 * naming every missing variable. Called at module scope, so a function with an incomplete environment fails
 * its cold start rather than its first job. Local mode (MATCHBRIDGE_LOCAL=true) is not checked: its entry
 * points set the database and stand in for buckets and queues.
 */
export function requireHandlerConfig(name: RequiringHandler, cfg: Config = config()): Config {
  if (cfg.localMode) return cfg;
  const missing = HANDLER_REQUIREMENTS[name]
    .filter((requirement) =>
      (typeof requirement === 'string' ? [requirement] : requirement).every((key) => cfg[key] === undefined),
    )
    .map((requirement) => requirementVariables(requirement).join(' or '));
  if (missing.length > 0) {
    throw new ConfigurationError(`${name} needs ${missing.join(', ')}`, { handler: name, missing });
  }
  return cfg;
}
