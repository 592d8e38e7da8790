import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ingestRecords } from '../../../lib/ingest/ingest-records.ts';
import { ingestObjectCreated } from '../../../lib/ingest/object-created.ts';
import { recordOfLetter, replayDeadLetter } from '../../../lib/ingest/replay.ts';
import type { DeadLetter } from '../../../lib/model/ingest.ts';
import { fakeSink, fakeStarter } from '../../support/ingest-fakes.ts';
import { mskEvent, mskRecord } from '../../support/msk-events.ts';
import { objectCreatedEvent } from '../../support/s3-events.ts';

const DOMAIN = 'a4f5e6d7-8c9b-4a1e-9f2d-3c4b5a6e7f80';

/** Dead-letters one record through the real ingest path and returns its letter. */
async function letterOf(record: ReturnType<typeof mskRecord>, allowLocalFiles = false): Promise<DeadLetter> {
  const sink = fakeSink();
  await ingestRecords(mskEvent([record]), { starter: fakeStarter(), deadLetters: sink, allowLocalFiles });
  const letter = sink.letters[0];
  assert.ok(letter, 'the record was dead-lettered');
  return letter;
}

describe('dead-letter replay', () => {
  it('rebuilds the original record: topic, partition, offset, key, headers and value bytes', async () => {
    const original = mskRecord(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), {
      topic: 'eu-users',
      partition: 3,
      offset: 812,
      key: 'user-42',
      headers: { 'idempotency-key': 'k-1', source: 'export' },
    });

    const rebuilt = recordOfLetter(await letterOf(original));

    assert.deepEqual(
      { ...rebuilt, headers: [...(rebuilt.headers ?? [])] },
      {
        topic: 'eu-users',
        partition: 3,
        offset: 812,
        key: original.key,
        value: original.value,
        headers: original.headers,
      },
    );
  });

  it('starts a letter that is valid now under the job id its record always had', async () => {
    const record = mskRecord(
      JSON.stringify({ domainId: DOMAIN, groupId: 'g', filePath: 'samples/nodes.csv' }),
      {
        offset: 5,
      },
    );
    const letter = await letterOf(record, false);
    const starter = fakeStarter();
    const direct = fakeStarter();
    await ingestRecords(mskEvent([record]), {
      starter: direct,
      deadLetters: fakeSink(),
      allowLocalFiles: true,
    });

    const outcome = await replayDeadLetter(letter, {
      starter,
      deadLetters: fakeSink(),
      allowLocalFiles: true,
    });

    assert.equal(letter.code, 'INVALID_FILE_PATH');
    assert.equal(outcome.outcome, 'started');
    assert.equal(starter.inputs[0]?.jobId, direct.inputs[0]?.jobId);
    assert.equal(outcome.outcome === 'started' && outcome.jobId, direct.inputs[0]?.jobId);
  });

  it('is a duplicate when the job of its idempotency key was started meanwhile', async () => {
    const headers = { 'idempotency-key': 'export-2024-12-12' };
    const value = JSON.stringify({ domainId: DOMAIN, groupId: 'g', filePath: 'samples/nodes.csv' });
    const letter = await letterOf(mskRecord(value, { offset: 1, headers }), false);
    const starter = fakeStarter();
    const deps = { starter, deadLetters: fakeSink(), allowLocalFiles: true };
    await ingestRecords(mskEvent([mskRecord(value, { offset: 2, headers })]), deps);

    const outcome = await replayDeadLetter(letter, deps);

    assert.equal(outcome.outcome, 'duplicate');
    assert.equal(starter.inputs.length, 1);
  });

  it('dead-letters a record that is still invalid again, with the reason of today', async () => {
    const letter = await letterOf(mskRecord('{"domainId": ', { key: 'k' }));
    const sink = fakeSink();

    const outcome = await replayDeadLetter(letter, {
      starter: fakeStarter(),
      deadLetters: sink,
      allowLocalFiles: true,
    });

    assert.equal(outcome.outcome, 'dead-lettered');
    assert.equal(sink.letters.length, 1);
    assert.deepEqual({ ...sink.letters[0], reason: letter.reason }, letter);
  });

  it('replays an upload letter through the upload path', async () => {
    const sink = fakeSink();
    const bad = objectCreatedEvent(`incoming/nodes/${DOMAIN}/g/sub/users.csv`, { bucket: 'uploads' });
    await ingestObjectCreated(bad, { starter: fakeStarter(), deadLetters: sink });
    const uploadLetter = sink.letters[0];
    assert.ok(uploadLetter);
    const good = objectCreatedEvent(`incoming/nodes/${DOMAIN}/g/users.csv`, { bucket: 'uploads' });
    const starter = fakeStarter();
    const again = fakeSink();

    const stillBad = await replayDeadLetter(uploadLetter, {
      starter,
      deadLetters: again,
      allowLocalFiles: false,
    });
    const nowGood = await replayDeadLetter(
      { ...uploadLetter, code: 'OLD_RULE', key: good.detail.object.key, value: JSON.stringify(good) },
      { starter, deadLetters: again, allowLocalFiles: false },
    );

    assert.equal(stillBad.outcome, 'dead-lettered');
    assert.equal(again.letters[0]?.code, 'NESTED_FOLDERS');
    assert.equal(nowGood.outcome, 'started');
    assert.equal(starter.inputs[0]?.source.uri, `s3://uploads/incoming/nodes/${DOMAIN}/g/users.csv`);
  });
});
