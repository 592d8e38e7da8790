import type { Config } from '../config.ts';
import { ConfigurationError } from '../errors.ts';
import type { RequestSender } from '../export/request-sender.ts';
import type { StatusDeadLetterSink } from '../model/status.ts';

/**
 * What local mode puts in place of an AWS service that has no endpoint configured. The local entry points
 * install them (`lib/local/adapters.ts`, chosen by the command line and the local runner); a Lambda never
 * does, so no function's bundle carries them.
 */
export interface LocalAdapters {
  /** Where status messages that could not be delivered go without STATUS_DLQ_URL. */
  statusDeadLetters(cfg: Config): StatusDeadLetterSink;
  /** Where the export's import requests go without KAFKA_BROKERS. */
  requestSender(cfg: Config): RequestSender;
}

let installed: LocalAdapters | undefined;

/** Puts the local adapters in place, before any handler runs (local mode only). */
export function installLocalAdapters(adapters: LocalAdapters): void {
  installed = adapters;
}

/**
 * The local adapters that stand in for the unset `variable`. On AWS (not local mode) there is no stand-in:
 * a missing variable is a ConfigurationError naming it, never a folder under the read-only code.
 */
export function localStandIn(cfg: Pick<Config, 'localMode'>, variable: string): LocalAdapters {
  if (!cfg.localMode) throw new ConfigurationError(`${variable} is not set`, { variable });
  if (!installed) {
    throw new ConfigurationError(`local mode needs its adapters in place of ${variable}; none installed`, {
      variable,
    });
  }
  return installed;
}
