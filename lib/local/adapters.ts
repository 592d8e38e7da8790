import { resolve } from 'node:path';
import { type Config, initConfig } from '../config.ts';
import { installLocalAdapters, type LocalAdapters } from '../runtime/local-adapters.ts';
import { outboxRequestSender } from './outbox.ts';
import { localStatusDeadLetters } from './status-dead-letters.ts';

/** Local mode's stand-ins: files under the local home folder. */
const LOCAL_ADAPTERS: LocalAdapters = {
  statusDeadLetters: (cfg) => localStatusDeadLetters(resolve(cfg.localHome)),
  requestSender: (cfg) => outboxRequestSender(resolve(cfg.localHome)),
};

/**
 * Puts local mode's adapters in place, for a process whose environment already says MATCHBRIDGE_LOCAL=true
 * (a child process of the tests or benchmarks).
 */
export function useLocalAdapters(): void {
  installLocalAdapters(LOCAL_ADAPTERS);
}

/**
 * Enters local mode: the configuration from the environment plus `overrides`, with MATCHBRIDGE_LOCAL=true,
 * and the local adapters in place, before any handler runs.
 */
export function initLocalConfig(overrides: Record<string, string>): Config {
  useLocalAdapters();
  return initConfig({ ...overrides, MATCHBRIDGE_LOCAL: 'true' });
}
