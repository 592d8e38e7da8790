import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { openRangeBuffer } from '../../../lib/parquet/range-buffer.ts';
import type { ByteRange } from '../../../lib/storage/object-store.ts';
import { recordingStore, tempFolder } from './fixtures.ts';

const CONTENT = Buffer.from(Array.from({ length: 1_000 }, (_, i) => i % 251));

describe('RangeBuffer', () => {
  let folder: Awaited<ReturnType<typeof tempFolder>>;
  let uri: string;
  before(async () => {
    folder = await tempFolder();
    uri = folder.path('bytes.bin');
    await writeFile(uri, CONTENT);
  });
  after(async () => {
    await folder.remove();
  });

  it('reads exactly the bytes of each slice, one range read each, and counts them', async () => {
    const { store, reads } = recordingStore();
    const seen: ByteRange[] = [];
    const buffer = await openRangeBuffer(store, uri, { onRead: (range) => seen.push(range) });

    const a = await buffer.slice(10, 20);
    const b = await buffer.slice(500, 700);
    const empty = await buffer.slice(30, 30);

    assert.equal(buffer.byteLength, 1_000);
    assert.deepEqual(Buffer.from(a), CONTENT.subarray(10, 20));
    assert.deepEqual(Buffer.from(b), CONTENT.subarray(500, 700));
    assert.equal(empty.byteLength, 0);
    assert.deepEqual(reads, [
      { start: 10, end: 20 },
      { start: 500, end: 700 },
    ]);
    assert.deepEqual(seen, reads);
    assert.equal(buffer.bytesRead, 210);
    assert.equal(buffer.requests, 2);
  });

  it('keeps the end of the object: later reads inside it are free, a longer one reads only what is missing', async () => {
    const { store, reads } = recordingStore();
    const buffer = await openRangeBuffer(store, uri);

    const last8 = await buffer.slice(992);
    const footer = await buffer.slice(900, 1_000);
    const inside = await buffer.slice(950, 960);

    assert.deepEqual(Buffer.from(last8), CONTENT.subarray(992));
    assert.deepEqual(Buffer.from(footer), CONTENT.subarray(900));
    assert.deepEqual(Buffer.from(inside), CONTENT.subarray(950, 960));
    assert.deepEqual(reads, [
      { start: 992, end: 1_000 },
      { start: 900, end: 992 },
    ]);
    assert.equal(buffer.bytesRead, 100);
  });

  it('does not keep an end larger than footerCacheBytes', async () => {
    const { store, reads } = recordingStore();
    const buffer = await openRangeBuffer(store, uri, { footerCacheBytes: 50 });

    await buffer.slice(900);
    await buffer.slice(950, 960);

    assert.deepEqual(reads, [
      { start: 900, end: 1_000 },
      { start: 950, end: 960 },
    ]);
  });

  it('returns copies: changing a slice does not change the cached end', async () => {
    const buffer = await openRangeBuffer(recordingStore().store, uri);

    new Uint8Array(await buffer.slice(990)).fill(0);
    const again = await buffer.slice(990);

    assert.deepEqual(Buffer.from(again), CONTENT.subarray(990));
  });

  it('fails with RANGE_OUT_OF_BOUNDS past the end, without reading', async () => {
    const { store, reads } = recordingStore();
    const buffer = await openRangeBuffer(store, uri);

    await assert.rejects(buffer.slice(990, 1_001), { name: 'InvalidFileError', code: 'RANGE_OUT_OF_BOUNDS' });
    await assert.rejects(buffer.slice(-1, 10), RangeError);
    assert.equal(reads.length, 0);
  });
});
