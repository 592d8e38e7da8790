import type { Node } from 'constructs';
import { z } from 'zod';
import { ConfigurationError } from '../lib/errors.ts';
import {
  DEPLOY_MIN_SPLIT_BYTES,
  KAFKA_TOPIC_PATTERN,
  NUMERIC_SETTINGS,
  type NumericSettingName,
  RETENTION_DEFAULTS,
  RETENTION_MAX_DAYS,
  TEXT_SETTINGS,
  withinBounds,
} from '../lib/settings.ts';
import { withPreset } from './presets.ts';

/**
 * The infrastructure configuration: read once from CDK context (`cdk.json` "context", overridden by
 * `-c key=value`), validated at synth time, frozen. Values given with `-c` arrive as strings, so numbers,
 * booleans, lists and objects also accept their string (or JSON) form.
 */

/** Names of the Lambda functions; each lives in `functions/<name>/handler.ts` and exports `handler`. */
export const HANDLER_NAMES = [
  'ingest',
  'object-created',
  'dlq-replay',
  'plan',
  'load-batch',
  'plan-matches',
  'load-match-batch',
  'finalize',
  'fail-job',
  'plan-erasure',
  'erase-batch',
  'finalize-erasure',
  'migrate',
  'export-plan',
  'export-group',
  'export-group-failed',
  'export-summary',
  'api',
  'prune',
] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

/** Retention periods CloudWatch Logs accepts (days). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const KAFKA_TOPIC = KAFKA_TOPIC_PATTERN;

const numberFromString = (value: unknown): unknown =>
  typeof value === 'string' && value.trim() !== '' ? Number(value) : value;

const booleanFromString = (value: unknown): unknown =>
  value === 'true' ? true : value === 'false' ? false : value;

const jsonFromString = (value: unknown): unknown => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
};

/** A list given as a JSON array, or (from `-c`) as `a,b,c`. */
const listFromString = (value: unknown): unknown => {
  if (typeof value !== 'string') return value;
  if (value.trim().startsWith('[')) return jsonFromString(value);
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
};

const int = (min: number, max: number) => z.preprocess(numberFromString, z.number().int().min(min).max(max));
/** A setting of the table the functions share (lib/settings.ts), with its default; `min` narrows it for a deploy. */
const shared = (name: NumericSettingName, min?: number) =>
  z.preprocess(numberFromString, withinBounds(name, z.number(), min)).default(NUMERIC_SETTINGS[name].default);
const bool = () => z.preprocess(booleanFromString, z.boolean());
const list = <T extends z.ZodType>(item: T, min = 0) => z.preprocess(listFromString, z.array(item).min(min));
const object = <T extends z.ZodType>(schema: T) => z.preprocess(jsonFromString, schema);

/** Fills in `mode` when omitted: the presence of the identifying field says which variant is meant. */
const withMode = (identifying: string) => (value: unknown) => {
  const parsed = jsonFromString(value);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || 'mode' in parsed)
    return parsed;
  return { ...parsed, mode: identifying in parsed ? 'existing' : 'new' };
};

const VpcSchema = z.preprocess(
  withMode('vpcId'),
  z.discriminatedUnion('mode', [
    z.strictObject({
      mode: z.literal('new'),
      maxAzs: int(2, 6).default(2),
      /**
       * NAT gateways for the functions' subnets. 0 (the default): the functions get isolated subnets and reach
       * AWS APIs only through the VPC endpoints, so the pipeline needs no NAT.
       */
      natGateways: int(0, 6).default(0),
      /**
       * Interface endpoints (Secrets Manager, SQS, Step Functions, EventBridge, Lambda) besides the S3 and
       * DynamoDB gateways.
       */
      interfaceEndpoints: bool().default(true),
    }),
    z
      .strictObject({
        mode: z.literal('existing'),
        vpcId: z.string().regex(/^vpc-[0-9a-f]+$/, 'expected a VPC id (vpc-…)'),
        availabilityZones: list(z.string().min(1), 1),
        privateSubnetIds: list(z.string().regex(/^subnet-[0-9a-f]+$/, 'expected subnet ids (subnet-…)'), 1),
        /**
         * Create the interface endpoints in this VPC too. Off by default: a shared VPC usually has them, and a
         * second endpoint with private DNS for the same service fails to create.
         */
        interfaceEndpoints: bool().default(false),
        /** The VPC's CIDR block: the interface endpoints accept HTTPS from it. */
        cidrBlock: z
          .string()
          .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'expected a CIDR block such as 10.0.0.0/16')
          .optional(),
      })
      .refine((vpc) => vpc.privateSubnetIds.length % vpc.availabilityZones.length === 0, {
        path: ['privateSubnetIds'],
        message: 'expected one subnet (or the same number of subnets) per availability zone',
      })
      .refine((vpc) => !vpc.interfaceEndpoints || vpc.cidrBlock !== undefined, {
        path: ['cidrBlock'],
        message: 'needed with interfaceEndpoints (the endpoints accept HTTPS from the VPC)',
      }),
  ]),
);

const DatabaseSchema = z.preprocess(
  withMode('host'),
  z.discriminatedUnion('mode', [
    z.strictObject({
      mode: z.literal('new'),
      databaseName: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/)
        .default('matchbridge'),
      engineMajorVersion: z.enum(['16', '17']).default('17'),
      instanceType: z
        .string()
        .regex(/^[a-z0-9]+\.[a-z0-9]+$/, 'expected an instance type such as m7g.large')
        .default('m7g.large'),
      allocatedStorageGiB: int(20, 65_536).default(100),
      maxAllocatedStorageGiB: int(20, 65_536).default(1000),
      multiAz: bool().default(false),
      deletionProtection: bool().default(false),
      backupRetentionDays: int(0, 35).default(7),
      /** Days between automatic rotations of the database secret (Secrets Manager single-user rotation). */
      rotationDays: int(1, 365).default(30),
      /** Share of the instance's `max_connections` RDS Proxy may open (its `MaxConnectionsPercent`). */
      maxConnectionsPercent: int(1, 100).default(90),
      /**
       * Connections through the proxy the batch functions (load-batch, load-match-batch) may hold at once,
       * half each: their reserved concurrency is their half over the connections one process keeps. Keep it
       * under the proxy's share of `max_connections`, leaving room for the other functions.
       */
      proxyConnections: int(4, 10_000).default(80),
    }),
    z.strictObject({
      mode: z.literal('existing'),
      databaseName: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/)
        .default('matchbridge'),
      host: z.string().min(1),
      port: int(1, 65_535).default(5432),
      /** Complete ARN (with its random suffix) of a secret holding `{username, password}`. */
      secretArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/, {
          message: 'expected the complete Secrets Manager secret ARN (ending in its 6-character suffix)',
        }),
      /** Security group of the database (or its proxy); the functions are allowed in on `port`. */
      securityGroupId: z.string().regex(/^sg-[0-9a-f]+$/, 'expected a security group id (sg-…)'),
    }),
  ]),
);

/** Timeout and memory of one Lambda function. */
const fn = (timeoutSeconds: number, memoryMiB: number) =>
  object(
    z.strictObject({
      timeoutSeconds: int(1, 900).default(timeoutSeconds),
      memoryMiB: int(128, 10_240).default(memoryMiB),
    }),
  ).prefault({});

const FunctionsSchema = object(
  z.strictObject({
    ingest: fn(60, 512),
    'object-created': fn(30, 256),
    // Replays up to 1000 letters per invocation, one start each.
    'dlq-replay': fn(300, 512),
    plan: fn(300, 1024),
    // 1769 MiB is one full vCPU: parsing and COPY are CPU-bound.
    'load-batch': fn(900, 1769),
    // Footer-only planning: two small range reads.
    'plan-matches': fn(120, 512),
    // Decodes one row group's columns at a time (Parquet pages, then COPY): CPU-bound, memory for the
    // decoded columns of a row group.
    'load-match-batch': fn(900, 2048),
    finalize: fn(300, 1024),
    'fail-job': fn(120, 512),
    // Reads the staged id list once to cut it into byte ranges.
    'plan-erasure': fn(300, 512),
    // Streams one range of ids, a bounded transaction per chunk: database-bound, flat memory.
    'erase-batch': fn(900, 1024),
    // Filters the scope's reports and deletes staged objects and export files.
    'finalize-erasure': fn(900, 1024),
    migrate: fn(600, 512),
    'export-plan': fn(60, 512),
    // Streams one group's users through csv-stringify and gzip into a multipart upload: CPU-bound, flat memory.
    'export-group': fn(900, 1769),
    'export-group-failed': fn(60, 256),
    'export-summary': fn(30, 256),
    // Streams exports for up to API Gateway's 15 minutes; runs users imports in its async invocations.
    api: fn(900, 1024),
    // Deletes in slices of a few thousand rows and stops before its deadline; the next day goes on.
    prune: fn(900, 512),
  }),
).prefault({});

/**
 * Retention (issue 19): the daily prune function and the bucket's lifecycle rules, from the same days
 * (defaults in lib/settings.ts, shared with the runtime's RETENTION_* settings).
 */
const RetentionSchema = object(
  z.strictObject({
    /** Finished import jobs (with their errors, batch records, status events) and their reports. */
    importJobsDays: int(1, RETENTION_MAX_DAYS).default(RETENTION_DEFAULTS.importJobsDays),
    /** Finished match import jobs. */
    matchJobsDays: int(1, RETENTION_MAX_DAYS).default(RETENTION_DEFAULTS.matchJobsDays),
    /** Finished export runs, the removal tombstones they sent, and the exported files. */
    exportRunsDays: int(1, RETENTION_MAX_DAYS).default(RETENTION_DEFAULTS.exportRunsDays),
    /** EventBridge Scheduler expression of the daily prune. */
    schedule: z
      .string()
      .regex(
        /^(cron|rate|at)\(.+\)$/,
        'expected an EventBridge Scheduler expression: cron(…), rate(…) or at(…)',
      )
      .default('cron(30 3 * * ? *)'),
  }),
).prefault({});

/**
 * The daily user export (issue 5): EventBridge Scheduler → the export state machine. One schema for the
 * construct (schedule, time zone, concurrency) and the export functions (topic, request size, fetch size).
 */
const UserExportSchema = object(
  z.strictObject({
    /** EventBridge Scheduler expression of the daily run. */
    schedule: z
      .string()
      .regex(
        /^(cron|rate|at)\(.+\)$/,
        'expected an EventBridge Scheduler expression: cron(…), rate(…) or at(…)',
      )
      .default('cron(20 23 * * ? *)'),
    /** IANA time zone of the schedule (and of the files' date). */
    timeZone: z
      .string()
      .refine((zone) => Intl.supportedValuesOf('timeZone').includes(zone) || zone === 'UTC', {
        message: 'expected an IANA time zone such as Asia/Kolkata',
      })
      .default(TEXT_SETTINGS.exportTimeZone),
    /** Groups exported at once (Map MaxConcurrency). */
    mapConcurrency: int(1, 40).default(4),
    /** The scheduled run exports everyone, not only the users changed since the last export. */
    fullOnSchedule: bool().default(false),
    /**
     * Topic of the import requests of groups that name none (by convention `<x>-users`); default: the first
     * of nodeImportTopics.
     */
    topic: z.string().regex(KAFKA_TOPIC, 'expected a Kafka topic name').optional(),
    /** Largest import request sent; a longer username list is split. At most what ingest accepts. */
    messageMaxBytes: shared('exportMessageMaxBytes'),
    /** Usernames fetched from the database cursor at a time. */
    batchRows: shared('exportBatchRows'),
    /** Most users one export function writes; a larger cost-based group is cut into key ranges. */
    rowsPerFunction: shared('exportRowsPerFunction'),
  }),
).prefault({});

/**
 * How the MSK event-source mappings consume the import-request topics (issue 16). Provisioned pollers: the
 * error-handling controls (retry limit, record age, bisect, partial batch responses) exist only in that mode.
 */
const KafkaIngestSchema = object(
  z.strictObject({
    /**
     * Where a mapping's new consumer group starts. `LATEST`: only requests written after the first deploy, so
     * a topic's retention is not imported again (docs/deploy.md: taking over from an existing consumer).
     */
    startingPosition: z.enum(['LATEST', 'TRIM_HORIZON']).default('LATEST'),
    minimumPollers: int(1, 200).default(1),
    maximumPollers: int(1, 2000).default(2),
    /** Retries of a failed batch (or of the failed records of a partial response) before the on-failure queue. */
    maximumRetryAttempts: int(0, 10_000).default(5),
    /** Older records go to the on-failure queue unprocessed (seconds; Lambda accepts 60 to 604,800). */
    maximumRecordAgeSeconds: int(60, 604_800).default(6 * 60 * 60),
    /** Records a mapping may lag behind its topic (OffsetLag, maximum over 5 minutes, 3 periods) before it alarms. */
    offsetLagAlarmThreshold: int(1, 100_000_000).default(1000),
  }),
)
  .prefault({})
  .refine((kafka) => kafka.minimumPollers <= kafka.maximumPollers, {
    path: ['maximumPollers'],
    message: 'must be at least minimumPollers',
  });

/** Local settings of the LocalStack target: what stands in for RDS and MSK (services of localstack/docker-compose.yml). */
const LocalStackSchema = object(
  z.strictObject({
    /** The compose PostgreSQL as the Lambda containers reach it. */
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\/.+/, 'expected a postgres:// URL')
      .default('postgres://matchbridge:matchbridge@postgres:5432/matchbridge'),
    /** The compose Kafka broker (plaintext) that status messages go to. */
    kafkaBrokers: list(z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'expected host:port brokers'), 1).default([
      'kafka:19092',
    ]),
  }),
).prefault({});

const InfraConfigSchema = z
  .object({
    /** Named defaults beneath the context: `dev` (the schema's defaults) or `prod` (infra/presets.ts). */
    preset: z.enum(['dev', 'prod']).default('dev'),
    /**
     * `aws`: the stacks as deployed with `cdk deploy`. `localstack`: for `cdklocal deploy` on LocalStack
     * Community: no VPC, RDS or MSK; the functions use `localstack.databaseUrl` and `localstack.kafkaBrokers`.
     */
    target: z.enum(['aws', 'localstack']).default('aws'),
    localstack: LocalStackSchema,
    /** Email addresses subscribed to the alarm topic. */
    alarmEmails: list(z.email('expected email addresses')).default([]),
    userExport: UserExportSchema,
    retention: RetentionSchema,
    /** Short name of the deployment; part of the stack names. */
    envName: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,19}$/, 'expected lower-case letters, digits and dashes (max 20)')
      .default('dev'),
    vpc: VpcSchema.prefault({ mode: 'new' }),
    database: DatabaseSchema.prefault({ mode: 'new' }),
    /** MSK cluster to consume import requests from; without it no event-source mapping is created. */
    mskClusterArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/.+/, 'expected an MSK cluster ARN')
      .optional(),
    /**
     * The MSK cluster's security group: the stack lets its Kafka clients in on 9098 (IAM listener). Without it,
     * the cluster's operators add that rule for the `KafkaClients` security group themselves.
     */
    mskSecurityGroupId: z
      .string()
      .regex(/^sg-[0-9a-f]{8,17}$/, 'expected a security group id')
      .optional(),
    /**
     * Bootstrap brokers of that cluster for IAM access (`b-1.….kafka.<region>.amazonaws.com:9098,…`). With them,
     * finalize and fail-job publish the status messages to Kafka; without them the messages are only recorded.
     */
    mskBootstrapBrokers: list(
      z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'expected host:port brokers'),
      1,
    ).optional(),
    kafkaIngest: KafkaIngestSchema,
    /** Topics of the status messages, by import kind. */
    statusTopics: object(
      z.strictObject({
        nodes: z
          .string()
          .regex(KAFKA_TOPIC, 'expected a Kafka topic name')
          .default(TEXT_SETTINGS.nodesStatusTopic),
        matches: z
          .string()
          .regex(KAFKA_TOPIC, 'expected a Kafka topic name')
          .default(TEXT_SETTINGS.matchesStatusTopic),
      }),
    ).prefault({}),
    /** EventBridge bus receiving an `ImportJobFinished` event per finished job (`default`: the account's). */
    eventBusName: z
      .string()
      .regex(/^[A-Za-z0-9._\-/]{1,256}$/, 'expected an event bus name')
      .default('default'),
    /** Topics carrying node import requests: one event-source mapping each. */
    nodeImportTopics: list(z.string().regex(KAFKA_TOPIC, 'expected Kafka topic names'), 1).default([
      ...TEXT_SETTINGS.nodeImportTopics,
    ]),
    /** Topics carrying match import requests (Parquet files): one event-source mapping each. */
    matchImportTopics: list(z.string().regex(KAFKA_TOPIC, 'expected Kafka topic names'), 1).default([
      ...TEXT_SETTINGS.matchImportTopics,
    ]),
    /** Topics carrying erasure requests (`*-erasures` by convention): one event-source mapping each. */
    erasureTopics: list(z.string().regex(KAFKA_TOPIC, 'expected Kafka topic names'), 1).default([
      ...TEXT_SETTINGS.erasureTopics,
    ]),
    splitBytes: shared('splitBytes', DEPLOY_MIN_SPLIT_BYTES),
    dbBatchRows: shared('dbBatchRows'),
    matchBatchRows: shared('matchBatchRows'),
    maxBatches: shared('maxBatches'),
    /** Batch Lambdas running at once per job (Distributed Map MaxConcurrency). */
    mapConcurrency: int(1, 10_000).default(8),
    statusListCap: shared('statusListCap'),
    toleratedFailurePercent: shared('toleratedFailurePercent'),
    /**
     * How long the idempotency table remembers a started job id (IDEMPOTENCY_TTL_SECONDS). Execution names
     * de-duplicate for 90 days anyway; this line answers duplicates without calling Step Functions.
     */
    idempotencyTtlSeconds: shared('idempotencyTtlSeconds'),
    functions: FunctionsSchema,
    /** TimeoutSeconds of the LoadBatch task; defaults to the load-batch Lambda timeout plus 60 s. */
    loadBatchTaskTimeoutSeconds: int(1, 86_400).optional(),
    stateMachineTimeoutMinutes: int(1, 525_600).default(360),
    logRetentionDays: z
      .preprocess(
        numberFromString,
        z.number().refine((days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days), {
          message: `expected one of ${LOG_RETENTION_DAYS.join(', ')}`,
        }),
      )
      .default(30),
    /**
     * Days the bucket keeps what a redriven execution reads again (`incoming/` sources, `staging/` parts, staged
     * lists, API uploads, batch outputs). Step Functions redrives an execution for 14 days: at least 15.
     */
    redriveRetentionDays: int(15, 3650).default(15),
    /** Buckets, besides the stack's own, that import files may be read from. */
    sourceBucketNames: list(
      z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected S3 bucket names'),
    ).default([]),
  })
  .transform((config) => ({
    ...config,
    loadBatchTaskTimeoutSeconds:
      config.loadBatchTaskTimeoutSeconds ?? config.functions['load-batch'].timeoutSeconds + 60,
    userExport: { ...config.userExport, topic: config.userExport.topic ?? config.nodeImportTopics[0] ?? '' },
  }))
  .refine((config) => config.loadBatchTaskTimeoutSeconds >= config.functions['load-batch'].timeoutSeconds, {
    path: ['loadBatchTaskTimeoutSeconds'],
    message: 'must be at least functions.load-batch.timeoutSeconds',
  })
  .refine((config) => config.mskBootstrapBrokers === undefined || config.mskClusterArn !== undefined, {
    path: ['mskBootstrapBrokers'],
    message: 'needs mskClusterArn (the IAM permissions are derived from it)',
  })
  .refine(
    (config) =>
      config.mskClusterArn === undefined || config.target !== 'aws' || config.vpc.mode === 'existing',
    {
      path: ['vpc'],
      message:
        "an MSK cluster is reached from inside its VPC: set vpc.vpcId, availabilityZones and privateSubnetIds to the cluster's VPC (a new VPC cannot reach it)",
    },
  )
  .refine((config) => config.mskSecurityGroupId === undefined || config.mskClusterArn !== undefined, {
    path: ['mskSecurityGroupId'],
    message: 'needs mskClusterArn',
  })
  .refine((config) => config.target === 'aws' || config.mskClusterArn === undefined, {
    path: ['mskClusterArn'],
    message: 'LocalStack Community has no MSK: use the kafka-bridge (see localstack/README.md)',
  });

/** The validated infrastructure configuration. */
export type InfraConfig = Readonly<z.output<typeof InfraConfigSchema>>;
export type VpcConfig = InfraConfig['vpc'];
export type DatabaseConfig = InfraConfig['database'];
export type FunctionSettings = InfraConfig['functions'][HandlerName];

/** Every context key the configuration reads (the top level of the schema). */
export const CONTEXT_KEYS = [
  'preset',
  'target',
  'localstack',
  'alarmEmails',
  'userExport',
  'retention',
  'envName',
  'vpc',
  'database',
  'mskClusterArn',
  'mskSecurityGroupId',
  'mskBootstrapBrokers',
  'kafkaIngest',
  'statusTopics',
  'eventBusName',
  'nodeImportTopics',
  'matchImportTopics',
  'erasureTopics',
  'splitBytes',
  'dbBatchRows',
  'matchBatchRows',
  'maxBatches',
  'mapConcurrency',
  'statusListCap',
  'toleratedFailurePercent',
  'idempotencyTtlSeconds',
  'functions',
  'loadBatchTaskTimeoutSeconds',
  'stateMachineTimeoutMinutes',
  'logRetentionDays',
  'redriveRetentionDays',
  'sourceBucketNames',
] as const satisfies readonly (keyof z.input<typeof InfraConfigSchema>)[];

/**
 * Validates raw context values. Throws ConfigurationError whose message and `details.keys` name every
 * offending context key (nested keys dotted: `functions.load-batch.timeoutSeconds`).
 */
export function parseInfraConfig(context: Readonly<Record<string, unknown>>): InfraConfig {
  const raw: Record<string, unknown> = {};
  for (const key of CONTEXT_KEYS) raw[key] = context[key] === null ? undefined : context[key];
  const parsed = InfraConfigSchema.safeParse(withPreset(raw));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({
      key: issue.path.map(String).join('.'),
      message: issue.message,
    }));
    const summary = problems.map((p) => `${p.key}: ${p.message}`).join('; ');
    throw new ConfigurationError(`invalid CDK context (cdk.json "context" or -c key=value): ${summary}`, {
      keys: problems.map((p) => p.key),
      problems,
    });
  }
  return Object.freeze(parsed.data);
}

/** Reads and validates the configuration from a construct's context (normally the App's). */
export function readInfraConfig(node: Node): InfraConfig {
  const context: Record<string, unknown> = {};
  for (const key of CONTEXT_KEYS) context[key] = node.tryGetContext(key);
  return parseInfraConfig(context);
}
