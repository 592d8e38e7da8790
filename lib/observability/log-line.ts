/** Attributes every line carries that a reader on a terminal does not need (Lambda context, sampling). */
const HIDDEN = new Set([
  'timestamp',
  'level',
  'message',
  'service',
  'sampling_rate',
  'xray_trace_id',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
  'jobId',
  'groupId',
  'domainId',
]);

/** A value on one line: strings as they are (line breaks shown as `⏎`), anything else as compact JSON. */
function oneLine(value: unknown): string {
  if (value instanceof Error) return oneLine(`${value.name}: ${value.message}`);
  if (typeof value === 'object' && value !== null && 'name' in value && 'message' in value) {
    const error = value as { name: unknown; message: unknown };
    return oneLine(`${String(error.name)}: ${String(error.message)}`);
  }
  const text =
    typeof value === 'string'
      ? value
      : JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  return (text ?? String(value)).replace(/\r?\n/g, '⏎');
}

/**
 * A log record as one readable line: time (UTC, to the millisecond), level, message, the job it belongs to
 * (`job=… group=…`), then its other attributes as `key=value`. What the CLI prints on a terminal instead
 * of a JSON object.
 */
export function formatLogLine(attributes: Readonly<Record<string, unknown>>): string {
  const time = typeof attributes.timestamp === 'string' ? attributes.timestamp.slice(11, 23) : '';
  const level = String(attributes.level ?? '').padEnd(5);
  const parts = [time, level, oneLine(attributes.message ?? '')];
  if (attributes.jobId !== undefined) parts.push(`job=${oneLine(attributes.jobId)}`);
  if (attributes.groupId !== undefined) parts.push(`group=${oneLine(attributes.groupId)}`);
  for (const [key, value] of Object.entries(attributes)) {
    if (!HIDDEN.has(key) && value !== undefined) parts.push(`${key}=${oneLine(value)}`);
  }
  return parts.filter((part) => part !== '').join(' ');
}
