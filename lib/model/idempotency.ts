import { ApiRequestError } from '../errors.ts';

/** A response kept under an idempotency key, replayed to a repeat of its request. */
export interface StoredResponse {
  readonly status: number;
  readonly body: unknown;
}

/** Where idempotency keys live (PostgreSQL locally, DynamoDB on AWS): one semantics for both. */
export interface IdempotencyStore {
  /**
   * Runs `work` once per (domain, key) while the key lives. A repeat with the same `requestHash` gets the
   * stored response (`replayed`); with another hash, 422 `IDEMPOTENCY_KEY_REUSED`; while the first request
   * still runs, 409 `IDEMPOTENCY_KEY_IN_USE`. When `work` throws, the key is released (a retry may run).
   */
  once(
    scope: { readonly domainId: string; readonly key: string },
    requestHash: string,
    work: () => Promise<StoredResponse>,
  ): Promise<{ readonly response: StoredResponse; readonly replayed: boolean }>;
}

/** The errors both stores answer with. */
export const inUse = (): ApiRequestError =>
  new ApiRequestError(
    409,
    'IDEMPOTENCY_KEY_IN_USE',
    'a request with this Idempotency-Key is still being processed',
  );
export const reused = (): ApiRequestError =>
  new ApiRequestError(
    422,
    'IDEMPOTENCY_KEY_REUSED',
    'this Idempotency-Key was used for a different request; use a new key',
  );
