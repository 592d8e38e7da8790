import { join } from 'node:path';
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type { Construct } from 'constructs';
import { CONFIG_ENV } from '../../lib/config.ts';
import { NODE_UPLOAD_PREFIX } from '../../lib/ingest/object-created.ts';
import type { HandlerName, InfraConfig } from '../config.ts';
import { BulkApi } from '../constructs/bulk-api.ts';
import { Database, type DatabaseAccess } from '../constructs/database.ts';
import { DatabaseMigrations } from '../constructs/database-migrations.ts';
import { ERASURE_WORKFLOW } from '../constructs/erasure-state-machine.ts';
import { IdempotencyTable } from '../constructs/idempotency-table.ts';
import { ImportStateMachine } from '../constructs/import-state-machine.ts';
import { IngestDeadLetters } from '../constructs/ingest-dead-letters.ts';
import { IngestTriggers } from '../constructs/ingest-triggers.ts';
import { MATCH_IMPORT_WORKFLOW } from '../constructs/match-import-state-machine.ts';
import { MatchbridgeFunction, PROJECT_ROOT } from '../constructs/matchbridge-function.ts';
import { Monitoring } from '../constructs/monitoring.ts';
import type { Network } from '../constructs/network.ts';
import { Retention } from '../constructs/retention.ts';
import { SourceBuckets } from '../constructs/source-buckets.ts';
import type { StagingBucket } from '../constructs/staging-bucket.ts';
import { StatusPublishing } from '../constructs/status-publishing.ts';
import { UploadTrigger } from '../constructs/upload-trigger.ts';
import { UserExport } from '../constructs/user-export.ts';
import type { NamingStack } from '../naming.ts';

/** MSK's IAM listener port. */
const MSK_IAM_PORT = 9098;

export interface PipelineStackProps extends StackProps {
  readonly config: InfraConfig;
  /** The functions' network; none on the LocalStack target. */
  readonly network?: Network;
  readonly database: DatabaseAccess;
  readonly staging: StagingBucket;
}

/** Construct ids of the functions, by handler name. */
const FUNCTION_IDS: Record<HandlerName, string> = {
  ingest: 'Ingest',
  'object-created': 'ObjectCreated',
  'dlq-replay': 'DlqReplay',
  plan: 'Plan',
  'load-batch': 'LoadBatch',
  'plan-matches': 'PlanMatches',
  'load-match-batch': 'LoadMatchBatch',
  finalize: 'Finalize',
  'fail-job': 'FailJob',
  'plan-erasure': 'PlanErasure',
  'erase-batch': 'EraseBatch',
  'finalize-erasure': 'FinalizeErasure',
  migrate: 'Migrate',
  'export-plan': 'ExportPlan',
  'export-group': 'ExportGroup',
  'export-group-failed': 'ExportGroupFailed',
  'export-summary': 'ExportSummary',
  api: 'Api',
  prune: 'Prune',
};

/** Functions that write to Kafka (status messages, export requests): with MSK, in its clients' group. */
const KAFKA_WRITERS: ReadonlySet<HandlerName> = new Set([
  'finalize',
  'fail-job',
  'finalize-erasure',
  'export-group',
]);

/** Functions that never touch the database: no credentials, no way in through its security group. */
const WITHOUT_DATABASE: ReadonlySet<HandlerName> = new Set([
  'object-created',
  'dlq-replay',
  'export-summary',
]);

/** Functions the import Maps run many at once: each gets its share of the database's connections. */
const BATCH_FUNCTIONS: ReadonlySet<HandlerName> = new Set(['load-batch', 'load-match-batch', 'erase-batch']);

/** The pipeline's tuning, set on every function (names from `lib/config.ts`). */
function pipelineEnvironment(config: InfraConfig): Record<string, string> {
  return {
    [CONFIG_ENV.splitBytes]: String(config.splitBytes),
    [CONFIG_ENV.maxBatches]: String(config.maxBatches),
    [CONFIG_ENV.dbBatchRows]: String(config.dbBatchRows),
    [CONFIG_ENV.matchBatchRows]: String(config.matchBatchRows),
    [CONFIG_ENV.statusListCap]: String(config.statusListCap),
    [CONFIG_ENV.toleratedFailurePercent]: String(config.toleratedFailurePercent),
  };
}

/**
 * The stateless half: the functions, the migrations run on deploy, the import state machine, and ingest
 * (MSK event sources, S3 upload events, the idempotency table and the dead-letter queues).
 */
export class PipelineStack extends Stack implements NamingStack {
  readonly namePrefix: string;
  readonly functions: Readonly<Record<HandlerName, MatchbridgeFunction>>;
  readonly importStateMachine: ImportStateMachine;
  readonly matchImportStateMachine: ImportStateMachine;
  readonly erasureStateMachine: ImportStateMachine;
  readonly migrations: DatabaseMigrations;
  readonly deadLetters: IngestDeadLetters;
  readonly idempotency: IdempotencyTable;
  readonly uploads: UploadTrigger;
  readonly statusPublishing: StatusPublishing;
  readonly monitoring: Monitoring;
  readonly userExport: UserExport;
  readonly bulkApi: BulkApi;
  readonly retention: Retention;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config, database, staging } = props;
    this.namePrefix = `matchbridge-${config.envName}`;
    this.monitoring = new Monitoring(this, 'Monitoring', {
      alarmEmails: config.alarmEmails,
      ...(props.database instanceof Database && props.database.proxy
        ? { proxyName: props.database.proxy.dbProxyName }
        : {}),
      ...(props.database instanceof Database && props.database.instance
        ? { databaseInstanceId: props.database.instance.instanceIdentifier }
        : {}),
    });
    if (database instanceof Database) {
      const borrowLatency = database.borrowLatencyAlarm(this);
      if (borrowLatency) this.monitoring.addAlarm(borrowLatency);
    }
    const sources = new SourceBuckets(this, 'Sources', { bucketNames: config.sourceBucketNames });

    const kafkaClients = this.#kafkaClients(config, props.network);
    const create = (handlerName: HandlerName, bundledFolders: readonly string[] = []) => {
      const fn = new MatchbridgeFunction(this, FUNCTION_IDS[handlerName], {
        handlerName,
        ...(kafkaClients && KAFKA_WRITERS.has(handlerName) ? { securityGroups: [kafkaClients] } : {}),
        settings: config.functions[handlerName],
        ...(props.network ? { vpc: props.network.vpc, vpcSubnets: props.network.functionSubnets } : {}),
        logRetention: config.logRetentionDays,
        environment: pipelineEnvironment(config),
        bundledFolders,
      });
      if (handlerName === 'migrate') database.bindMigrator(fn);
      else if (BATCH_FUNCTIONS.has(handlerName)) database.bindBatch(fn);
      else if (!WITHOUT_DATABASE.has(handlerName)) database.bind(fn);
      return fn;
    };

    const migrate = create('migrate', ['migrations']);
    this.migrations = new DatabaseMigrations(this, 'Migrations', {
      handler: migrate,
      migrationsDir: join(PROJECT_ROOT, 'migrations'),
      roleSetupFile: join(PROJECT_ROOT, 'lib', 'db', 'roles.ts'),
      logRetention: config.logRetentionDays,
    });

    const plan = create('plan');
    const loadBatch = create('load-batch');
    for (const fn of [plan, loadBatch]) sources.grantRead(fn);
    const planMatches = create('plan-matches');
    const loadMatchBatch = create('load-match-batch');
    for (const fn of [planMatches, loadMatchBatch]) sources.grantRead(fn);
    const finalize = create('finalize');
    const failJob = create('fail-job');
    for (const fn of [plan, loadBatch, planMatches, loadMatchBatch, finalize, failJob]) staging.bind(fn);
    this.statusPublishing = new StatusPublishing(this, 'StatusPublishing', {
      ...(config.mskClusterArn ? { mskClusterArn: config.mskClusterArn } : {}),
      ...(config.mskBootstrapBrokers ? { mskBootstrapBrokers: config.mskBootstrapBrokers } : {}),
      topics: config.statusTopics,
      eventBusName: config.eventBusName,
      ...(config.target === 'localstack' ? { plaintextBrokers: config.localstack.kafkaBrokers } : {}),
    });
    const planErasure = create('plan-erasure');
    const eraseBatch = create('erase-batch');
    const finalizeErasure = create('finalize-erasure');
    for (const fn of [planErasure, eraseBatch, finalizeErasure]) staging.bind(fn);
    for (const fn of [finalize, failJob, finalizeErasure]) this.statusPublishing.bind(fn);

    // An execution that timed out, was aborted or failed past every Catch never ran FailJob: the rule on
    // ended executions hands it to FailJob too, which fails a job left PROCESSING and publishes its status.
    this.monitoring.executionFailureRule.addTarget(
      new targets.LambdaFunction(failJob, {
        deadLetterQueue: this.monitoring.executionFailures,
        retryAttempts: 8,
        maxEventAge: Duration.hours(24),
      }),
    );
    this.importStateMachine = new ImportStateMachine(this, 'Import', {
      plan,
      loadBatch,
      finalize,
      failJob,
      mapConcurrency: config.mapConcurrency,
      loadBatchTimeout: Duration.seconds(config.loadBatchTaskTimeoutSeconds),
      timeout: Duration.minutes(config.stateMachineTimeoutMinutes),
      logRetention: config.logRetentionDays,
    });
    this.matchImportStateMachine = new ImportStateMachine(
      this,
      'MatchImport',
      {
        plan: planMatches,
        loadBatch: loadMatchBatch,
        finalize,
        failJob,
        mapConcurrency: config.mapConcurrency,
        loadBatchTimeout: Duration.seconds(config.functions['load-match-batch'].timeoutSeconds + 60),
        timeout: Duration.minutes(config.stateMachineTimeoutMinutes),
        logRetention: config.logRetentionDays,
      },
      MATCH_IMPORT_WORKFLOW,
    );
    this.erasureStateMachine = new ImportStateMachine(
      this,
      'Erasure',
      {
        plan: planErasure,
        loadBatch: eraseBatch,
        finalize: finalizeErasure,
        failJob: finalizeErasure,
        mapConcurrency: config.mapConcurrency,
        loadBatchTimeout: Duration.seconds(config.functions['erase-batch'].timeoutSeconds + 60),
        // The local runner bounds a task without TimeoutSeconds to 60 s; finalize filters reports for minutes.
        stepTimeout: Duration.seconds(config.functions['finalize-erasure'].timeoutSeconds + 60),
        timeout: Duration.minutes(config.stateMachineTimeoutMinutes),
        logRetention: config.logRetentionDays,
      },
      ERASURE_WORKFLOW,
    );

    const ingest = create('ingest');
    const objectCreated = create('object-created');
    const dlqReplay = create('dlq-replay');
    this.deadLetters = new IngestDeadLetters(this, 'IngestDeadLetters');
    this.idempotency = new IdempotencyTable(this, 'Idempotency', {
      ttl: Duration.seconds(config.idempotencyTtlSeconds),
    });
    // Every function that starts imports shares the idempotency records: a job id started by one is a
    // duplicate for the others (an upload event replayed from the dead letters, say).
    for (const fn of [ingest, objectCreated, dlqReplay]) {
      this.importStateMachine.bindStarter(fn);
      this.matchImportStateMachine.bindStarter(fn);
      this.idempotency.bind(fn);
    }
    // Erasures arrive on their topics (and replays of them), never as uploads.
    for (const fn of [ingest, dlqReplay]) this.erasureStateMachine.bindStarter(fn);
    // Reference requests (from a message or a replayed letter) stage their list before the job starts.
    for (const fn of [ingest, dlqReplay]) staging.bind(fn);
    this.deadLetters.bind(ingest);
    this.deadLetters.bind(objectCreated);
    this.deadLetters.bindReplayer(dlqReplay);
    this.uploads = new UploadTrigger(this, 'Uploads', {
      bucket: staging.bucket,
      prefix: NODE_UPLOAD_PREFIX,
      handler: objectCreated,
      failures: this.deadLetters.failures,
    });
    const triggers = new IngestTriggers(this, 'IngestTriggers', {
      ingest,
      failures: this.deadLetters.failures,
      mskClusterArn: config.mskClusterArn,
      topics: [...config.nodeImportTopics, ...config.matchImportTopics, ...config.erasureTopics],
      consumerGroupPrefix: this.stackName,
      startingPosition: config.kafkaIngest.startingPosition,
      pollers: { minimum: config.kafkaIngest.minimumPollers, maximum: config.kafkaIngest.maximumPollers },
      retryAttempts: config.kafkaIngest.maximumRetryAttempts,
      maxRecordAge: Duration.seconds(config.kafkaIngest.maximumRecordAgeSeconds),
      offsetLagAlarmThreshold: config.kafkaIngest.offsetLagAlarmThreshold,
    });
    for (const alarm of triggers.offsetLagAlarms) this.monitoring.addAlarm(alarm);
    // Ingest (and replay) tell a match request from a node request by the topic it arrived on.
    for (const fn of [ingest, dlqReplay]) {
      fn.addEnvironment(CONFIG_ENV.matchImportTopics, config.matchImportTopics.join(','));
      fn.addEnvironment(CONFIG_ENV.erasureTopics, config.erasureTopics.join(','));
    }

    // The bulk HTTP API: starts node and match imports and erasures, stages uploads and exports, keeps idempotency keys.
    const api = create('api');
    staging.bind(api);
    sources.grantRead(api);
    this.importStateMachine.bindStarter(api);
    this.matchImportStateMachine.bindStarter(api);
    this.erasureStateMachine.bindStarter(api);
    this.idempotency.bind(api);
    this.deadLetters.bindOperator(api, dlqReplay);
    this.bulkApi = new BulkApi(this, 'BulkApi', { handler: api, logRetention: config.logRetentionDays });

    // Nothing may run against an old schema: imports start only once the migrations of this deploy ran.
    this.importStateMachine.stateMachine.node.addDependency(this.migrations.resource);
    this.matchImportStateMachine.stateMachine.node.addDependency(this.migrations.resource);
    this.erasureStateMachine.stateMachine.node.addDependency(this.migrations.resource);

    const exportPlan = create('export-plan');
    const exportGroup = create('export-group');
    const exportGroupFailed = create('export-group-failed');
    const exportSummary = create('export-summary');
    this.userExport = new UserExport(this, 'UserExport', {
      plan: exportPlan,
      exportGroup,
      groupFailed: exportGroupFailed,
      summarize: exportSummary,
      mapConcurrency: config.userExport.mapConcurrency,
      scheduleExpression: config.userExport.schedule,
      timeZone: config.userExport.timeZone,
      fullOnSchedule: config.userExport.fullOnSchedule,
      canSend:
        config.target === 'localstack' ||
        (config.mskClusterArn !== undefined && (config.mskBootstrapBrokers?.length ?? 0) > 0),
      exportGroupTimeout: Duration.seconds(config.functions['export-group'].timeoutSeconds + 60),
      timeout: Duration.minutes(config.stateMachineTimeoutMinutes),
      logRetention: config.logRetentionDays,
    });
    this.userExport.bindExporter(exportGroup, staging.bucket, {
      ...(config.mskClusterArn ? { mskClusterArn: config.mskClusterArn } : {}),
      ...(config.mskBootstrapBrokers ? { mskBootstrapBrokers: config.mskBootstrapBrokers } : {}),
      defaultTopic: config.userExport.topic,
      ...(config.target === 'localstack' ? { plaintextBrokers: config.localstack.kafkaBrokers } : {}),
    });
    exportPlan.addEnvironment(CONFIG_ENV.exportTimeZone, config.userExport.timeZone);
    exportGroup.addEnvironment(CONFIG_ENV.exportMessageMaxBytes, String(config.userExport.messageMaxBytes));
    exportGroup.addEnvironment(CONFIG_ENV.exportBatchRows, String(config.userExport.batchRows));
    exportGroup.addEnvironment(CONFIG_ENV.exportRowsPerFunction, String(config.userExport.rowsPerFunction));
    this.userExport.stateMachine.node.addDependency(this.migrations.resource);

    const prune = create('prune');
    this.retention = new Retention(this, 'Retention', {
      prune,
      scheduleExpression: config.retention.schedule,
      importJobsDays: config.retention.importJobsDays,
      matchJobsDays: config.retention.matchJobsDays,
      exportRunsDays: config.retention.exportRunsDays,
    });

    this.functions = {
      ingest,
      'object-created': objectCreated,
      'dlq-replay': dlqReplay,
      plan,
      'load-batch': loadBatch,
      'plan-matches': planMatches,
      'load-match-batch': loadMatchBatch,
      finalize,
      'fail-job': failJob,
      'plan-erasure': planErasure,
      'erase-batch': eraseBatch,
      'finalize-erasure': finalizeErasure,
      migrate,
      'export-plan': exportPlan,
      'export-group': exportGroup,
      'export-group-failed': exportGroupFailed,
      'export-summary': exportSummary,
      api,
      prune,
    };
    // A function updated by this deploy reads the schema of this deploy: each waits for the migrations.
    for (const [name, fn] of Object.entries(this.functions)) {
      if (name !== 'migrate') fn.node.addDependency(this.migrations.resource);
    }
    // Last: every dead-letter queue, function and state machine above gets its alarm and dashboard widgets.
    this.monitoring.watch(this);
  }

  /**
   * With MSK, one security group for every function that writes to it; when the cluster's security group is
   * given, the rule that lets that group in on the IAM listener (9098), as for an existing database.
   */
  #kafkaClients(config: InfraConfig, network: Network | undefined): ec2.SecurityGroup | undefined {
    if (!config.mskClusterArn || !network) return undefined;
    const clients = new ec2.SecurityGroup(this, 'KafkaClients', {
      vpc: network.vpc,
      description: 'Matchbridge functions that write to MSK (status messages, export requests)',
      allowAllOutbound: true,
    });
    if (config.mskSecurityGroupId) {
      new ec2.CfnSecurityGroupIngress(this, 'MskIngressFromKafkaClients', {
        groupId: config.mskSecurityGroupId,
        ipProtocol: 'tcp',
        fromPort: MSK_IAM_PORT,
        toPort: MSK_IAM_PORT,
        sourceSecurityGroupId: clients.securityGroupId,
        description: 'Matchbridge functions to the MSK IAM listener',
      });
    }
    return clients;
  }
}
