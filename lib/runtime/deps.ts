import { readDatabaseCredentials } from '../aws/database-credentials.ts';
import { iamAuthToken } from '../aws/database-token.ts';
import { eventBridgeStatusPublisher } from '../aws/eventbridge.ts';
import { sqsStatusDeadLetters } from '../aws/sqs-status-dead-letters.ts';
import { CONFIG_ENV, type Config, config } from '../config.ts';
import { createPool } from '../db/pool.ts';
import { APPLICATION_ROLE, MIGRATOR_ROLE, setUpRolesAt } from '../db/roles.ts';
import { ConfigurationError } from '../errors.ts';
import type { RuntimeDeps } from '../jobs/deps.ts';
import { noStatusPublisher, type StatusDelivery } from '../jobs/publish-status.ts';
import { kafkaSettings } from '../kafka/client-options.ts';
import { kafkaStatusPublisher } from '../kafka/status-publisher.ts';
import type { StatusDeadLetterSink, StatusPublisher } from '../model/status.ts';
import { configuredObjectStore } from '../storage/configured-store.ts';
import { localStandIn } from './local-adapters.ts';

/** Longest wait between two delivery attempts of a status message. */
const STATUS_MAX_BACKOFF_MS = 10_000;

/**
 * Where undeliverable status messages go: the `STATUS_DLQ_URL` queue; without one, local mode's stand-in.
 * On AWS without one, every function still gets its runtime deps: only finalize and fail-job dead-letter
 * status messages, and they require the queue at cold start (`handler-config.ts`), so the sink that refuses
 * is never reached there.
 */
function statusDeadLetters(cfg: Config): StatusDeadLetterSink {
  if (cfg.statusDlqUrl) return sqsStatusDeadLetters(cfg.statusDlqUrl, cfg.awsRegion);
  if (cfg.localMode) return localStandIn(cfg, CONFIG_ENV.statusDlqUrl).statusDeadLetters(cfg);
  return {
    send: async () => {
      throw new ConfigurationError(`${CONFIG_ENV.statusDlqUrl} is not set`, {
        variable: CONFIG_ENV.statusDlqUrl,
      });
    },
  };
}

/**
 * Status delivery from the configuration: the Kafka topics when `KAFKA_BROKERS` is set (otherwise messages
 * are recorded as PENDING), the EventBridge bus when `EVENT_BUS_NAME` is set, and the dead letters in the
 * `STATUS_DLQ_URL` queue or, in local mode without one, local mode's stand-in. Nothing connects before the
 * first message; `close` ends the Kafka producer if one was created.
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
      deadLetters: statusDeadLetters(cfg),
      retry: {
        attempts: cfg.statusPublishAttempts,
        baseDelayMs: cfg.statusPublishBackoffMs,
        maxDelayMs: Math.max(cfg.statusPublishBackoffMs, STATUS_MAX_BACKOFF_MS),
      },
    },
    close: async () => producer?.close(),
  };
}

/** The IAM sign-in of DB_IAM_AUTH=true, or undefined when the secret's password is used. */
function iamLogin(cfg: Config) {
  if (!cfg.dbIamAuth || cfg.databaseUrl) return undefined;
  if (!cfg.dbHost || !cfg.dbUser) throw new ConfigurationError('DB_IAM_AUTH needs DB_HOST and DB_USER');
  return { host: cfg.dbHost, port: cfg.dbPort, user: cfg.dbUser, region: cfg.awsRegion };
}

/**
 * The database URL: DATABASE_URL as given, or built from DB_* with the Secrets Manager secret's password,
 * or with DB_IAM_AUTH a fresh IAM token (for one-off connections such as migrations: it expires in 15 min).
 */
export async function resolveDatabaseUrl(cfg: Config): Promise<string> {
  if (cfg.databaseUrl) return cfg.databaseUrl;
  const iam = iamLogin(cfg);
  if (!cfg.dbHost || (!iam && !cfg.dbSecretArn)) {
    throw new ConfigurationError(
      'set DATABASE_URL, or DB_HOST and DB_SECRET_ARN (or DB_IAM_AUTH and DB_USER)',
    );
  }
  const { user, password } = iam
    ? { user: iam.user, password: await iamAuthToken(iam)() }
    : await readDatabaseCredentials(cfg.dbSecretArn ?? '', cfg.awsRegion);
  const url = new URL(`postgres://${cfg.dbHost}:${cfg.dbPort}/${encodeURIComponent(cfg.dbName)}`);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  if (cfg.dbSsl === 'require') url.searchParams.set('sslmode', 'require');
  return url.toString();
}

/** The password of `role` from its secret, which must be that role's. */
async function rolePassword(role: string, secretArn: string, region: string): Promise<string> {
  const { user, password } = await readDatabaseCredentials(secretArn, region);
  if (user !== role) {
    throw new ConfigurationError(`the secret of database role ${role} is for ${user}`, { secretArn });
  }
  return password;
}

/**
 * With DB_ADMIN_USER (the migrate function on a new database): signs in as that master user and creates or
 * updates the application and migrator roles with the passwords of their secrets, the ones RDS Proxy signs
 * in with. Without it (local mode, an existing database) the roles are the operator's affair: does nothing.
 */
export async function setUpDatabaseRoles(cfg: Config): Promise<void> {
  if (!cfg.dbAdminUser) return;
  if (!cfg.dbAppSecretArn || !cfg.dbMigratorSecretArn) {
    throw new ConfigurationError('DB_ADMIN_USER needs DB_APP_SECRET_ARN and DB_MIGRATOR_SECRET_ARN');
  }
  const [application, migrator] = await Promise.all([
    rolePassword(APPLICATION_ROLE, cfg.dbAppSecretArn, cfg.awsRegion),
    rolePassword(MIGRATOR_ROLE, cfg.dbMigratorSecretArn, cfg.awsRegion),
  ]);
  await setUpRolesAt(await resolveDatabaseUrl({ ...cfg, dbUser: cfg.dbAdminUser }), {
    application,
    migrator,
  });
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
    const iam = iamLogin(cfg);
    // With IAM each new connection signs a fresh token; a URL would pin one that expires in 15 minutes.
    const pool = iam
      ? createPool({
          host: iam.host,
          port: iam.port,
          database: cfg.dbName,
          user: iam.user,
          password: iamAuthToken(iam),
          ssl: true,
          max: cfg.dbPoolSize,
        })
      : createPool({ connectionString: await resolveDatabaseUrl(cfg), max: cfg.dbPoolSize });
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
