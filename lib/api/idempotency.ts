import { createHash } from 'node:crypto';
import type pg from 'pg';
import { query } from '../db/query.ts';
import { ApiRequestError } from '../errors.ts';
import { type IdempotencyStore, inUse, reused, type StoredResponse } from '../model/idempotency.ts';

/** Longest an idempotency key may be. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** The Idempotency-Key header, required on every POST. */
export function idempotencyKey(headers: Readonly<Record<string, string | undefined>>): string {
  const key = headers['idempotency-key']?.trim();
  if (!key)
    throw new ApiRequestError(400, 'IDEMPOTENCY_KEY_REQUIRED', 'the Idempotency-Key header is required');
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new ApiRequestError(
      400,
      'INVALID_IDEMPOTENCY_KEY',
      `Idempotency-Key is longer than ${MAX_IDEMPOTENCY_KEY_LENGTH}`,
    );
  }
  return key;
}

/** A hash of what identifies a request: its parameters in a fixed order and the hash of its body, if any. */
export function requestHash(parts: Readonly<Record<string, unknown>>): string {
  const canonical = JSON.stringify(
    Object.keys(parts)
      .sort()
      .map((name) => [name, parts[name] ?? null]),
  );
  return createHash('sha256').update(canonical).digest('hex');
}

interface KeyRecord {
  request_hash: string;
  status: 'IN_PROGRESS' | 'COMPLETED';
  response_status: number | null;
  response_body: unknown;
}

/**
 * Idempotency keys in PostgreSQL (`api_idempotency_keys`). A key is taken by one INSERT; a key whose record
 * expired, or whose request died holding it (past `leaseSeconds`), is taken over by the same statement.
 */
export function postgresIdempotencyStore(
  pool: pg.Pool,
  options: { readonly ttlSeconds: number; readonly leaseSeconds?: number },
): IdempotencyStore {
  const lease = options.leaseSeconds ?? 120;
  return {
    async once(scope, hash, work) {
      const taken = await query(
        pool,
        `INSERT INTO api_idempotency_keys AS k (domain_id, key, request_hash, status, locked_until, expires_at)
         VALUES ($1, $2, $3, 'IN_PROGRESS', now() + make_interval(secs => $4), now() + make_interval(secs => $5))
         ON CONFLICT (domain_id, key) DO UPDATE SET
           request_hash = excluded.request_hash, status = 'IN_PROGRESS', response_status = NULL,
           response_body = NULL, locked_until = excluded.locked_until, expires_at = excluded.expires_at,
           created_at = now()
         WHERE k.expires_at <= now() OR (k.status = 'IN_PROGRESS' AND k.locked_until <= now())
         RETURNING 1`,
        [scope.domainId, scope.key, hash, lease, options.ttlSeconds],
      );
      if (taken.rowCount === 0) {
        const existing = await query<KeyRecord>(
          pool,
          `SELECT request_hash, status, response_status, response_body FROM api_idempotency_keys
           WHERE domain_id = $1 AND key = $2`,
          [scope.domainId, scope.key],
        );
        const record = existing.rows[0];
        // Gone between the two statements (expired and swept): the caller may simply retry.
        if (!record || record.status === 'IN_PROGRESS') throw inUse();
        if (record.request_hash !== hash) throw reused();
        return {
          response: { status: record.response_status ?? 200, body: record.response_body },
          replayed: true,
        };
      }
      let response: StoredResponse;
      try {
        response = await work();
      } catch (error) {
        await query(pool, 'DELETE FROM api_idempotency_keys WHERE domain_id = $1 AND key = $2', [
          scope.domainId,
          scope.key,
        ]);
        throw error;
      }
      await query(
        pool,
        `UPDATE api_idempotency_keys SET status = 'COMPLETED', response_status = $3, response_body = $4::jsonb
         WHERE domain_id = $1 AND key = $2`,
        [scope.domainId, scope.key, response.status, JSON.stringify(response.body)],
      );
      return { response, replayed: false };
    },
  };
}
