import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { copyGroupUsersCsv } from '../../../lib/export/export-repository.ts';
import { USER_EXPORT_COLUMNS } from '../../../lib/export/user-columns.ts';
import { initLocalConfig } from '../../../lib/local/adapters.ts';
import { runExportLocally } from '../../../lib/local/run-export.ts';
import { closeRuntimeDeps } from '../../../lib/runtime/deps.ts';
import { closeExportDeps } from '../../../lib/runtime/export-deps.ts';
import { testDatabase } from '../../support/database.ts';
import { startTestS3, type TestS3 } from '../../support/s3.ts';
import { createDomain, insertUsers, outboxRequests } from './support.ts';

describe('a group in several ranges, on an S3-compatible store (issue 20, part 2)', () => {
  let s3: TestS3;
  let dir: string;
  let home: string;
  let pool: pg.Pool;
  let closeDb: () => Promise<void>;

  before(async () => {
    s3 = await startTestS3('mb-export-ranges');
    dir = await mkdtemp(join(tmpdir(), 'mb-export-ranges-s3-'));
    home = join(dir, 'home');
    const db = await testDatabase('export_ranges_s3');
    pool = db.pool;
    closeDb = db.close;
    // The SDK's default credential chain reads these; s3rver accepts its own pair.
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    initLocalConfig({
      DATABASE_URL: db.url,
      MATCHBRIDGE_HOME: home,
      S3_ENDPOINT: s3.endpoint,
      EXPORT_BUCKET: s3.bucket,
      EXPORT_ROWS_PER_FUNCTION: '2',
    });
  });
  after(async () => {
    await closeExportDeps();
    await closeRuntimeDeps();
    await closeDb?.();
    await s3?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('joins the parts into one object, deletes them, and sends one request', async () => {
    const domainId = await createDomain(pool, [['s3', true]]);
    const users = ['c', 'a', '=b', 'e', 'd'].map((username) => ({
      username,
      bio: `bio of ${username}, "x"`,
    }));
    await insertUsers(pool, domainId, 's3', users);

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
    assert.equal(group?.file, `s3://${s3.bucket}/${key}`);
    const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    const file = gunzipSync(await object.Body!.transformToByteArray()).toString('utf8');
    const chunks: Buffer[] = [];
    const read = copyGroupUsersCsv(
      pool,
      { domainId, groupId: 's3', since: null, columns: USER_EXPORT_COLUMNS },
      { after: null, through: null, header: true },
      {},
    );
    for await (const chunk of read) chunks.push(chunk);
    assert.equal(file, Buffer.concat(chunks).toString('utf8'));
    const listed = await s3.client.send(
      new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `exports/users/${domainId}/` }),
    );
    assert.deepEqual(
      (listed.Contents ?? []).map((o) => o.Key),
      [key],
    );
    assert.equal((await outboxRequests(home, summary.runId)).length, 1);
  });
});
