import type { JsonValue } from '../matches/match-rows.ts';
import { isoFromMillis, PreciseTimestamp } from './iso-time.ts';

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A decoded Parquet value as JSON that `JSON.stringify` keeps exactly:
 * - bigint (INT64) → number when it is a safe integer, else its decimal string (no precision lost);
 * - Date and {@link PreciseTimestamp} (timestamps) → ISO 8601 string, null when invalid;
 * - Uint8Array (binary) → base64 string;
 * - NaN and ±Infinity → null (JSON has no such numbers);
 * - arrays, typed arrays and objects (lists, maps, structs) → converted element by element;
 * - undefined, functions and symbols → null.
 */
export function toJsonValue(value: unknown): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return value >= MIN_SAFE && value <= MAX_SAFE ? Number(value) : value.toString();
    case 'object':
      return objectToJson(value);
    default:
      return null;
  }
}

function objectToJson(value: object | null): JsonValue {
  if (value === null) return null;
  if (value instanceof Date) return isoFromMillis(value.getTime());
  if (value instanceof PreciseTimestamp) return value.toISOString();
  if (value instanceof Uint8Array) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  }
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (ArrayBuffer.isView(value)) {
    return value instanceof DataView ? null : Array.from(value as unknown as ArrayLike<unknown>, toJsonValue);
  }
  const out: Record<string, JsonValue> = {};
  for (const [key, item] of Object.entries(value)) out[key] = toJsonValue(item);
  return out;
}
