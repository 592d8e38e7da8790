import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  isoDateFromDays,
  isoFromMicros,
  isoFromMillis,
  isoFromNanos,
  PreciseTimestamp,
} from '../../../lib/parquet/iso-time.ts';
import { toJsonValue } from '../../../lib/parquet/json-value.ts';

/** The instants a JavaScript Date can hold. */
const MAX_MS = 8.64e15;

describe('ISO 8601 of Parquet dates and timestamps', () => {
  it('writes milliseconds exactly as Date#toISOString', () => {
    fc.assert(
      fc.property(fc.integer({ min: -MAX_MS, max: MAX_MS }), (ms) => {
        assert.equal(isoFromMillis(BigInt(ms)), new Date(ms).toISOString());
      }),
    );
  });

  it('writes days as the date part of Date#toISOString', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000_000, max: 100_000_000 }), (days) => {
        assert.equal(isoDateFromDays(days), new Date(days * 86_400_000).toISOString().split('T')[0]);
      }),
    );
  });

  it('keeps every digit of micro- and nanoseconds, before 1970 too', () => {
    assert.equal(isoFromMicros(1_735_689_600_123_456n), '2025-01-01T00:00:00.123456Z');
    assert.equal(isoFromNanos(1_735_689_600_123_456_789n), '2025-01-01T00:00:00.123456789Z');
    assert.equal(isoFromMicros(-1n), '1969-12-31T23:59:59.999999Z');
    assert.equal(isoFromNanos(-1_000_000_001n), '1969-12-31T23:59:58.999999999Z');
  });

  it('gives null outside the range of a Date', () => {
    assert.equal(isoFromMillis(BigInt(MAX_MS) + 1n), null);
    assert.equal(isoFromMicros(2n ** 63n - 1n), null);
    assert.equal(isoFromMicros(8_640_000_000_000_000_001n), null);
    assert.equal(
      isoFromMicros(8_640_000_000_000_000_000n),
      new Date(8.64e15).toISOString().replace('.000Z', '.000000Z'),
    );
    assert.equal(isoDateFromDays(100_000_001), null);
  });
});

describe('toJsonValue', () => {
  it('converts decoded Parquet values to what JSON keeps exactly', () => {
    const value = {
      small: 42n,
      large: 2n ** 63n - 1n,
      negative: -(2n ** 60n),
      nan: Number.NaN,
      infinite: Number.NEGATIVE_INFINITY,
      when: new Date(Date.UTC(2024, 1, 29, 12)),
      invalid: new Date(Number.NaN),
      micros: PreciseTimestamp.of(1_735_689_600_000_001n, 1_000_000n, 6),
      bytes: new Uint8Array([0, 255, 16]),
      list: [1n, null, 'a', [true]],
      ints: new Int32Array([1, -2]),
      struct: { nested: { deep: undefined } },
    };

    const json = toJsonValue(value);

    assert.deepEqual(json, {
      small: 42,
      large: '9223372036854775807',
      negative: '-1152921504606846976',
      nan: null,
      infinite: null,
      when: '2024-02-29T12:00:00.000Z',
      invalid: null,
      micros: '2025-01-01T00:00:00.000001Z',
      bytes: 'AP8Q',
      list: [1, null, 'a', [true]],
      ints: [1, -2],
      struct: { nested: { deep: null } },
    });
    assert.deepEqual(JSON.parse(JSON.stringify(json)), json);
  });
});
