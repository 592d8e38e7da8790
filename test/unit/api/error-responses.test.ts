import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { type ApiRequest, dispatch, type Route } from '../../../lib/api/http.ts';
import {
  ApiRequestError,
  ConfigurationError,
  DatabaseUnavailableError,
  DeadlineExceededError,
  InvalidFileError,
  InvalidRequestError,
} from '../../../lib/errors.ts';

const SECRET = 'postgres://app:s3cret@db.internal:5432/matchbridge';

/** A request to the one route of {@link failingWith}. */
function request(): ApiRequest {
  return {
    method: 'GET',
    path: '/v1/fails',
    query: new URLSearchParams(),
    headers: {},
    body: Readable.from([]),
    caller: { principal: 'test' },
    baseUrl: 'http://localhost',
  };
}

/** The response of a route that throws `error`. */
async function failingWith(
  error: unknown,
): Promise<{ status: number; json: { code: string; message: string } }> {
  const route: Route<undefined> = {
    method: 'GET',
    path: '/v1/fails',
    query: [],
    handle: async () => {
      throw error;
    },
  };
  const response = await dispatch([route], request(), undefined);
  assert.ok('json' in response);
  return { status: response.status, json: response.json as { code: string; message: string } };
}

describe('API error responses: only exposed messages reach the caller', () => {
  it('answers an internal error with its code and a generic message, never its own', async () => {
    const cases = [
      [new DatabaseUnavailableError(`connection to ${SECRET} refused`), 503, 'DATABASE_UNAVAILABLE'],
      [new DeadlineExceededError(`COPY into ${SECRET} cancelled`), 503, 'DEADLINE_EXCEEDED'],
      [new ConfigurationError(`DATABASE_URL=${SECRET} is invalid`), 500, 'INVALID_CONFIGURATION'],
      [new Error(`unexpected reply from ${SECRET}`), 500, 'INTERNAL_ERROR'],
    ] as const;

    for (const [error, status, code] of cases) {
      const response = await failingWith(error);

      assert.equal(response.status, status, error.name);
      assert.equal(response.json.code, code);
      assert.ok(!JSON.stringify(response.json).includes('s3cret'), `${error.name} leaked its message`);
      assert.ok(!JSON.stringify(response.json).includes('db.internal'), `${error.name} leaked its message`);
    }
  });

  it('shows the message of an error the caller caused', async () => {
    const refused = await failingWith(
      new ApiRequestError(422, 'KEY_REUSED', 'the key was used for another request'),
    );
    const badRequest = await failingWith(
      new InvalidRequestError('INVALID_GROUP', 'groupId must not be empty'),
    );
    const badFile = await failingWith(new InvalidFileError('EMPTY_FILE', 'the file has no rows'));

    assert.deepEqual(refused, {
      status: 422,
      json: { code: 'KEY_REUSED', message: 'the key was used for another request' },
    });
    assert.deepEqual(badRequest, {
      status: 400,
      json: { code: 'INVALID_GROUP', message: 'groupId must not be empty' },
    });
    assert.deepEqual(badFile, { status: 400, json: { code: 'EMPTY_FILE', message: 'the file has no rows' } });
  });

  it('exposes nothing by default: a new error class opts in', () => {
    assert.equal(new DatabaseUnavailableError('x').expose, false);
    assert.equal(new ConfigurationError('x').expose, false);
    assert.equal(new DeadlineExceededError('x').expose, false);
    assert.equal(new InvalidRequestError('C', 'x').expose, true);
  });
});
