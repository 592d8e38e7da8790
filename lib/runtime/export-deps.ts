import { CONFIG_ENV } from '../config.ts';
import type { ExportDeps } from '../export/export-group.ts';
import { kafkaRequestSender, type RequestSender } from '../export/request-sender.ts';
import { kafkaSettings } from '../kafka/client-options.ts';
import { runtimeDeps } from './deps.ts';
import { localStandIn } from './local-adapters.ts';

/** Longest wait between two send attempts. */
const SEND_MAX_BACKOFF_MS = 10_000;

let sender: RequestSender | undefined;

/**
 * The export's dependencies: the runtime's, and one request sender per process — Kafka when `KAFKA_BROKERS`
 * is set, otherwise (local mode only) local mode's stand-in, the outbox under `MATCHBRIDGE_HOME`.
 */
export async function exportDeps(): Promise<ExportDeps> {
  const deps = await runtimeDeps();
  const cfg = deps.config;
  if (!sender) {
    const kafka = kafkaSettings(cfg);
    sender = kafka
      ? kafkaRequestSender(kafka, {
          attempts: cfg.exportSendAttempts,
          baseDelayMs: cfg.exportSendBackoffMs,
          maxDelayMs: Math.max(cfg.exportSendBackoffMs, SEND_MAX_BACKOFF_MS),
        })
      : localStandIn(cfg, CONFIG_ENV.kafkaBrokers).requestSender(cfg);
  }
  return { ...deps, sender };
}

/** Closes the request sender's Kafka producer, if one was created (local mode, at exit). */
export async function closeExportDeps(): Promise<void> {
  const current = sender;
  sender = undefined;
  await current?.close();
}
