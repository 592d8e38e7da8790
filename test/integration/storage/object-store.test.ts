import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { InvalidFileError, InvalidRequestError } from '../../../lib/errors.ts';
import { type ObjectStore, pinOf } from '../../../lib/storage/object-store.ts';
import { createObjectStore } from '../../../lib/storage/store.ts';
import { startTestS3, type TestS3 } from '../../support/s3.ts';

const body = randomBytes(6 * 1024 * 1024 + 123);

describe('object store over an S3-compatible endpoint', () => {
  let s3: TestS3;
  let store: ObjectStore;
  let uri: string;

  before(async () => {
    s3 = await startTestS3();
    store = createObjectStore({ s3: () => s3.client, allowLocalFiles: false });
    uri = `s3://${s3.bucket}/incoming/nodes/file.bin`;
    await store.write(uri, Readable.from([body.subarray(0, 1000), body.subarray(1000)]));
  });
  after(() => s3.close());

  it('writes with a multipart upload and reads the object back whole', async () => {
    const info = await store.head(uri);
    assert.equal(info.size, body.length);
    assert.ok((await buffer(await store.read(uri))).equals(body));
  });

  it('reads exactly the bytes of a range with GetObject Range', async () => {
    const range = { start: 5_000_123, end: 5_300_000 };
    const bytes = await buffer(await store.read(uri, range));
    assert.ok(bytes.equals(body.subarray(range.start, range.end)));
  });

  it('reads an https path-style URL as bucket and key', async () => {
    const bytes = await buffer(
      await store.read(`${s3.endpoint}/${s3.bucket}/incoming/nodes/file.bin`, { start: 0, end: 10 }),
    );
    assert.ok(bytes.equals(body.subarray(0, 10)));
  });

  it('reports a missing object as FILE_NOT_FOUND', async () => {
    await assert.rejects(store.head(`s3://${s3.bucket}/missing.csv`), {
      name: 'InvalidFileError',
      code: 'FILE_NOT_FOUND',
    });
    assert.equal(await store.exists(`s3://${s3.bucket}/missing.csv`), false);
  });

  it('removes an object and every object under it as a folder, and nothing beside it', async () => {
    const at = (key: string) => `s3://${s3.bucket}/staging/job-1${key}`;
    for (const key of ['/a.csv', '/parts/p1.csv', '/parts/p2.csv']) await store.write(at(key), 'x');
    await store.write(`s3://${s3.bucket}/staging/job-10/kept.csv`, 'x');

    assert.equal(await store.remove(at('')), 3);
    assert.equal(await store.remove(at('')), 0);
    assert.equal(await store.exists(at('/parts/p1.csv')), false);
    assert.equal(await store.exists(`s3://${s3.bucket}/staging/job-10/kept.csv`), true);
  });

  it('a pinned read of an object overwritten since its HEAD fails SOURCE_CHANGED; an unchanged one reads', async () => {
    const pinned = `s3://${s3.bucket}/incoming/nodes/pinned.csv`;
    await store.write(pinned, 'reference_id\na\n');
    const pin = pinOf(await store.head(pinned));
    assert.equal(
      (await buffer(await store.read(pinned, { start: 0, end: 12 }, pin))).toString(),
      'reference_id',
    );

    await store.write(pinned, 'reference_id\nb\n');

    await assert.rejects(store.read(pinned, { start: 13, end: 15 }, pin), {
      name: 'SourceChangedError',
      code: 'SOURCE_CHANGED',
    });
  });

  it('refuses local paths outside local mode', async () => {
    await assert.rejects(store.head('/etc/passwd'), (error: unknown) => {
      assert.ok(error instanceof InvalidRequestError);
      assert.equal(error.code, 'INVALID_FILE_PATH');
      return true;
    });
  });
});

describe('object store over local files', () => {
  let dir: string;
  let store: ObjectStore;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-store-'));
    store = createObjectStore({
      s3: () => {
        throw new Error('no S3 in this test');
      },
      allowLocalFiles: true,
    });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads ranges of a local file and writes new files atomically', async () => {
    const path = join(dir, 'a', 'b.bin');
    await store.write(path, body.subarray(0, 4096));
    assert.ok(
      (await buffer(await store.read(path, { start: 100, end: 200 }))).equals(body.subarray(100, 200)),
    );
    assert.equal((await store.head(`file://${path}`)).size, 4096);
  });

  it('a pinned read of a file rewritten since its HEAD fails SOURCE_CHANGED, before or while reading', async () => {
    const path = join(dir, 'pinned.csv');
    await writeFile(path, 'reference_id\na\n');
    const pin = pinOf(await store.head(path));
    const reading = await store.read(path, undefined, pin);
    await writeFile(path, 'reference_id\nb\n');

    await assert.rejects(buffer(reading), { name: 'SourceChangedError', code: 'SOURCE_CHANGED' });
    await assert.rejects(store.read(path, { start: 13, end: 15 }, pin), { code: 'SOURCE_CHANGED' });
  });

  it('rejects a range beyond the end of the file', async () => {
    const path = join(dir, 'small.bin');
    await writeFile(path, 'abc');
    await assert.rejects(store.read(path, { start: 0, end: 10 }), (error: unknown) => {
      assert.ok(error instanceof InvalidFileError);
      assert.equal(error.code, 'RANGE_OUT_OF_BOUNDS');
      return true;
    });
  });

  it('reports a missing file as FILE_NOT_FOUND and a folder as NOT_A_FILE', async () => {
    await assert.rejects(store.head(join(dir, 'nope.csv')), { code: 'FILE_NOT_FOUND' });
    await assert.rejects(store.head(dir), { code: 'NOT_A_FILE' });
  });

  it('removes a file, or a folder with the files in it', async () => {
    const folder = join(dir, 'staging', 'job-1');
    await store.write(join(folder, 'parts', 'p1.csv'), 'x');
    await store.write(join(folder, 'a.csv'), 'x');
    await store.write(join(dir, 'single.csv'), 'x');

    assert.equal(await store.remove(folder), 2);
    assert.equal(await store.remove(join(dir, 'single.csv')), 1);
    assert.equal(await store.remove(folder), 0);
    assert.equal(await store.exists(join(dir, 'single.csv')), false);
  });
});
