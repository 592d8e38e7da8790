import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EVERY_GROUP, erasureInput, parseErasureRequest } from '../../../lib/erasure/erasure-request.ts';
import { InvalidRequestError } from '../../../lib/errors.ts';

const DOMAIN = '0f1e2d3c-4b5a-4968-8776-655443322110';

describe('erasure request', () => {
  it('takes a domain, an optional group and the ids, ignoring fields it does not know', () => {
    const request = parseErasureRequest(
      JSON.stringify({ domainId: DOMAIN, groupId: ' g1 ', eraseReferenceIds: ['a', 'b'], producer: 'x' }),
    );

    assert.deepEqual(request, { domainId: DOMAIN, groupId: 'g1', eraseReferenceIds: ['a', 'b'] });
  });

  for (const [why, value, code] of [
    ['not JSON', '{', 'NOT_JSON'],
    ['no ids', JSON.stringify({ domainId: DOMAIN, eraseReferenceIds: [] }), 'SCHEMA_VIOLATION'],
    ['no domain', JSON.stringify({ eraseReferenceIds: ['a'] }), 'SCHEMA_VIOLATION'],
    [
      'a domain that is no UUID',
      JSON.stringify({ domainId: 'd', eraseReferenceIds: ['a'] }),
      'SCHEMA_VIOLATION',
    ],
    [
      'an empty group',
      JSON.stringify({ domainId: DOMAIN, groupId: '', eraseReferenceIds: ['a'] }),
      'SCHEMA_VIOLATION',
    ],
    [
      'ids that are not strings',
      JSON.stringify({ domainId: DOMAIN, eraseReferenceIds: [1] }),
      'SCHEMA_VIOLATION',
    ],
  ] as const) {
    it(`refuses ${why} with ${code}`, () => {
      assert.throws(
        () => parseErasureRequest(value),
        (error: unknown) => error instanceof InvalidRequestError && error.code === code,
      );
    });
  }

  it('erases every group when none is given, one group otherwise', () => {
    const every = erasureInput({ domainId: DOMAIN }, 'job', 'cli', 'uri');
    const one = erasureInput({ domainId: DOMAIN, groupId: 'g1' }, 'job', 'cli', 'uri');

    assert.deepEqual([every.everyGroup, every.groupId], [true, EVERY_GROUP]);
    assert.deepEqual([one.everyGroup, one.groupId], [false, 'g1']);
    assert.deepEqual(one.source, { uri: 'uri', kind: 'references' });
    assert.equal(one.kind, 'erasure');
  });
});
