import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_COLUMNS, normalizeHeaderName, resolveHeader } from '../../../lib/csv/header.ts';

describe('normalizeHeaderName', () => {
  it('gives reference_id for every spelling of the reference column', () => {
    for (const raw of [
      'reference_id',
      'Reference ID',
      'referenceId',
      'ReferenceId',
      'REFERENCE-ID',
      ' reference_id ',
    ]) {
      assert.equal(normalizeHeaderName(raw), 'reference_id', raw);
    }
  });

  it('splits camelCase and acronyms into snake_case words', () => {
    assert.equal(normalizeHeaderName('firstName'), 'first_name');
    assert.equal(normalizeHeaderName('HTTPStatus'), 'http_status');
    assert.equal(normalizeHeaderName('userID'), 'user_id');
    assert.equal(normalizeHeaderName('address2Line'), 'address2_line');
    assert.equal(normalizeHeaderName('ÉtatCivil'), 'état_civil');
  });

  it('turns spaces, tabs, hyphens and dots into one underscore and strips them at the ends', () => {
    assert.equal(normalizeHeaderName('date of\tbirth'), 'date_of_birth');
    assert.equal(normalizeHeaderName('a..b--c  d'), 'a_b_c_d');
    assert.equal(normalizeHeaderName('__wants__kids__'), 'wants_kids');
    assert.equal(normalizeHeaderName('-x-'), 'x');
  });

  it('gives an empty name for a blank or separator-only name', () => {
    assert.equal(normalizeHeaderName('   '), '');
    assert.equal(normalizeHeaderName('-_.'), '');
  });
});

describe('resolveHeader', () => {
  it('normalises the names and finds the reference column', () => {
    const resolved = resolveHeader(['Display Name', 'Reference ID', 'dateOfBirth']);

    assert.deepEqual(resolved, {
      header: ['display_name', 'reference_id', 'date_of_birth'],
      referenceColumn: 1,
    });
  });

  it('fails with NO_REFERENCE_COLUMN when no column means reference_id', () => {
    assert.throws(() => resolveHeader(['id', 'name']), {
      name: 'InvalidFileError',
      code: 'NO_REFERENCE_COLUMN',
    });
  });

  it('fails with DUPLICATE_COLUMN when two columns normalise to the same name', () => {
    assert.throws(() => resolveHeader(['reference_id', 'firstName', 'first name']), {
      name: 'InvalidFileError',
      code: 'DUPLICATE_COLUMN',
    });
    assert.throws(() => resolveHeader(['Reference ID', 'reference_id']), {
      name: 'InvalidFileError',
      code: 'DUPLICATE_COLUMN',
    });
  });

  it('fails with EMPTY_HEADER_NAME for a blank column name', () => {
    assert.throws(() => resolveHeader(['reference_id', '', 'name']), {
      name: 'InvalidFileError',
      code: 'EMPTY_HEADER_NAME',
    });
    assert.throws(() => resolveHeader(['reference_id', ' -- ']), {
      name: 'InvalidFileError',
      code: 'EMPTY_HEADER_NAME',
    });
  });

  it('fails with INVALID_HEADER for a name holding NUL, which PostgreSQL cannot store as a key', () => {
    assert.throws(() => resolveHeader(['reference_id', 'na\0me']), {
      name: 'InvalidFileError',
      code: 'INVALID_HEADER',
    });
  });

  it(`fails with TOO_MANY_COLUMNS past ${MAX_COLUMNS} columns`, () => {
    const names = (n: number) => ['reference_id', ...Array.from({ length: n - 1 }, (_, c) => `c${c}`)];
    assert.equal(resolveHeader(names(MAX_COLUMNS)).header.length, MAX_COLUMNS);
    assert.throws(() => resolveHeader(names(MAX_COLUMNS + 1)), {
      name: 'InvalidFileError',
      code: 'TOO_MANY_COLUMNS',
    });
  });
});
