import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateQueueCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { freePort } from '../free-port.ts';
import { type MavenProgram, resolveMavenArtifacts } from '../maven/artifacts.ts';
import { ElasticMqUnavailableError } from './elasticmq-unavailable-error.ts';

/** ElasticMQ's server: the pom whose runtime dependencies are its classpath. */
export const ELASTICMQ_PROGRAM: MavenProgram = {
  name: 'elasticmq',
  pom: join(import.meta.dirname, 'pom.xml'),
  versionProperty: 'elasticmq.version',
  unavailable: (reason, options) => new ElasticMqUnavailableError(reason, options),
};

/** The account id ElasticMQ puts in queue URLs and ARNs. */
export const ELASTICMQ_ACCOUNT = '000000000000';
const READY_TIMEOUT_MS = 90_000;

/** A running ElasticMQ: the SQS API at `endpoint`, queues created by {@link ElasticMq.createQueue}. */
export interface ElasticMq {
  readonly endpoint: string;
  readonly client: SQSClient;
  /** Creates a queue (a FIFO one when the name ends in `.fifo`) and returns its URL. */
  createQueue(name: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts ElasticMQ in memory on 127.0.0.1 from the jars in `.cache/elasticmq/` and resolves once its SQS API
 * answers. The server never outlives this process: it is killed on exit.
 */
export async function startElasticMq(): Promise<ElasticMq> {
  const { classpath } = await resolveMavenArtifacts(ELASTICMQ_PROGRAM);
  const dir = await mkdtemp(join(tmpdir(), 'mb-elasticmq-'));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const conf = join(dir, 'elasticmq.conf');
  await writeFile(
    conf,
    [
      'include classpath("application.conf")',
      `node-address { protocol = http, host = 127.0.0.1, port = ${port}, context-path = "" }`,
      `rest-sqs { enabled = true, bind-port = ${port}, bind-hostname = "127.0.0.1", sqs-limits = strict }`,
      'rest-stats { enabled = false }',
      `aws { region = us-east-1, accountId = ${ELASTICMQ_ACCOUNT} }`,
      '',
    ].join('\n'),
  );
  const logFile = join(dir, 'elasticmq.log');
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      'java',
      [
        '-Xmx256m',
        '-XX:+UseSerialGC',
        `-Dconfig.file=${conf}`,
        '-cp',
        classpath,
        'org.elasticmq.server.Main',
      ],
      { stdio: ['ignore', log, log] },
    );
  } catch (error) {
    throw new ElasticMqUnavailableError(`java could not be started: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    closeSync(log);
  }
  child.unref();
  const kill = (): void => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', kill);
  const client = new SQSClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'elasticmq', secretAccessKey: 'elasticmq' },
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) {
      kill();
      const output = await readFile(logFile, 'utf8').catch(() => '');
      throw new ElasticMqUnavailableError(`the server did not start:\n${output.slice(-2000)}`);
    }
    try {
      await client.send(new ListQueuesCommand({}));
      break;
    } catch {
      await sleep(250);
    }
  }
  return {
    endpoint,
    client,
    async createQueue(name) {
      const fifo = name.endsWith('.fifo');
      const created = await client.send(
        new CreateQueueCommand({ QueueName: name, ...(fifo ? { Attributes: { FifoQueue: 'true' } } : {}) }),
      );
      if (!created.QueueUrl) throw new Error(`ElasticMQ returned no URL for queue ${name}`);
      return created.QueueUrl;
    },
    async stop() {
      client.destroy();
      process.off('exit', kill);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
