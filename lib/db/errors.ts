import { DatabaseUnavailableError } from '../errors.ts';

/** Node socket error codes that mean the server could not be reached or the link broke. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs after which the same work may succeed on a retry: admin/crash shutdown (57P01–57P03),
 * too many connections (53300), serialization failure (40001) and deadlock (40P01).
 * Class 08 (connection exception) is matched by prefix.
 */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01']);

/** Messages node-postgres and pg-pool raise without a code when a connection dies or cannot be had. */
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'Connection ended',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'timeout exceeded when trying to connect',
];

interface DriverError {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
}

function isTransient(err: DriverError): boolean {
  const code = typeof err.code === 'string' ? err.code : undefined;
  if (code !== undefined) {
    if (NETWORK_CODES.has(code) || TRANSIENT_SQLSTATES.has(code)) return true;
    if (/^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  const message = typeof err.message === 'string' ? err.message : '';
  if (CONNECTION_MESSAGES.some((m) => message.includes(m))) return true;
  // net.connect to "localhost" may raise an AggregateError (IPv4 and IPv6 both refused).
  if (Array.isArray(err.errors) && err.errors.length > 0) {
    return err.errors.every((inner) => typeof inner === 'object' && inner !== null && isTransient(inner));
  }
  return false;
}

/**
 * The single place where driver errors become domain errors. Connection failures, dropped links, admin
 * shutdowns, "too many connections", serialization failures and deadlocks become
 * {@link DatabaseUnavailableError} (transient: the state machine retries them), keeping the original as
 * `cause` and its SQLSTATE in `details.sqlState`. Everything else is returned as is, to be rethrown.
 */
export function mapDatabaseError(err: unknown): Error {
  if (err instanceof DatabaseUnavailableError) return err;
  if (typeof err !== 'object' || err === null) return new Error(String(err));
  const driverError = err as DriverError;
  if (isTransient(driverError)) {
    const sqlState = typeof driverError.code === 'string' ? driverError.code : undefined;
    const message = typeof driverError.message === 'string' ? driverError.message : 'connection failed';
    return new DatabaseUnavailableError(
      `database unavailable: ${message}`,
      sqlState === undefined ? {} : { sqlState },
      { cause: err },
    );
  }
  return err instanceof Error ? err : new Error(String(driverError.message ?? 'unknown database error'));
}

/** SQLSTATE 23505: a row with the same key exists (or was inserted concurrently and committed). */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as DriverError).code === '23505';
}

/** SQLSTATE 40P01: this transaction was chosen to end a deadlock (its statement failed, the rest may go on). */
export function isDeadlock(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as DriverError).code === '40P01';
}
