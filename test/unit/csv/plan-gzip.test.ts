import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { createGzip, gzipSync } from 'node:zlib';
import {
  GZIP_RATIO_FLOOR_BYTES,
  isGzip,
  type PlanGzipPartsOptions,
  planGzipParts,
} from '../../../lib/csv/gzip-parts.ts';
import { isRowRejection, parseCsvRange } from '../../../lib/csv/parse-range.ts';
import { planCsvRanges } from '../../../lib/csv/plan-csv.ts';

async function* chunked(bytes: Buffer, size: number, onPull?: () => void): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) {
    onPull?.();
    yield bytes.subarray(at, at + size);
  }
}

/** An in-memory part store that also checks parts are written one at a time. */
function memoryStore() {
  const parts = new Map<string, Buffer>();
  let active = 0;
  let maxActive = 0;
  const writePart = async (index: number, body: AsyncIterable<Buffer>) => {
    active++;
    maxActive = Math.max(maxActive, active);
    const pieces: Buffer[] = [];
    for await (const piece of body) pieces.push(piece);
    const uri = `mem://parts/${index}`;
    parts.set(uri, Buffer.concat(pieces));
    active--;
    return { uri, size: parts.get(uri)!.length };
  };
  return { parts, writePart, maxActive: () => maxActive };
}

function plan(gzipped: Buffer, options: Partial<PlanGzipPartsOptions> & { chunk?: number } = {}) {
  const { chunk = 64, ...rest } = options;
  return planGzipParts(chunked(gzipped, chunk), {
    uri: 's3://bucket/users.csv.gz',
    splitBytes: 1024,
    maxRecordBytes: 4096,
    maxRatio: 200,
    writePart: memoryStore().writePart,
    ...rest,
  });
}

/** A BOM, a header, quoted fields with line breaks, blank lines; CRLF line endings every other line. */
function generateCsv(rows: number): string {
  const lines = ['Reference ID,bio,city'];
  for (let k = 0; k < rows; k++) {
    const bio = k % 3 === 0 ? `"likes ""quotes"",\ncommas and\r\nnewlines ${k}"` : `plain ${k}`;
    lines.push(`ref-${k},${bio},${k % 5 === 0 ? '' : `city ${k % 11}`}`);
    if (k % 17 === 0) lines.push('');
  }
  return `\uFEFF${lines.map((line, k) => `${line}${k % 2 === 0 ? '\r\n' : '\n'}`).join('')}`;
}

async function rowsOf(
  parts: (start: number, end: number, uri: string) => Buffer,
  result: Awaited<ReturnType<typeof planGzipParts>>,
) {
  const rows: unknown[] = [];
  for (const batch of result.batches) {
    const bytes = parts(batch.start, batch.end, batch.uri);
    for await (const row of parseCsvRange(chunked(bytes, 100), {
      header: result.header,
      referenceColumn: result.referenceColumn,
      firstLine: batch.firstLine,
      maxRecordBytes: 4096,
    })) {
      rows.push(row);
    }
  }
  return rows;
}

describe('planGzipParts', () => {
  it('writes record-aligned parts that parse to the same rows as the plain file', async () => {
    const csv = Buffer.from(generateCsv(400));
    // Two gzip members, split in the middle of a record: read as one file.
    const gzipped = Buffer.concat([gzipSync(csv.subarray(0, 5000)), gzipSync(csv.subarray(5000))]);
    const store = memoryStore();

    const result = await plan(gzipped, { splitBytes: 2000, writePart: store.writePart });
    const plain = await planCsvRanges(chunked(csv, 64), {
      uri: 'plain',
      size: csv.length,
      splitBytes: 2000,
      maxBatches: 1000,
      maxRecordBytes: 4096,
    });

    assert.ok(result.batches.length > 3);
    assert.equal(store.maxActive(), 1);
    assert.deepEqual([result.header, result.referenceColumn, result.total], [plain.header, 0, 400]);
    assert.deepEqual(
      result.batches.map((b) => [b.index, b.start, b.end, b.firstLine, b.records]),
      plain.batches.map((b) => [b.index, 0, b.end - b.start, b.firstLine, b.records]),
    );
    for (const batch of result.batches) {
      const plainBatch = plain.batches[batch.index]!;
      assert.deepEqual(store.parts.get(batch.uri), csv.subarray(plainBatch.start, plainBatch.end));
    }
    const partRows = await rowsOf((start, end, uri) => store.parts.get(uri)!.subarray(start, end), result);
    const plainRows = await rowsOf((start, end) => csv.subarray(start, end), plain);
    assert.equal(partRows.length, 400);
    assert.ok(partRows.every((row) => !isRowRejection(row as never)));
    assert.deepEqual(partRows, plainRows);
  });

  it('streams each part to writePart while the file is still being decompressed', async () => {
    const rows = Array.from({ length: 5000 }, (_, k) => `r${k},${randomBytes(60).toString('hex')}\n`);
    const csv = Buffer.from(`reference_id,pad\n${rows.join('')}`);
    const gzipped = gzipSync(csv);
    let pulled = 0;
    let pulledAtFirstPiece = -1;
    const writePart = async (index: number, body: AsyncIterable<Buffer>) => {
      let size = 0;
      for await (const piece of body) {
        if (pulledAtFirstPiece < 0) pulledAtFirstPiece = pulled;
        size += piece.length;
      }
      return { uri: `mem://${index}`, size };
    };
    const chunks = Math.ceil(gzipped.length / 64);

    const result = await planGzipParts(
      chunked(gzipped, 64, () => pulled++),
      { uri: 'u', splitBytes: 10 * 1024 * 1024, maxRecordBytes: 4096, maxRatio: 200, writePart },
    );

    assert.equal(result.batches.length, 1);
    assert.equal(result.batches[0]!.end, csv.length - 17);
    assert.ok(pulledAtFirstPiece > 0 && pulledAtFirstPiece < chunks);
  });

  it('caps the parts at maxBatches, the last part taking the rest', async () => {
    const csv = Buffer.from(generateCsv(300));

    const result = await plan(gzipSync(csv), { splitBytes: 100, maxBatches: 4 });

    assert.equal(result.batches.length, 4);
    assert.equal(
      result.batches.reduce((sum, b) => sum + b.records, 0),
      300,
    );
  });

  it('writes no part for a header-only file', async () => {
    const store = memoryStore();

    const result = await plan(gzipSync('reference_id,name\r\n'), { writePart: store.writePart });

    assert.deepEqual([result.total, result.batches, store.parts.size], [0, [], 0]);
  });

  it('fails with FILE_TRUNCATED when the gzip data ends early', async () => {
    const gzipped = gzipSync(generateCsv(200));

    await assert.rejects(plan(gzipped.subarray(0, gzipped.length - 10)), {
      name: 'InvalidFileError',
      code: 'FILE_TRUNCATED',
    });
  });

  it('fails with CORRUPT_GZIP for bytes that are not gzip, or damaged gzip', async () => {
    await assert.rejects(plan(Buffer.from('reference_id\nr1\n')), {
      name: 'InvalidFileError',
      code: 'CORRUPT_GZIP',
    });
    const damaged = gzipSync(generateCsv(50));
    damaged[damaged.length - 6]! ^= 0xff; // the CRC32 of the member
    await assert.rejects(plan(damaged), { name: 'InvalidFileError', code: 'CORRUPT_GZIP' });
  });

  it('fails with EMPTY_FILE for no bytes at all, or a gzip of nothing', async () => {
    await assert.rejects(plan(Buffer.alloc(0)), { name: 'InvalidFileError', code: 'EMPTY_FILE' });
    await assert.rejects(plan(gzipSync('')), { name: 'InvalidFileError', code: 'EMPTY_FILE' });
  });

  it('fails with the header errors of a plain file', async () => {
    await assert.rejects(plan(gzipSync('id,name\n1,a\n')), {
      name: 'InvalidFileError',
      code: 'NO_REFERENCE_COLUMN',
    });
  });

  it('fails with RECORD_TOO_LARGE, failing the body of the part being written', async () => {
    const csv = `reference_id,bio\n${'r,ok\n'.repeat(20_000)}r,"${'x'.repeat(5000)}\n`;
    let bodyError: unknown;
    const writePart = async (index: number, body: AsyncIterable<Buffer>) => {
      let size = 0;
      try {
        for await (const piece of body) size += piece.length;
      } catch (error) {
        bodyError = error;
        throw error;
      }
      return { uri: `mem://${index}`, size };
    };

    await assert.rejects(plan(gzipSync(csv), { writePart, maxRecordBytes: 1000 }), {
      name: 'InvalidFileError',
      code: 'RECORD_TOO_LARGE',
    });
    assert.equal((bodyError as { code?: unknown }).code, 'RECORD_TOO_LARGE');
  });

  it('refuses a gzip bomb with GZIP_RATIO_EXCEEDED, stopping soon after the floor', async () => {
    // ~100 MiB of one repeated record compresses over 1000×: streamed, never held whole.
    const record = Buffer.from(`${'a'.repeat(60)},${'b'.repeat(60)}\n`);
    async function* bomb(): AsyncGenerator<Buffer> {
      yield Buffer.from('reference_id,name\n');
      const block = Buffer.concat(Array.from({ length: 8192 }, () => record));
      for (let written = 0; written < 100 * 2 ** 20; written += block.length) yield block;
    }
    const compressed = Readable.from(bomb()).pipe(createGzip());
    let received = 0;
    const writePart = async (index: number, body: AsyncIterable<Buffer>) => {
      for await (const piece of body) received += piece.length;
      return { uri: `mem://${index}`, size: 0 };
    };

    await assert.rejects(
      planGzipParts(compressed, {
        uri: 'bomb.csv.gz',
        splitBytes: 2 ** 30,
        maxRecordBytes: 4096,
        maxRatio: 200,
        writePart,
      }),
      { name: 'InvalidFileError', code: 'GZIP_RATIO_EXCEEDED' },
    );
    assert.ok(received <= GZIP_RATIO_FLOOR_BYTES + 2 ** 20, `decompressed ${received} bytes`);
  });

  it('passes a writePart failure through unchanged', async () => {
    class UploadFailedError extends Error {}
    const writePart = async (_index: number, body: AsyncIterable<Buffer>) => {
      for await (const _ of body) throw new UploadFailedError('S3 said no');
      return { uri: 'never', size: 0 };
    };

    await assert.rejects(plan(gzipSync(generateCsv(100)), { writePart }), UploadFailedError);
  });
});

describe('isGzip', () => {
  it('recognises gzip by its magic bytes, a .gz name or a gzip content type', () => {
    const plain = Buffer.from('reference_id\n');

    assert.equal(isGzip(gzipSync('x').subarray(0, 4)), true);
    assert.equal(isGzip(plain, 'users_2024-12-12.CSV.GZ'), true);
    assert.equal(isGzip(plain, 'users.csv', 'application/gzip'), true);
    assert.equal(isGzip(plain, undefined, 'Application/X-Gzip; charset=binary'), true);
    assert.equal(isGzip(plain, 'users.csv', 'text/csv'), false);
    assert.equal(isGzip(Buffer.from([0x1f])), false);
  });
});
