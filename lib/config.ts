import { z } from 'zod';
import { ConfigurationError } from './errors.ts';
import {
  KAFKA_TOPIC_PATTERN,
  NUMERIC_SETTINGS,
  type NumericSettingName,
  RETENTION_DEFAULTS,
  RETENTION_MAX_DAYS,
  TEXT_SETTINGS,
  withinBounds,
} from './settings.ts';

/**
 * Runtime configuration of every function and of the local command line. Read once, validated, frozen;
 * this module is the only reader of `process.env`.
 */
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** A comma-separated list of at least one item (blanks around items ignored). */
const commaList = (item: z.ZodString) =>
  z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== ''),
    )
    .pipe(z.array(item).min(1));

/** A setting of the shared table (lib/settings.ts): its default and bounds. */
const shared = (name: NumericSettingName) =>
  withinBounds(name, z.coerce.number()).default(NUMERIC_SETTINGS[name].default);

const kafkaTopic = z.string().regex(KAFKA_TOPIC_PATTERN, 'expected a Kafka topic name');

/** A retention period in days (lib/settings.ts). */
const retentionDays = (fallback: number) =>
  z.coerce.number().int().min(1).max(RETENTION_MAX_DAYS).default(fallback);

const ConfigSchema = z.object({
  /** Retention (the prune command and function): days finished import jobs are kept. */
  retentionImportJobsDays: retentionDays(RETENTION_DEFAULTS.importJobsDays),
  /** Days finished match import jobs are kept. */
  retentionMatchJobsDays: retentionDays(RETENTION_DEFAULTS.matchJobsDays),
  /** Days finished export runs (and the removal tombstones they sent) are kept. */
  retentionExportRunsDays: retentionDays(RETENTION_DEFAULTS.exportRunsDays),
  /** Days replayed letters stay in the local dead-letter queue. */
  retentionDeadLettersDays: retentionDays(RETENTION_DEFAULTS.deadLettersDays),
  /** `postgres://…` (local, tests) — when absent on AWS the DB_* variables and the secret are used. */
  databaseUrl: z.string().min(1).optional(),
  dbHost: z.string().min(1).optional(),
  dbPort: z.coerce.number().int().positive().default(5432),
  dbName: z.string().min(1).default('matchbridge'),
  /** Secrets Manager secret holding `{username, password}` for the database (RDS-generated secret). */
  dbSecretArn: z.string().min(1).optional(),
  dbSsl: z.enum(['off', 'require']).default('off'),
  /**
   * `true`: sign in to the database (RDS Proxy) with an IAM authentication token as `DB_USER` instead of the
   * secret's password, so a rotated secret never locks a warm function out.
   */
  dbIamAuth: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  /** The database user of IAM authentication. */
  dbUser: z.string().min(1).optional(),
  /**
   * The migrate function only: the master user it signs in as (IAM) to create the application and migrator
   * roles before it migrates as `DB_USER`, and the secrets holding those roles' passwords.
   */
  dbAdminUser: z.string().min(1).optional(),
  dbAppSecretArn: z.string().min(1).optional(),
  dbMigratorSecretArn: z.string().min(1).optional(),
  /** Connections one process keeps open (one Lambda handles one batch at a time, so few are needed). */
  dbPoolSize: positiveInt(2),
  /** Bucket for staging parts and job reports (`s3://<bucket>/staging/…`, `…/reports/…`). */
  stagingBucket: z.string().min(1).optional(),
  /** S3-compatible endpoint (MinIO, LocalStack, tests); unset means AWS S3. */
  s3Endpoint: z.url().optional(),
  s3ForcePathStyle: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
  awsRegion: z.string().min(1).default('us-east-1'),
  /** Local mode (the CLI): import files may be local paths, staging objects live under `localHome`. */
  localMode: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .default(false),
  /** Local mode's working folder: embedded database, local staging objects, local DLQ. */
  localHome: z.string().min(1).default('.matchbridge'),
  /**
   * Local mode: the timeout, in seconds, each handler is given as its Lambda's (its deadline comes from it)
   * instead of its state's `TimeoutSeconds` — to see locally how a batch that runs out of time ends.
   */
  localLambdaTimeoutSeconds: z.coerce.number().int().positive().optional(),
  splitBytes: shared('splitBytes'),
  maxBatches: shared('maxBatches'),
  dbBatchRows: shared('dbBatchRows'),
  /** A row group larger than this is split into parts of about this size. */
  matchBatchRows: shared('matchBatchRows'),
  /** Rows per database transaction for reference-list imports (ids only: many small rows). */
  referenceBatchRows: positiveInt(1000),
  /** Longest CSV record accepted, in bytes (bounds memory against a runaway quote). */
  maxRecordBytes: positiveInt(1024 * 1024),
  /**
   * Most uncompressed bytes per compressed byte of a .csv.gz (a CSV compresses 5–20×, a gzip bomb 1000×);
   * checked once the file has grown past 64 MiB uncompressed.
   */
  maxGzipRatio: positiveInt(200),
  statusListCap: shared('statusListCap'),
  toleratedFailurePercent: shared('toleratedFailurePercent'),
  importStateMachineArn: z.string().min(1).optional(),
  /** The match import state machine (`match-import`); match requests need it. */
  matchImportStateMachineArn: z.string().min(1).optional(),
  /** The erasure state machine (`erasure`); erasure requests need it. */
  erasureStateMachineArn: z.string().min(1).optional(),
  ingestDlqUrl: z.url().optional(),
  /** The dlq-replay function, which the API invokes when an operator replays the pending dead letters. */
  dlqReplayFunction: z.string().min(1).optional(),
  /**
   * DynamoDB table of the Powertools idempotency records that make a job start once per job id; unset means
   * de-duplication by execution name only (local mode without an emulator).
   */
  idempotencyTable: z.string().min(3).max(255).optional(),
  idempotencyTtlSeconds: shared('idempotencyTtlSeconds'),
  /** DynamoDB-compatible endpoint (dynalite, DynamoDB Local, tests); unset means AWS DynamoDB. */
  dynamodbEndpoint: z.url().optional(),
  /** Kafka bootstrap brokers (`host:port,host:port`); unset means status messages are recorded, not published. */
  kafkaBrokers: commaList(z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'expected host:port')).optional(),
  /** `none`: plaintext (local broker); `iam`: TLS with SASL/OAUTHBEARER tokens signed for MSK IAM access control. */
  kafkaAuth: z.enum(['none', 'iam']).default('none'),
  /** Client id the Kafka clients announce (broker logs, quotas). */
  kafkaClientId: z.string().min(1).max(255).default('matchbridge'),
  /** Topics carrying node import requests: what the local Kafka bridge consumes. */
  nodeImportTopics: commaList(kafkaTopic).default([...TEXT_SETTINGS.nodeImportTopics]),
  /** Topics carrying match import requests (Parquet files): ingest starts match imports for their records. */
  matchImportTopics: commaList(kafkaTopic).default([...TEXT_SETTINGS.matchImportTopics]),
  /** Topics carrying erasure requests (`*-erasures` by convention): ingest starts erasures for their records. */
  erasureTopics: commaList(kafkaTopic).default([...TEXT_SETTINGS.erasureTopics]),
  /** Topic of the status messages of node imports. */
  nodesStatusTopic: kafkaTopic.default(TEXT_SETTINGS.nodesStatusTopic),
  /** Topic of the status messages of match imports. */
  matchesStatusTopic: kafkaTopic.default(TEXT_SETTINGS.matchesStatusTopic),
  /** `__TypeId__` header of node status messages: the class Spring's JsonDeserializer maps the value to. */
  nodesStatusTypeId: z.string().min(1).default('com.matchbridge.imports.NodesImportStatus'),
  /** `__TypeId__` header of match status messages. */
  matchesStatusTypeId: z.string().min(1).default('com.matchbridge.imports.MatchesImportStatus'),
  /** EventBridge bus that also receives an `ImportJobFinished` event per finished job; unset means none. */
  eventBusName: z.string().min(1).max(1600).optional(),
  /** SQS queue of status messages that could not be delivered; unset means `<MATCHBRIDGE_HOME>/dlq/status.jsonl`. */
  statusDlqUrl: z.url().optional(),
  /** Attempts at delivering one status message before it is dead-lettered. */
  statusPublishAttempts: z.coerce.number().int().min(1).max(10).default(3),
  /** Wait before the second delivery attempt; doubled for each further one, at most 10 s. */
  statusPublishBackoffMs: z.coerce.number().int().min(0).max(10_000).default(1000),
  /** Bucket of the user export's files (`exports/users/…`); unset: the staging bucket, or locally the home folder. */
  exportBucket: z.string().min(1).optional(),
  /** Topic of the export's import requests when a group names none (by convention `<x>-users`). */
  exportTopic: kafkaTopic.default('matchbridge-users'),
  /** At most the import request limit of lib/settings.ts: ingest refuses anything bigger. */
  exportMessageMaxBytes: shared('exportMessageMaxBytes'),
  exportBatchRows: shared('exportBatchRows'),
  exportRowsPerFunction: shared('exportRowsPerFunction'),
  /** An incremental export also re-reads users changed this long before the last one began (late commits). */
  exportOverlapSeconds: z.coerce.number().int().min(0).max(86_400).default(300),
  /** Attempts at sending one import request to Kafka before the group's export fails. */
  exportSendAttempts: z.coerce.number().int().min(1).max(10).default(3),
  /** Wait before the second send attempt; doubled for each further one, at most 10 s. */
  exportSendBackoffMs: z.coerce.number().int().min(0).max(10_000).default(1000),
  /** Time zone of the date in an export's file name (the schedule's). */
  exportTimeZone: z.string().min(1).default(TEXT_SETTINGS.exportTimeZone),
  /** Largest request body the bulk HTTP API accepts (an uploaded file); larger ones get 413. */
  apiMaxBodyBytes: positiveInt(1024 * 1024 * 1024),
  /** Most rows a streamed export (`GET /v1/exports`) sends; more need the async export (413 says so). */
  apiStreamMaxRows: positiveInt(1_000_000),
  /**
   * The local API's bearer token: with it `matchbridge api` may listen beyond loopback, every request must
   * carry `Authorization: Bearer <token>`, and the `x-matchbridge-domain` header names the caller's domain.
   */
  apiToken: z.string().min(16, 'use at least 16 characters').max(512).optional(),
  /**
   * The one folder whose files (symlinks resolved) a local API `source_uri` may name; unset: no local path
   * is taken, only object-store URIs.
   */
  apiLocalImportRoot: z.string().min(1).optional(),
  /** The running Lambda's own name (set by the runtime): the API invokes itself to run accepted jobs. */
  lambdaFunctionName: z.string().min(1).optional(),
});

export type Config = Readonly<z.infer<typeof ConfigSchema>>;

const ENV_NAMES: Record<keyof z.input<typeof ConfigSchema>, string> = {
  databaseUrl: 'DATABASE_URL',
  dbHost: 'DB_HOST',
  dbPort: 'DB_PORT',
  dbName: 'DB_NAME',
  dbSecretArn: 'DB_SECRET_ARN',
  dbSsl: 'DB_SSL',
  dbIamAuth: 'DB_IAM_AUTH',
  dbUser: 'DB_USER',
  dbAdminUser: 'DB_ADMIN_USER',
  dbAppSecretArn: 'DB_APP_SECRET_ARN',
  dbMigratorSecretArn: 'DB_MIGRATOR_SECRET_ARN',
  dbPoolSize: 'DB_POOL_SIZE',
  stagingBucket: 'STAGING_BUCKET',
  s3Endpoint: 'S3_ENDPOINT',
  s3ForcePathStyle: 'S3_FORCE_PATH_STYLE',
  awsRegion: 'AWS_REGION',
  localMode: 'MATCHBRIDGE_LOCAL',
  localHome: 'MATCHBRIDGE_HOME',
  localLambdaTimeoutSeconds: 'LOCAL_LAMBDA_TIMEOUT_SECONDS',
  splitBytes: 'SPLIT_BYTES',
  maxBatches: 'MAX_BATCHES',
  dbBatchRows: 'DB_BATCH_ROWS',
  matchBatchRows: 'MATCH_BATCH_ROWS',
  referenceBatchRows: 'REFERENCE_BATCH_ROWS',
  maxRecordBytes: 'MAX_RECORD_BYTES',
  maxGzipRatio: 'MAX_GZIP_RATIO',
  statusListCap: 'STATUS_LIST_CAP',
  toleratedFailurePercent: 'TOLERATED_FAILURE_PERCENT',
  importStateMachineArn: 'IMPORT_STATE_MACHINE_ARN',
  matchImportStateMachineArn: 'MATCH_IMPORT_STATE_MACHINE_ARN',
  erasureStateMachineArn: 'ERASURE_STATE_MACHINE_ARN',
  ingestDlqUrl: 'INGEST_DLQ_URL',
  dlqReplayFunction: 'DLQ_REPLAY_FUNCTION',
  idempotencyTable: 'IDEMPOTENCY_TABLE',
  idempotencyTtlSeconds: 'IDEMPOTENCY_TTL_SECONDS',
  dynamodbEndpoint: 'DYNAMODB_ENDPOINT',
  kafkaBrokers: 'KAFKA_BROKERS',
  kafkaAuth: 'KAFKA_AUTH',
  kafkaClientId: 'KAFKA_CLIENT_ID',
  retentionImportJobsDays: 'RETENTION_IMPORT_JOBS_DAYS',
  retentionMatchJobsDays: 'RETENTION_MATCH_JOBS_DAYS',
  retentionExportRunsDays: 'RETENTION_EXPORT_RUNS_DAYS',
  retentionDeadLettersDays: 'RETENTION_DEAD_LETTERS_DAYS',
  nodeImportTopics: 'NODE_IMPORT_TOPICS',
  matchImportTopics: 'MATCH_IMPORT_TOPICS',
  erasureTopics: 'ERASURE_TOPICS',
  nodesStatusTopic: 'NODES_STATUS_TOPIC',
  matchesStatusTopic: 'MATCHES_STATUS_TOPIC',
  nodesStatusTypeId: 'NODES_STATUS_TYPE_ID',
  matchesStatusTypeId: 'MATCHES_STATUS_TYPE_ID',
  eventBusName: 'EVENT_BUS_NAME',
  statusDlqUrl: 'STATUS_DLQ_URL',
  statusPublishAttempts: 'STATUS_PUBLISH_ATTEMPTS',
  statusPublishBackoffMs: 'STATUS_PUBLISH_BACKOFF_MS',
  exportBucket: 'EXPORT_BUCKET',
  exportTopic: 'EXPORT_TOPIC',
  exportMessageMaxBytes: 'EXPORT_MESSAGE_MAX_BYTES',
  exportBatchRows: 'EXPORT_BATCH_ROWS',
  exportRowsPerFunction: 'EXPORT_ROWS_PER_FUNCTION',
  exportOverlapSeconds: 'EXPORT_INCREMENTAL_OVERLAP_SECONDS',
  exportSendAttempts: 'EXPORT_SEND_ATTEMPTS',
  exportSendBackoffMs: 'EXPORT_SEND_BACKOFF_MS',
  exportTimeZone: 'EXPORT_TIME_ZONE',
  apiMaxBodyBytes: 'API_MAX_BODY_BYTES',
  apiStreamMaxRows: 'API_STREAM_MAX_ROWS',
  apiToken: 'API_TOKEN',
  apiLocalImportRoot: 'API_LOCAL_IMPORT_ROOT',
  lambdaFunctionName: 'AWS_LAMBDA_FUNCTION_NAME',
};

/** Environment variable names, for infra code that sets them (one source of truth). */
export const CONFIG_ENV = ENV_NAMES;

/** Parses configuration from an environment (default `process.env`); throws ConfigurationError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, string | undefined> = {};
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    raw[key] = value === '' ? undefined : value;
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]) as keyof typeof ENV_NAMES;
      return `${ENV_NAMES[key] ?? key}: ${issue.message}`;
    });
    throw new ConfigurationError(`invalid configuration: ${problems.join('; ')}`, { problems });
  }
  return Object.freeze(parsed.data);
}

let cached: Config | undefined;

/**
 * Sets the process-wide configuration from the environment plus overrides. The local command line uses it
 * the way the Lambda runtime sets environment variables: before any handler runs.
 */
export function initConfig(overrides: Record<string, string>): Config {
  cached = loadConfig({ ...process.env, ...overrides });
  return cached;
}

/** The process-wide configuration, loaded on first use (cold start) and failing there when invalid. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}
