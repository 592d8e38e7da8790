import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { UsernameChunker } from '../../../lib/export/import-requests.ts';
import { parseNodeImportRequest, requestedReferences } from '../../../lib/ingest/import-request.ts';

const GROUP = { domainId: '3f1d2c4b-6a5e-4d7c-8b9a-0e1f2a3b4c5d', groupId: 'free "group"' };

function chunk(names: readonly string[], maxBytes: number): string[] {
  const chunker = new UsernameChunker(GROUP, maxBytes);
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
