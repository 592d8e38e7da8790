import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { runExportLocally } from '../../../lib/local/run-export.ts';
import { createDomain, insertUsers, localS3Export, outboxRequests, wholeGroupCsv } from './support.ts';

describe('a group in several ranges, on an S3-compatible store (issue 20, part 2)', () => {
  const suite = localS3Export('export_ranges_s3', 'mb-export-ranges', { EXPORT_ROWS_PER_FUNCTION: '2' });

  it('joins the parts into one object, deletes them, and sends one request', async () => {
    const domainId = await createDomain(suite.pool, [['s3', true]]);
    const users = ['c', 'a', '=b', 'e', 'd'].map((username) => ({
      username,
      bio: `bio of ${username}, "x"`,
    }));
    await insertUsers(suite.pool, domainId, 's3', users);

    let ranges = 0;
    const summary = await runExportLocally(
      { domainId, trigger: 'test' },
      { observe: (_handler, input) => void ('range' in (input as object) && ranges++) },
    );

    assert.equal(ranges, 3);
    const [group] = summary.groups;
    assert.equal(group?.status, 'COMPLETED');
    assert.equal(group?.exported, users.length);
    const key = `exports/users/${domainId}/s3/users_${summary.date}.csv.gz`;
    assert.equal(group?.file, `s3://${suite.s3.bucket}/${key}`);
    const object = await suite.s3.client.send(new GetObjectCommand({ Bucket: suite.s3.bucket, Key: key }));
    const file = gunzipSync(await object.Body!.transformToByteArray()).toString('utf8');
    assert.equal(file, await wholeGroupCsv(suite.pool, domainId, 's3'));
    const listed = await suite.s3.client.send(
      new ListObjectsV2Command({ Bucket: suite.s3.bucket, Prefix: `exports/users/${domainId}/` }),
    );
    assert.deepEqual(
      (listed.Contents ?? []).map((o) => o.Key),
      [key],
    );
    assert.equal((await outboxRequests(suite.home, summary.runId)).length, 1);
  });
});
