import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { Admin } from '@platformatic/kafka';
import type pg from 'pg';
import {
  type CfnTemplate,
  type ExtractedStateMachine,
  extractStateMachines,
  readTemplatesFromCdkOut,
} from '../../../infra/definitions.ts';
import { METADATA_KEYS } from '../../../infra/metadata.ts';
import { type LocalExecutionOutcome, runSynthesizedMachine } from '../../../lib/local/local-runner.ts';
import { cdkSynth } from '../../support/cdk-synth.ts';
import { startDynalite, type TestDynamo } from '../../support/dynalite.ts';
import { type ElasticMq, startElasticMq } from '../../support/elasticmq/elasticmq.ts';
import { type KafkaBroker, startKafkaBroker } from '../../support/kafka-broker.ts';
import { startTestS3, type TestS3 } from '../../support/s3.ts';
import { AwsApiError, AwsApiStandIn } from './aws-api-stand-in.ts';
import { type DatabaseStandIn, startDatabaseStandIn } from './database-stand-in.ts';
import { matchesPattern } from './event-pattern.ts';
import { type FunctionSpec, LambdaService } from './lambda-runtime.ts';
import { MskMappingStandIn } from './msk-mapping.ts';
import { createStandInCertificate } from './stand-in-certificate.ts';
import { ACCOUNT, REGION, StandInNames } from './stand-in-names.ts';

/** How an execution of the stand-in Step Functions ended. */
export type ExecutionOutcome = LocalExecutionOutcome;

interface Execution {
  readonly machine: string;
  readonly arn: string;
  readonly outcome: Promise<ExecutionOutcome>;
}

/** A deployed-like Matchbridge: the synthesized assembly running on local stand-ins. */
export interface Assembly {
  readonly outdir: string;
  readonly templates: Readonly<Record<string, CfnTemplate>>;
  readonly names: StandInNames;
  readonly lambda: LambdaService;
  readonly db: DatabaseStandIn;
  /** The application database, as a superuser. */
  readonly pool: pg.Pool;
  readonly s3: TestS3;
  readonly sqs: ElasticMq;
  /** The state machines of the template, by `matchbridge:state-machine` name. */
  readonly machines: Readonly<Record<string, ExtractedStateMachine>>;
  /** Events the functions put on EventBridge. */
  readonly putEvents: Record<string, unknown>[];
  /** When set, PutEvents answers with this error (an EventBridge outage). */
  eventBridgeFailure: AwsApiError | undefined;
  /** The physical name of the one bucket, queue, … whose logical id starts with `prefix`. */
  bucket(prefix: string): string;
  queueUrl(prefix: string): string;
  /** The broker standing in for MSK: `bootstrap` (plaintext, for the tests), `mskIamBootstrap` (the functions'). */
  readonly kafka: KafkaBroker;
  /**
   * The event-source mapping of `topic` hands the next `records` records read off the broker to its function;
   * returns the payloads of its invocations.
   */
  deliverKafka(topic: string, records: number): Promise<unknown[]>;
  /** Delivers an event to every enabled rule whose pattern matches it; returns the functions invoked. */
  deliverEvent(event: Record<string, unknown>): Promise<string[]>;
  /**
   * What EventBridge Scheduler does when the schedule whose logical id starts with `construct` (its construct's
   * id, e.g. `UserExport`) fires: starts its target state machine with its input (the scheduled time filled
   * in); returns the execution's name.
   */
  fireSchedule(construct: string): string;
  /** The outcome of the execution named `name` (a job id), once it has ended. */
  execution(name: string): Promise<ExecutionOutcome>;
  /** Waits for every execution and asynchronous invocation under way. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** The execution role's temporary credentials; s3rver checks signatures against its one fixed key pair. */
const CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_SESSION_TOKEN: 'assembly-stand-in-session',
};

/** How to synthesize the assembly, where a test needs other settings than the default deploy's. */
export interface AssemblyOptions {
  /**
   * CDK context entries passed to `cdk synth` as `-c key=value`, besides (or instead of) the MSK cluster and
   * its VPC the suite configures: a string as it is, anything else as JSON (how infra/config.ts reads an
   * object such as `userExport` from the command line); an entry set to `undefined` is left out. Unset, the
   * assembly is what `cdk deploy` ships by default.
   */
  readonly context?: Readonly<Record<string, unknown>>;
}

/**
 * `cdk synth` (with an MSK cluster configured, and the context of `options`) into a temporary folder, then the
 * cloud assembly started on stand-ins: PostgreSQL behind a TLS proxy for RDS/RDS Proxy, s3rver for S3, dynalite
 * for DynamoDB, ElasticMQ for SQS, an Apache Kafka broker with an IAM-token listener for MSK (its event-source
 * mappings read off it by {@link MskMappingStandIn}), and this process for Step Functions
 * (aws-local-stepfunctions running the template's definitions), EventBridge and Lambda's API. Every function
 * runs its bundled asset (see {@link LambdaService}); the migrations run as CloudFormation runs them, through
 * the migrate function's custom resource.
 */
export async function startAssembly(options: AssemblyOptions = {}): Promise<Assembly> {
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    return await assemble(cleanups, options);
  } catch (error) {
    await stopAll(cleanups);
    throw error;
  }
}

/** Runs the clean-ups of what was started, last started first, whatever fails among them. */
async function stopAll(cleanups: (() => Promise<unknown>)[]): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
}

async function assemble(cleanups: (() => Promise<unknown>)[], options: AssemblyOptions): Promise<Assembly> {
  const certificate = await createStandInCertificate();
  cleanups.push(() => certificate.remove());
  const kafka = await startKafkaBroker({
    mskIam: { keyAndCertificateFile: certificate.keyAndCertificateFile },
  });
  cleanups.push(() => kafka.stop());
  const outdir = await mkdtemp(join(tmpdir(), 'mb-assembly-'));
  cleanups.push(() => rm(outdir, { recursive: true, force: true }));
  // The production shape: an MSK cluster whose IAM listener is the broker's stand-in listener, in the
  // cluster's (existing) VPC.
  const context: Record<string, unknown> = {
    mskClusterArn: `arn:aws:kafka:${REGION}:${ACCOUNT}:cluster/assembly/0b1c2d3e-assembly-1`,
    mskBootstrapBrokers: kafka.mskIamBootstrap,
    vpc: {
      vpcId: 'vpc-0a55e3b1c0ffee000',
      availabilityZones: [`${REGION}a`, `${REGION}b`],
      privateSubnetIds: ['subnet-0a55e3b1a', 'subnet-0a55e3b1b'],
    },
    ...options.context,
  };
  await cdkSynth(
    outdir,
    Object.entries(context)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`),
  );
  const templates = readTemplatesFromCdkOut(outdir);

  const sqs = await startElasticMq();
  cleanups.push(() => sqs.stop());
  const names = new StandInNames(templates, sqs.endpoint);
  const buckets = names.resources('AWS::S3::Bucket').map(({ logicalId }) => names.bucketName(logicalId));
  const [first = 'mb-assets', ...others] = buckets;
  const s3 = await startTestS3(first);
  cleanups.push(() => s3.close());
  for (const bucket of others) await s3.client.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const { stackName, logicalId, resource } of names.resources('AWS::SQS::Queue')) {
    await sqs.createQueue(names.queueName(stackName, logicalId, resource));
  }
  const tables = names.resources('AWS::DynamoDB::Table');
  if (tables.length !== 1 || !tables[0])
    throw new Error(`expected one DynamoDB table, found ${tables.length}`);
  const dynamo: TestDynamo = await startDynalite(names.tableName(tables[0].stackName, tables[0].logicalId));
  cleanups.push(() => dynamo.close());

  const ours = names
    .resources('AWS::Lambda::Function')
    .filter(({ resource }) => typeof resource.Metadata?.[METADATA_KEYS.handler] === 'string');
  const environments = ours.map(({ stackName, resource }) =>
    names.resolveAll(
      stackName,
      ((resource.Properties?.Environment as { Variables?: Record<string, unknown> })?.Variables ??
        {}) as Record<string, unknown>,
    ),
  );
  const dbVariables = environments.find((env) => env.DB_HOST !== undefined);
  if (!dbVariables) throw new Error('no function of the assembly reaches the database');
  const master = environments.find((env) => env.DB_ADMIN_USER !== undefined)?.DB_ADMIN_USER;
  if (!master) throw new Error('no function of the assembly signs in as the master user');
  const db = await startDatabaseStandIn({
    certificate,
    port: Number(dbVariables.DB_PORT ?? 5432),
    database: dbVariables.DB_NAME ?? 'matchbridge',
    master,
    users: [...new Set(environments.flatMap((env) => (env.DB_USER ? [env.DB_USER] : [])))],
  });
  cleanups.push(() => db.stop());

  const functions: FunctionSpec[] = ours.map(({ stackName, logicalId, resource }, i) => {
    const properties = resource.Properties ?? {};
    return {
      name: names.functionName(stackName, logicalId),
      handlerName: String(resource.Metadata?.[METADATA_KEYS.handler]),
      handler: String(properties.Handler),
      assetDir: join(outdir, String(resource.Metadata?.['aws:asset:path'])),
      timeoutSeconds: Number(properties.Timeout ?? 3),
      memoryMiB: Number(properties.MemorySize ?? 128),
      environment: environments[i] ?? {},
    };
  });

  const executions = new Map<string, Execution>();
  const background = new Set<Promise<unknown>>();
  const track = <T>(promise: Promise<T>): Promise<T> => {
    background.add(promise);
    promise.finally(() => background.delete(promise)).catch(() => undefined);
    return promise;
  };
  const putEvents: Record<string, unknown>[] = [];
  const machines = extractStateMachines(templates);
  const machineByArn = new Map<string, string>();
  for (const { stackName, logicalId, resource } of names.resources('AWS::StepFunctions::StateMachine')) {
    const name = resource.Metadata?.[METADATA_KEYS.stateMachine];
    if (typeof name === 'string') machineByArn.set(names.stateMachineArn(stackName, logicalId), name);
  }

  let lambda: LambdaService;
  let deliverEvent: Assembly['deliverEvent'];
  // Each generated secret (the master user's, the roles') gets a password, as Secrets Manager makes one.
  const secrets = new Map<string, string>();
  for (const { logicalId, resource } of names.resources('AWS::SecretsManager::Secret')) {
    const generate = resource.Properties?.GenerateSecretString as
      | { SecretStringTemplate?: string }
      | undefined;
    if (!generate?.SecretStringTemplate) continue;
    const password = randomBytes(18).toString('base64url');
    secrets.set(
      names.secretArn(logicalId),
      JSON.stringify({ ...JSON.parse(generate.SecretStringTemplate), password }),
    );
  }
  const api = new AwsApiStandIn({
    getSecretValue(secretId) {
      const secret = secrets.get(secretId);
      if (secret === undefined) throw new AwsApiError('ResourceNotFoundException', `no secret ${secretId}`);
      return secret;
    },
    startExecution({ stateMachineArn, name, input }) {
      const machine = machineByArn.get(stateMachineArn);
      if (!machine) throw new AwsApiError('StateMachineDoesNotExist', `no state machine ${stateMachineArn}`);
      if (executions.has(name)) {
        throw new AwsApiError('ExecutionAlreadyExists', `execution ${name} already exists`);
      }
      const arn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${stateMachineArn.split(':').pop()}:${name}`;
      const outcome = track(
        runSynthesizedMachine(machines[machine] as ExtractedStateMachine, JSON.parse(input), {
          executionName: name,
          executionArn: arn,
          invokeTask: async (_state, handlerName, taskInput) =>
            (await lambda.invoke(lambda.byHandler(handlerName).name, taskInput)).payload,
        }).then(async (result) => {
          if (result.status === 'FAILED') {
            // Step Functions puts the status change on the default bus; the monitoring rule takes it from there.
            await deliverEvent({
              version: '0',
              id: `status-${name}`,
              'detail-type': 'Step Functions Execution Status Change',
              source: 'aws.states',
              account: ACCOUNT,
              time: new Date().toISOString(),
              region: REGION,
              resources: [arn],
              detail: {
                executionArn: arn,
                stateMachineArn,
                name,
                status: 'FAILED',
                startDate: Date.now(),
                stopDate: Date.now(),
                input,
                error: result.error,
                cause: result.cause,
              },
            }).catch(() => undefined);
          }
          return result;
        }),
      );
      executions.set(name, { machine, arn, outcome });
      return { executionArn: arn };
    },
    putEvents(entries) {
      if (assembly.eventBridgeFailure) throw assembly.eventBridgeFailure;
      putEvents.push(...entries);
    },
    async invoke(functionName, invocationType, payload) {
      const fn = [...functions].find((f) => f.name === functionName || functionName.endsWith(`:${f.name}`));
      if (!fn) throw new AwsApiError('ResourceNotFoundException', `no function ${functionName}`, 404);
      if (invocationType !== 'Event') return (await lambda.invoke(fn.name, payload)).payload;
      track(invokeAsync(fn, payload));
      return null;
    },
  });
  await api.start();
  cleanups.push(() => api.stop());

  lambda = new LambdaService(functions, {
    region: REGION,
    variables: {
      ...CREDENTIALS,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SFN: api.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: api.endpoint,
      AWS_ENDPOINT_URL_LAMBDA: api.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: api.endpoint,
      NODE_EXTRA_CA_CERTS: certificate.certFile,
    },
  });
  cleanups.push(() => lambda.close());

  /** Lambda's asynchronous invocation: retried per the function's EventInvokeConfig, then its on-failure queue. */
  async function invokeAsync(fn: FunctionSpec, payload: unknown): Promise<void> {
    const config = names
      .resources('AWS::Lambda::EventInvokeConfig')
      .find(
        ({ stackName, resource }) => names.resolve(stackName, resource.Properties?.FunctionName) === fn.name,
      );
    const retries = Number(config?.resource.Properties?.MaximumRetryAttempts ?? 2);
    let lastError: Error | undefined;
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        await lambda.invoke(fn.name, payload);
        return;
      } catch (error) {
        lastError = error as Error;
      }
    }
    const destination = (
      config?.resource.Properties?.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined
    )?.OnFailure?.Destination;
    if (config && destination !== undefined) {
      const arn = names.resolve(config.stackName, destination);
      const queueName = arn.split(':').pop() ?? '';
      await sqs.client.send(
        new SendMessageCommand({
          QueueUrl: `${sqs.endpoint}/${ACCOUNT}/${queueName}`,
          MessageBody: JSON.stringify({
            version: '1.0',
            requestContext: {
              functionArn: fn.name,
              condition: 'RetriesExhausted',
              approximateInvokeCount: retries + 1,
            },
            requestPayload: payload,
            responseContext: { functionError: 'Unhandled' },
            responsePayload: { errorType: lastError?.name, errorMessage: lastError?.message },
          }),
        }),
      );
    }
  }

  const mappings = names.resources('AWS::Lambda::EventSourceMapping').map(
    ({ stackName, logicalId, resource }) =>
      new MskMappingStandIn(
        {
          logicalId,
          functionName: names.resolve(stackName, resource.Properties?.FunctionName).split(':').pop() ?? '',
          topics: (resource.Properties?.Topics as string[] | undefined) ?? [],
          startingPosition: String(resource.Properties?.StartingPosition ?? 'LATEST'),
          batchSize: Number(resource.Properties?.BatchSize ?? 100),
        },
        kafka.bootstrap,
      ),
  );
  // The cluster's topics exist before anything uses them (MSK creates none on first use): those the mappings
  // read and those the functions' variables name.
  const named = environments.flatMap((env) =>
    Object.entries(env)
      .filter(([variable]) => /_TOPICS?$/.test(variable))
      .flatMap(([, value]) => value.split(',')),
  );
  const admin = new Admin({ clientId: 'assembly-admin', bootstrapBrokers: [kafka.bootstrap] });
  try {
    const existing = new Set(await admin.listTopics());
    const wanted = [...mappings.flatMap((m) => m.spec.topics), ...named].map((t) => t.trim());
    const topics = [...new Set(wanted)].filter((t) => t !== '' && !existing.has(t));
    if (topics.length > 0) await admin.createTopics({ topics, partitions: 1, replicas: 1 });
  } finally {
    await admin.close();
  }
  for (const mapping of mappings) {
    await mapping.start();
    cleanups.push(() => mapping.close());
  }

  deliverEvent = async (event) => {
    const invoked: string[] = [];
    for (const { stackName, resource } of names.resources('AWS::Events::Rule')) {
      const properties = resource.Properties ?? {};
      if (properties.State === 'DISABLED' || properties.EventPattern === undefined) continue;
      const pattern = resolveDeep(names, stackName, properties.EventPattern);
      if (!matchesPattern(pattern, event)) continue;
      for (const target of (properties.Targets ?? []) as { Arn: unknown; Input?: unknown }[]) {
        const arn = names.resolve(stackName, target.Arn);
        const fn = functions.find((f) => arn.endsWith(`:function:${f.name}`));
        if (!fn) continue;
        const input = target.Input === undefined ? event : JSON.parse(names.resolve(stackName, target.Input));
        await track(invokeAsync(fn, input));
        invoked.push(fn.handlerName);
      }
    }
    return invoked;
  };

  const assembly: Assembly = {
    outdir,
    templates,
    names,
    lambda,
    db,
    pool: db.admin,
    s3,
    sqs,
    machines,
    putEvents,
    eventBridgeFailure: undefined,
    bucket: (prefix) =>
      only(
        buckets.filter((b) => b.startsWith(`mb-${prefix.toLowerCase()}`)),
        prefix,
      ),
    queueUrl: (prefix) =>
      only(
        names
          .resources('AWS::SQS::Queue')
          .filter(({ logicalId }) => logicalId.startsWith(prefix))
          .map(({ stackName, logicalId, resource }) => names.queueUrl(stackName, logicalId, resource)),
        prefix,
      ),
    deliverEvent: (event) => deliverEvent(event),
    kafka,
    async deliverKafka(topic, records) {
      const mapping = mappings.filter((m) => m.spec.topics.includes(topic));
      if (mapping.length !== 1 || !mapping[0]) {
        throw new Error(`expected one event-source mapping of topic ${topic}, found ${mapping.length}`);
      }
      return mapping[0].deliver(records, async (name, event) => (await lambda.invoke(name, event)).payload);
    },
    fireSchedule(construct) {
      const schedules = names
        .resources('AWS::Scheduler::Schedule')
        .filter(({ logicalId }) => logicalId.startsWith(construct));
      if (schedules.length !== 1 || !schedules[0])
        throw new Error(`expected one schedule of ${construct}, found ${schedules.length}`);
      const { stackName, resource } = schedules[0];
      const target = resource.Properties?.Target as { Arn: unknown; Input?: string };
      const name = `schedule-${Date.now()}`;
      api.operations.startExecution({
        stateMachineArn: names.resolve(stackName, target.Arn),
        name,
        input: (target.Input ?? '{}').replaceAll('<aws.scheduler.scheduled-time>', new Date().toISOString()),
      });
      return name;
    },
    async execution(name) {
      const execution = executions.get(name);
      if (!execution) throw new Error(`no execution named ${name} was started`);
      return execution.outcome;
    },
    async settled() {
      while (background.size > 0) await Promise.allSettled([...background]);
    },
    async close() {
      await assembly.settled().catch(() => undefined);
      await stopAll(cleanups);
    },
  };

  // What CloudFormation does on deploy: the migrations custom resource invokes the migrate function.
  await lambda.invoke(lambda.byHandler('migrate').name, {
    RequestType: 'Create',
    ServiceToken: 'assembly',
    ResponseURL: 'https://cloudformation-custom-resource-response.invalid/',
    StackId: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/assembly/1`,
    RequestId: 'create-1',
    LogicalResourceId: 'Migrations',
    ResourceType: 'Custom::MatchbridgeMigrations',
    ResourceProperties: { ServiceToken: 'assembly' },
  });
  return assembly;
}

/** Resolves intrinsics anywhere in a value (an event pattern holds them among plain objects and arrays). */
function resolveDeep(names: StandInNames, stackName: string, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveDeep(names, stackName, item));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && (keys[0] === 'Ref' || keys[0]?.startsWith('Fn::'))) {
    return names.resolve(stackName, value);
  }
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, resolveDeep(names, stackName, item)]),
  );
}

function only(found: readonly string[], prefix: string): string {
  if (found.length !== 1 || found[0] === undefined) {
    throw new Error(`expected one resource starting with ${prefix}, found ${found.length}`);
  }
  return found[0];
}
