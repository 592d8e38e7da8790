import type { ParquetParsers } from 'hyparquet';

const MS_PER_DAY = 86_400_000;
const SECONDS_PER_DAY = 86_400;
/** Largest |days| a JavaScript Date can hold (±100,000,000 days around 1970). */
const MAX_DAYS = 100_000_000;
const MAX_SECONDS = MAX_DAYS * SECONDS_PER_DAY;

let lastDays = Number.NaN;
let lastDate: string | null = null;

/**
 * `YYYY-MM-DD` of a day count since 1970-01-01 (UTC), as `Date#toISOString` writes it (years outside
 * 0–9999 as `±YYYYYY`); null outside the range of a Date. The last day is memoised: consecutive
 * timestamps of a column mostly share it.
 */
export function isoDateFromDays(days: number): string | null {
  if (days === lastDays) return lastDate;
  lastDays = days;
  lastDate = Number.isInteger(days) && Math.abs(days) <= MAX_DAYS ? formatDays(days) : null;
  return lastDate;
}

function formatDays(days: number): string {
  const date = new Date(days * MS_PER_DAY);
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) return date.toISOString().slice(0, -14);
  return `${String(year).padStart(4, '0')}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}`;
}

/**
 * An instant as `YYYY-MM-DDTHH:MM:SS.fffZ` from whole seconds since the epoch and the fraction of a second
 * (`fraction` / 10^`digits`); null outside the range of a Date.
 */
function isoInstant(seconds: number, fraction: number, digits: number): string | null {
  if (seconds < -MAX_SECONDS || seconds > MAX_SECONDS || (seconds === MAX_SECONDS && fraction > 0))
    return null;
  const days = Math.floor(seconds / SECONDS_PER_DAY);
  const date = isoDateFromDays(days);
  if (date === null) return null;
  const inDay = seconds - days * SECONDS_PER_DAY;
  const hours = Math.floor(inDay / 3600);
  const minutes = Math.floor((inDay % 3600) / 60);
  return `${date}T${pad2(hours)}:${pad2(minutes)}:${pad2(inDay % 60)}.${pad(fraction, digits)}Z`;
}

/** ISO 8601 of milliseconds since the epoch (like `Date#toISOString`, about 3× faster); null if invalid. */
export function isoFromMillis(millis: bigint | number): string | null {
  const ms = Number(millis);
  if (!Number.isSafeInteger(ms)) return null;
  const seconds = Math.floor(ms / 1000);
  return isoInstant(seconds, ms - seconds * 1000, 3);
}

/**
 * A timestamp finer than a millisecond (TIMESTAMP(MICROS), TIMESTAMP(NANOS), INT96) as whole seconds since
 * the epoch and a fraction of `digits` digits, so that it formats with every digit (a Date keeps
 * milliseconds only). One small object per value, formatted when its row is built (see {@link timeParsers}).
 */
export class PreciseTimestamp {
  readonly seconds: number;
  readonly fraction: number;
  readonly digits: number;

  constructor(seconds: number, fraction: number, digits: number) {
    this.seconds = seconds;
    this.fraction = fraction;
    this.digits = digits;
  }

  /** The timestamp of `value` units since the epoch, `perSecond` units a second (10^`digits`). */
  static of(value: bigint, perSecond: bigint, digits: number): PreciseTimestamp {
    let seconds = value / perSecond;
    let fraction = value % perSecond;
    if (fraction < 0n) {
      seconds -= 1n;
      fraction += perSecond;
    }
    return new PreciseTimestamp(Number(seconds), Number(fraction), digits);
  }

  /** ISO 8601 with every fraction digit; null outside the range of a Date. */
  toISOString(): string | null {
    return isoInstant(this.seconds, this.fraction, this.digits);
  }

  toJSON(): string | null {
    return this.toISOString();
  }
}

/** ISO 8601 of microseconds since the epoch, keeping all 6 fraction digits; null if invalid. */
export function isoFromMicros(micros: bigint): string | null {
  return PreciseTimestamp.of(BigInt(micros), 1_000_000n, 6).toISOString();
}

/** ISO 8601 of nanoseconds since the epoch, keeping all 9 fraction digits; null if invalid. */
export function isoFromNanos(nanos: bigint): string | null {
  return PreciseTimestamp.of(BigInt(nanos), 1_000_000_000n, 9).toISOString();
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function pad(n: number, digits: number): string {
  return String(n).padStart(digits, '0');
}

/**
 * hyparquet parsers for dates and timestamps. DATE becomes its `YYYY-MM-DD` string at once (short, flat and
 * shared by consecutive equal days); TIMESTAMP(MILLIS) stays a Date (hyparquet's default) and finer
 * timestamps become {@link PreciseTimestamp}s, both turned into ISO strings only when a row is built:
 * a row group's worth of long-lived timestamp strings made the garbage collector the main cost of a read.
 */
export const timeParsers: Partial<ParquetParsers> = {
  timestampFromMicroseconds: (micros) => PreciseTimestamp.of(BigInt(micros), 1_000_000n, 6),
  timestampFromNanoseconds: (nanos) => PreciseTimestamp.of(BigInt(nanos), 1_000_000_000n, 9),
  dateFromDays: isoDateFromDays,
};
