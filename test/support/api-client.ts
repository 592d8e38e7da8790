import assert from 'node:assert/strict';
import { responseProblems } from './openapi.ts';

/** A response read whole (JSON parsed when JSON), already checked against the OpenAPI document. */
export interface ApiReply {
  readonly status: number;
  readonly contentType: string;
  readonly json: Record<string, unknown>;
  readonly text: string;
}

/**
 * Real HTTP requests to a running API; every response is validated against `openapi.json` (the test
 * fails on a response the document does not describe).
 */
export function apiClient(baseUrl: string, defaults: Record<string, string> = {}) {
  return async (
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: string | Uint8Array | FormData | Blob } = {},
  ) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { ...defaults, ...init.headers },
      ...(init.body !== undefined ? { body: init.body, duplex: 'half' } : {}),
    } as RequestInit);
    const contentType = response.headers.get('content-type') ?? '';
    const text = await response.text();
    const json = contentType.startsWith('application/json')
      ? (JSON.parse(text) as Record<string, unknown>)
      : {};
    const problems = responseProblems(
      method,
      new URL(`${baseUrl}${path}`).pathname,
      response.status,
      contentType,
      json,
    );
    assert.deepEqual(problems, [], `${method} ${path} → ${response.status} ${text.slice(0, 300)}`);
    return { status: response.status, contentType, json, text } satisfies ApiReply;
  };
}
