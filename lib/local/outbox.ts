import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestSender } from '../export/request-sender.ts';
import { appendLine } from './dead-letters.ts';

/** The local outbox file of import requests (local mode without brokers): one request per line. */
export function outboxFile(home: string): string {
  return join(home, 'outbox', 'import-requests.jsonl');
}

/**
 * Keeps the requests in `<home>/outbox/import-requests.jsonl` (`{topic, key, headers, value}` per line, the
 * value as JSON) when no broker is configured, so that nothing is lost and the command line can print them.
 */
export function outboxRequestSender(home: string): RequestSender {
  const file = outboxFile(home);
  return {
    kind: 'outbox',
    async send(request) {
      await mkdir(join(home, 'outbox'), { recursive: true });
      await appendLine(file, { ...request, value: JSON.parse(request.value) as unknown });
    },
    async close() {},
  };
}
