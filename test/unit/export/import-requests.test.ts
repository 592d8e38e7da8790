import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { UsernameChunker } from '../../../lib/export/import-requests.ts';
import {
  parseNodeImportRequest,
  requestedReferences,
  requestedRemovals,
} from '../../../lib/ingest/import-request.ts';

const GROUP = { domainId: '3f1d2c4b-6a5e-4d7c-8b9a-0e1f2a3b4c5d', groupId: 'free "group"' };

function chunk(
  names: readonly string[],
  maxBytes: number,
  options: ConstructorParameters<typeof UsernameChunker>[2] = {},
): string[] {
  const chunker = new UsernameChunker(GROUP, maxBytes, options);
  const values: string[] = [];
  for (const name of names) {
    const full = chunker.add(name);
    if (full !== undefined) values.push(full);
  }
  const rest = chunker.flush();
  if (rest !== undefined) values.push(rest);
  return values;
}

describe('username import requests', () => {
  it('carry the run time as asOf in every request, within the size limit', () => {
    const asOf = '2026-12-01T17:50:00.123Z';
    const names = Array.from({ length: 60 }, (_, i) => `user-${i}`);
    const firstFields = {
      filePath: 's3://b/k.csv.gz',
      fileName: 'k.csv.gz',
      contentType: 'application/gzip',
    };

    const values = chunk(names, 400, { field: 'removedUsernames', firstFields, fields: { asOf } });

    assert.ok(values.length > 1);
    for (const [i, value] of values.entries()) {
      assert.ok(Buffer.byteLength(value) <= 400);
      const request = parseNodeImportRequest(value);
      assert.equal(request.asOf, asOf);
      assert.equal(request.filePath, i === 0 ? firstFields.filePath : undefined);
    }
    assert.deepEqual(
      values.flatMap((value) => requestedRemovals(parseNodeImportRequest(value)) ?? []),
      names,
    );
  });

  it('are valid node import requests within the size limit that carry every name once, in order', () => {
    const name = fc.string({
      minLength: 1,
      maxLength: 40,
      unit: fc.constantFrom('a', 'é', '😀', '"', '\\', '\n', 'z'),
    });
    fc.assert(
      fc.property(
        fc.array(name, { maxLength: 200 }),
        fc.integer({ min: 300, max: 2000 }),
        (names, maxBytes) => {
          const values = chunk(names, maxBytes);
          for (const value of values) {
            assert.ok(Buffer.byteLength(value) <= maxBytes, `${Buffer.byteLength(value)} > ${maxBytes}`);
            const request = parseNodeImportRequest(value);
            assert.equal(request.domainId, GROUP.domainId);
            assert.equal(request.groupId, GROUP.groupId);
          }
          const carried = values.flatMap((v) => [...(requestedReferences(parseNodeImportRequest(v)) ?? [])]);
          assert.deepEqual(carried, names);
        },
      ),
    );
  });

  it('fill a request before starting the next', () => {
    const values = chunk(
      Array.from({ length: 100 }, (_, i) => `user-${String(i).padStart(3, '0')}`),
      500,
    );
    assert.ok(values.length > 1);
    for (const value of values.slice(0, -1)) assert.ok(Buffer.byteLength(value) > 500 - 12);
  });

  it('refuses a name that cannot fit a request alone', () => {
    assert.throws(() => chunk(['x'.repeat(400)], 300), RangeError);
  });
});

describe('removal requests', () => {
  const FILE = {
    filePath: 's3://bucket/exports/users/x.csv.gz',
    fileName: 'x.csv.gz',
    contentType: 'application/gzip',
  };

  it('carry every removed name once, the file fields in the first request only, within the size limit', () => {
    const names = Array.from({ length: 120 }, (_, i) => `gone-${String(i).padStart(3, '0')}`);
    const values = chunk(names, 600, { field: 'removedUsernames', firstFields: FILE });
    assert.ok(values.length > 2);
    const requests = values.map((v) => {
      assert.ok(Buffer.byteLength(v) <= 600);
      return parseNodeImportRequest(v);
    });
    assert.equal(requests[0]?.filePath, FILE.filePath);
    assert.equal(requests[0]?.contentType, FILE.contentType);
    for (const request of requests.slice(1)) {
      assert.equal(request.filePath, undefined);
      assert.equal(requestedReferences(request), undefined);
    }
    assert.deepEqual(
      requests.flatMap((r) => [...(requestedRemovals(r) ?? [])]),
      names,
    );
  });

  it('are accepted with either source or alone, under either name, and refused with no source at all', () => {
    const base = { domainId: GROUP.domainId, groupId: 'g' };
    const parse = (value: object) => parseNodeImportRequest(JSON.stringify({ ...base, ...value }));
    assert.deepEqual(requestedRemovals(parse({ removeReferenceIds: ['a'] })), ['a']);
    assert.deepEqual(requestedRemovals(parse({ removedUsernames: ['b'] })), ['b']);
    assert.deepEqual(requestedRemovals(parse({ usernames: ['c'], removedUsernames: ['d'] })), ['d']);
    assert.deepEqual(requestedRemovals(parse({ filePath: 's3://b/k.csv', removeReferenceIds: ['e'] })), [
      'e',
    ]);
    for (const invalid of [
      {},
      { removeReferenceIds: ['a'], removedUsernames: ['a'] },
      { removeReferenceIds: [] },
      { filePath: 's3://b/k.csv', referenceIds: ['a'], removeReferenceIds: ['b'] },
    ]) {
      assert.throws(
        () => parse(invalid),
        (e: Error & { code?: string }) => e.code === 'SCHEMA_VIOLATION',
        JSON.stringify(invalid),
      );
    }
  });
});
