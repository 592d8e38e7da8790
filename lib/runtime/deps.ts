import { resolve } from 'node:path';
import type pg from 'pg';
import { readDatabaseCredentials } from '../aws/database-credentials.ts';
import { eventBridgeStatusPublisher } from '../aws/eventbridge.ts';
import { sqsStatusDeadLetters } from '../aws/sqs-status-dead-letters.ts';
import { type Config, config } from '../config.ts';
import { createPool } from '../db/pool.ts';
import { ConfigurationError } from '../errors.ts';
import { noStatusPublisher, type StatusDelivery, type StatusPublisher } from '../jobs/publish-status.ts';
import { kafkaSettings } from '../kafka/client-options.ts';
import { kafkaStatusPublisher } from '../kafka/status-publisher.ts';
import { localStatusDeadLetters } from '../local/status-dead-letters.ts';
import { configuredObjectStore } from '../storage/configured-store.ts';
import type { ObjectStore } from '../storage/object-store.ts';

/** What every handler works with: configuration, one database pool and one object store per process. */
export interface RuntimeDeps {
  readonly config: Config;
  readonly pool: pg.Pool;
  readonly store: ObjectStore;
  /** Where finished jobs' status messages go (Kafka, EventBridge) and where undeliverable ones are kept. */
  readonly status: StatusDelivery;
}

/** Longest wait between two delivery attempts of a status message. */
const STATUS_MAX_BACKOFF_MS = 10_000;

/**
 * Status delivery from the configuration: the Kafka topics when `KAFKA_BROKERS` is set (otherwise messages
 * are recorded as PENDING), the EventBridge bus when `EVENT_BUS_NAME` is set, and the dead letters in the
 * `STATUS_DLQ_URL` queue or, without one, in `<MATCHBRIDGE_HOME>/dlq/status.jsonl`. Nothing connects
 * before the first message; `close` ends the Kafka producer if one was created.
 */
export function createStatusDelivery(cfg: Config): { delivery: StatusDelivery; close(): Promise<void> } {
  const kafka = kafkaSettings(cfg);
  const producer = kafka ? kafkaStatusPublisher(kafka) : undefined;
  const publishers: StatusPublisher[] = [producer ?? noStatusPublisher];
  if (cfg.eventBusName) {
    publishers.push(eventBridgeStatusPublisher(cfg.eventBusName, { region: cfg.awsRegion }));
  }
  return {
    delivery: {
      routing: {
        topics: { nodes: cfg.nodesStatusTopic, matches: cfg.matchesStatusTopic },
        typeIds: { nodes: cfg.nodesStatusTypeId, matches: cfg.matchesStatusTypeId },
      },
      publishers,
      deadLetters: cfg.statusDlqUrl
        ? sqsStatusDeadLetters(cfg.statusDlqUrl, cfg.awsRegion)
        : localStatusDeadLetters(resolve(cfg.localHome)),
      retry: {
        attempts: cfg.statusPublishAttempts,
        baseDelayMs: cfg.statusPublishBackoffMs,
        maxDelayMs: Math.max(cfg.statusPublishBackoffMs, STATUS_MAX_BACKOFF_MS),
      },
    },
    close: async () => producer?.close(),
  };
}

/** The database URL: DATABASE_URL as given, or built from DB_* and the Secrets Manager secret on AWS. */
export async function resolveDatabaseUrl(cfg: Config): Promise<string> {
  if (cfg.databaseUrl) return cfg.databaseUrl;
  if (!cfg.dbHost || !cfg.dbSecretArn) {
    throw new ConfigurationError('set DATABASE_URL, or DB_HOST and DB_SECRET_ARN');
  }
  const { user, password } = await readDatabaseCredentials(cfg.dbSecretArn, cfg.awsRegion);
  const url = new URL(`postgres://${cfg.dbHost}:${cfg.dbPort}/${encodeURIComponent(cfg.dbName)}`);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  if (cfg.dbSsl === 'require') url.searchParams.set('sslmode', 'require');
  return url.toString();
}

let deps: Promise<RuntimeDeps> | undefined;
let closeStatus: (() => Promise<void>) | undefined;

/**
 * The process-wide dependencies, created on first use and reused across invocations (a Lambda keeps its
 * pool warm; the local runner shares one pool between all in-process handlers).
 */
export function runtimeDeps(): Promise<RuntimeDeps> {
  deps ??= (async () => {
    const cfg = config();
    const store = configuredObjectStore(cfg);
    const pool = createPool({ connectionString: await resolveDatabaseUrl(cfg), max: cfg.dbPoolSize });
    const status = createStatusDelivery(cfg);
    closeStatus = status.close;
    return { config: cfg, pool, store, status: status.delivery };
  })();
  deps.catch(() => {
    deps = undefined;
  });
  return deps;
}

/** Closes the process-wide pool and Kafka producer (local mode, at exit). */
export async function closeRuntimeDeps(): Promise<void> {
  if (!deps) return;
  const current = await deps;
  deps = undefined;
  const close = closeStatus;
  closeStatus = undefined;
  try {
    await close?.();
  } finally {
    await current.pool.end();
  }
}
