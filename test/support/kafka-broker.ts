import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, rmSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin } from '@platformatic/kafka';
import { freePorts } from './free-port.ts';
import { resolveKafkaArtifacts } from './kafka/artifacts.ts';
import { KafkaUnavailableError } from './kafka/kafka-unavailable-error.ts';
import { runCommand } from './maven/run-command.ts';

export { KafkaUnavailableError } from './kafka/kafka-unavailable-error.ts';

/** A running single-node Kafka broker (KRaft, combined broker and controller) on 127.0.0.1. */
export interface KafkaBroker {
  /** `127.0.0.1:<port>`: the PLAINTEXT listener, for `bootstrapBrokers`. */
  readonly bootstrap: string;
  /** `127.0.0.1:<port>`: the MSK IAM stand-in (TLS + SASL/OAUTHBEARER), when asked for. */
  readonly mskIamBootstrap?: string;
  /** Stops the broker (SIGTERM, SIGKILL after a grace period), waits for it to exit, removes its data. Idempotent. */
  stop(): Promise<void>;
}

export interface StartKafkaBrokerOptions {
  /** Where to keep the broker's log after it stops; by default it lives, and is removed, with the broker's data. */
  logDir?: string;
  /**
   * Adds a listener that stands in for MSK's IAM listener (port 9098): TLS with this PEM file (private key and
   * certificate), SASL/OAUTHBEARER taking the tokens aws-msk-iam-sasl-signer-js signs (see
   * kafka/msk-iam/MskIamTokenValidator.java).
   */
  mskIam?: { readonly keyAndCertificateFile: string };
}

const MIN_JAVA = 17;
const NODE_ID = 1;
const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 15_000;
const START_ATTEMPTS = 3;
const LOG_TAIL_LINES = 60;
const LOG4J_CONFIG = join(import.meta.dirname, 'kafka', 'log4j2.properties');
// Tiered compilation stopped at C1 and the serial collector start a short-lived JVM faster; a test broker
// never runs long enough for C2 to pay off.
const JVM_FLAGS = [
  '-XX:TieredStopAtLevel=1',
  '-XX:+UseSerialGC',
  '-XX:-UsePerfData',
  '-Djava.awt.headless=true',
  `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
  // Log4j's own shutdown hook would stop logging while Kafka's hook is still shutting the broker down.
  '-Dlog4j2.shutdownHookEnabled=false',
];

/**
 * Starts a real Apache Kafka broker for integration tests, from the jars `mvn` resolves into `.cache/kafka/`, and
 * resolves once a metadata request answered with the broker in it. Throws {@link KafkaUnavailableError} when
 * Java 17+ or the jars are missing, or the broker does not become ready within 90 s (with its last log lines).
 * The broker never outlives this process: it is killed on exit, and by a watchdog if the process is killed.
 */
export async function startKafkaBroker(opts: StartKafkaBrokerOptions = {}): Promise<KafkaBroker> {
  await checkJava();
  const artifacts = await resolveKafkaArtifacts();
  const { version } = artifacts;
  const classpath = opts.mskIam
    ? `${artifacts.classpath}${delimiter}${await compileMskIamValidator(artifacts.classpath)}`
    : artifacts.classpath;
  const dir = await mkdtemp(join(tmpdir(), 'mb-kafka-'));
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  const cleanUp = async (): Promise<void> => {
    await rm(dir, { recursive: true, force: true });
    process.off('exit', removeDir);
  };
  try {
    if (opts.logDir) await mkdir(opts.logDir, { recursive: true });
    const logFile = join(opts.logDir ?? dir, `kafka-${version}-${process.pid}-${Date.now()}.log`);
    for (let attempt = 1; ; attempt++) {
      const started = await startOnce(dir, logFile, classpath, opts.mskIam);
      if (started.ok) {
        let stopping: Promise<void> | undefined;
        const stop = (): Promise<void> => {
          stopping ??= started.terminate().then(cleanUp);
          return stopping;
        };
        return {
          bootstrap: started.bootstrap,
          ...(started.mskIamBootstrap ? { mskIamBootstrap: started.mskIamBootstrap } : {}),
          stop,
        };
      }
      if (!started.portTaken || attempt === START_ATTEMPTS) throw started.error;
    }
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

type StartResult =
  | { ok: true; bootstrap: string; mskIamBootstrap?: string; terminate(): Promise<void> }
  | { ok: false; error: KafkaUnavailableError; portTaken: boolean };

async function startOnce(
  dir: string,
  logFile: string,
  classpath: string,
  mskIam: StartKafkaBrokerOptions['mskIam'],
): Promise<StartResult> {
  const [brokerPort, controllerPort, iamPort] = await freePorts(3);
  if (brokerPort === undefined || controllerPort === undefined || iamPort === undefined) {
    throw new Error('expected three ports');
  }
  const dataDir = join(dir, 'data');
  await rm(dataDir, { recursive: true, force: true });
  const properties = join(dir, 'server.properties');
  const iam = mskIam ? { port: iamPort, pemFile: mskIam.keyAndCertificateFile } : undefined;
  await writeFile(properties, serverProperties(brokerPort, controllerPort, dataDir, iam));
  await formatStorage(classpath, properties, logFile);

  // Opened and closed synchronously: no await may come between spawn() and the 'exit' listener, or a broker
  // that dies at once would be missed.
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      'java',
      ['-Xms128m', '-Xmx512m', ...JVM_FLAGS, '-cp', classpath, 'kafka.Kafka', properties],
      { stdio: ['ignore', log, log] },
    );
  } finally {
    closeSync(log);
  }
  let ended = false;
  const exited = new Promise<void>((resolve) => {
    const end = (): void => {
      ended = true;
      resolve();
    };
    child.once('exit', end);
    child.once('error', end);
  });
  // A test that forgets stop() must not keep its process alive: the exit hook below still kills the broker.
  child.unref();
  const watchdog = startWatchdog(child, dir);
  const killNow = (): void => {
    child.kill('SIGKILL');
    stopWatchdog(watchdog);
  };
  // Before the hook that removes the broker's folder.
  process.prependOnceListener('exit', killNow);

  const terminate = async (): Promise<void> => {
    if (!ended) {
      child.kill('SIGTERM');
      const grace = new AbortController();
      await Promise.race([exited, sleep(STOP_GRACE_MS, undefined, { signal: grace.signal }).catch(() => {})]);
      grace.abort();
      if (!ended) child.kill('SIGKILL');
      await exited;
    }
    stopWatchdog(watchdog);
    process.off('exit', killNow);
  };

  const bootstrap = `127.0.0.1:${brokerPort}`;
  const failure = await waitUntilReady(bootstrap, () => ended, child, logFile);
  if (failure) {
    await terminate();
    return { ok: false, ...failure };
  }
  return { ok: true, bootstrap, ...(iam ? { mskIamBootstrap: `127.0.0.1:${iam.port}` } : {}), terminate };
}

function serverProperties(
  brokerPort: number,
  controllerPort: number,
  dataDir: string,
  iam: { port: number; pemFile: string } | undefined,
): string {
  const listeners = [
    `PLAINTEXT://127.0.0.1:${brokerPort}`,
    `CONTROLLER://127.0.0.1:${controllerPort}`,
    ...(iam ? [`SASL_SSL://127.0.0.1:${iam.port}`] : []),
  ].join(',');
  const iamSettings: Record<string, string> = iam
    ? {
        'sasl.enabled.mechanisms': 'OAUTHBEARER',
        'listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class':
          'matchbridge.test.MskIamTokenValidator',
        'listener.name.sasl_ssl.oauthbearer.sasl.jaas.config':
          'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;',
        'listener.name.sasl_ssl.ssl.keystore.type': 'PEM',
        'listener.name.sasl_ssl.ssl.keystore.location': iam.pemFile,
      }
    : {};
  const settings: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': NODE_ID,
    'controller.quorum.bootstrap.servers': `127.0.0.1:${controllerPort}`,
    listeners,
    'advertised.listeners': listeners,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL',
    ...iamSettings,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': dataDir,
    'num.partitions': 1,
    'default.replication.factor': 1,
    'auto.create.topics.enable': true,
    'offsets.topic.replication.factor': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    // One partition instead of 50 for each internal topic: the first consumer group or transaction is ready at once.
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.num.partitions': 1,
    'share.coordinator.state.topic.num.partitions': 1,
    'group.initial.rebalance.delay.ms': 0,
    'num.network.threads': 2,
    'num.io.threads': 2,
    'background.threads': 2,
    'log.cleaner.threads': 1,
  };
  return `${Object.entries(settings)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n')}\n`;
}

async function formatStorage(classpath: string, properties: string, logFile: string): Promise<void> {
  // A cluster id is 16 random bytes in URL-safe base64 without padding (Kafka's Uuid).
  const clusterId = randomBytes(16).toString('base64url');
  const result = await runCommand(
    'java',
    [
      '-Xmx256m',
      ...JVM_FLAGS,
      '-cp',
      classpath,
      'kafka.tools.StorageTool',
      'format',
      // One argument: an id starting with `-` (base64url may) would otherwise be read as an option.
      `--cluster-id=${clusterId}`,
      '--config',
      properties,
      '--standalone',
    ],
    { timeoutMs: 60_000 },
  );
  await appendFile(logFile, result.output);
  if (result.code !== 0) {
    throw new KafkaUnavailableError(
      `formatting the Kafka storage failed (exit ${result.code}):\n${tail(result.output)}`,
    );
  }
}

/** Polls with a real metadata request; returns why the broker is not usable, or undefined once it is. */
async function waitUntilReady(
  bootstrap: string,
  hasEnded: () => boolean,
  child: ChildProcess,
  logFile: string,
): Promise<{ error: KafkaUnavailableError; portTaken: boolean } | undefined> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (hasEnded()) {
      const lines = await logTail(logFile);
      return {
        error: new KafkaUnavailableError(
          `the Kafka broker exited during startup (code ${child.exitCode}, signal ${child.signalCode}); ` +
            `last log lines:\n${lines}`,
        ),
        portTaken: /BindException|Address already in use/.test(lines),
      };
    }
    const admin = new Admin({
      clientId: 'mb-test-kafka-ready',
      bootstrapBrokers: [bootstrap],
      connectTimeout: 1_000,
      requestTimeout: 2_000,
      retries: 0,
    });
    try {
      const metadata = await admin.metadata({ topics: [], forceUpdate: true });
      if (metadata.brokers.has(NODE_ID)) return undefined;
    } catch (error) {
      lastError = error;
    } finally {
      await admin.close().catch(() => {});
    }
    await sleep(250);
  }
  return {
    error: new KafkaUnavailableError(
      `the Kafka broker at ${bootstrap} was not ready within ${READY_TIMEOUT_MS / 1000} s ` +
        `(last error: ${(lastError as Error | undefined)?.message ?? 'none'}); ` +
        `last log lines:\n${await logTail(logFile)}`,
      { cause: lastError },
    ),
    portTaken: false,
  };
}

/**
 * Compiles the MSK IAM token validator against the broker's jars, once per source and classpath, into
 * `.cache/kafka/msk-iam-<hash>/`; returns that folder (a classpath entry).
 */
async function compileMskIamValidator(classpath: string): Promise<string> {
  const source = join(import.meta.dirname, 'kafka', 'msk-iam', 'MskIamTokenValidator.java');
  const hash = createHash('sha256')
    .update(await readFile(source))
    .update(classpath)
    .digest('hex')
    .slice(0, 12);
  const out = join(import.meta.dirname, '..', '..', '.cache', 'kafka', `msk-iam-${hash}`);
  if (await stat(join(out, 'matchbridge', 'test', 'MskIamTokenValidator.class')).catch(() => undefined))
    return out;
  const staging = `${out}.tmp-${process.pid}`;
  const result = await runCommand('javac', ['-d', staging, '-cp', classpath, source], { timeoutMs: 120_000 });
  if (result.code !== 0) {
    await rm(staging, { recursive: true, force: true });
    throw new KafkaUnavailableError(
      `compiling the MSK IAM validator failed (javac: a JDK is needed):\n${result.output}`,
    );
  }
  await rename(staging, out).catch(async () => rm(staging, { recursive: true, force: true }));
  return out;
}

async function checkJava(): Promise<void> {
  const hint = `Java ${MIN_JAVA}+ is needed to run the test Kafka broker (e.g. apt-get install openjdk-17-jre-headless)`;
  const result = await runCommand('java', ['-version'], { timeoutMs: 30_000 }).catch((error: unknown) => {
    throw new KafkaUnavailableError(`${hint}; \`java\` could not be run: ${(error as Error).message}`, {
      cause: error,
    });
  });
  // `java -version` prints e.g. `openjdk version "17.0.15" …` or, before Java 9, `"1.8.0_402"`.
  const match = /version "(\d+)(?:\.(\d+))?/.exec(result.output);
  const major = match?.[1] === '1' ? Number(match[2]) : Number(match?.[1]);
  if (result.code !== 0 || !(major >= MIN_JAVA)) {
    throw new KafkaUnavailableError(`${hint}; \`java -version\` says: ${result.output.trim()}`);
  }
}

/**
 * Kills the broker and removes its folder within a second of this process dying in a way that runs no exit hook
 * (SIGKILL, an unhandled SIGTERM). It runs in its own process group so that stopping it also ends its `sleep`.
 */
function startWatchdog(child: ChildProcess, dir: string): ChildProcess | undefined {
  if (child.pid === undefined) return undefined;
  const script = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -9 "$2" 2>/dev/null; rm -rf "$3"';
  const watchdog = spawn(
    'sh',
    ['-c', script, 'kafka-watchdog', String(process.pid), String(child.pid), dir],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  watchdog.unref();
  return watchdog;
}

function stopWatchdog(watchdog: ChildProcess | undefined): void {
  if (watchdog?.pid === undefined) return;
  try {
    process.kill(-watchdog.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

async function logTail(logFile: string): Promise<string> {
  return tail(await readFile(logFile, 'utf8').catch(() => ''));
}

function tail(text: string): string {
  return text.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
}
