import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatabaseUnavailableError } from '../../../lib/errors.ts';
import { ingestObjectCreated, parseNodeUploadKey } from '../../../lib/ingest/object-created.ts';
import type { ExecutionStarter } from '../../../lib/model/ingest.ts';
import { fakeSink, fakeStarter } from '../../support/ingest-fakes.ts';
import { objectCreatedEvent } from '../../support/s3-events.ts';

const DOMAIN = 'a4f5e6d7-8c9b-4a1e-9f2d-3c4b5a6e7f80';
const BUCKET = 'matchbridge-uploads';

describe('S3 upload trigger (EventBridge Object Created)', () => {
  it('starts an import of the uploaded file for the domain and group its key names', async () => {
    const starter = fakeStarter();
    const key = `incoming/nodes/${DOMAIN}/dating/users_2024-12-12.csv.gz`;

    const outcome = await ingestObjectCreated(objectCreatedEvent(key, { bucket: BUCKET }), {
      starter,
      deadLetters: fakeSink(),
    });

    assert.equal(outcome.started.length, 1);
    const input = starter.inputs[0];
    assert.equal(input?.jobId, outcome.started[0]?.jobId);
    assert.equal(input?.domainId, DOMAIN);
    assert.equal(input?.groupId, 'dating');
    assert.equal(input?.kind, 'nodes');
    assert.equal(input?.source.uri, `s3://${BUCKET}/${key}`);
    assert.equal(input?.source.fileName, 'users_2024-12-12.csv.gz');
    assert.deepEqual(outcome.started[0], {
      jobId: input?.jobId,
      topic: `s3:${BUCKET}`,
      partition: 0,
      offset: 0,
    });
  });

  it('uses the key as EventBridge sends it, without URL-decoding', async () => {
    const starter = fakeStarter();
    const key = `incoming/nodes/${DOMAIN}/team a+b/users 100%25.csv`;

    await ingestObjectCreated(objectCreatedEvent(key, { bucket: BUCKET }), {
      starter,
      deadLetters: fakeSink(),
    });

    assert.equal(starter.inputs[0]?.groupId, 'team a+b');
    assert.equal(starter.inputs[0]?.source.uri, `s3://${BUCKET}/${key}`);
  });

  it('starts one job for a redelivered event, and a new one for a new upload under the same key', async () => {
    const starter = fakeStarter();
    const deps = { starter, deadLetters: fakeSink() };
    const key = `incoming/nodes/${DOMAIN}/dating/users.csv`;
    const event = objectCreatedEvent(key, { sequencer: '0064D3901D00059242' });

    const first = await ingestObjectCreated(event, deps);
    const redelivered = await ingestObjectCreated({ ...event, id: 'another-delivery' }, deps);
    const overwritten = await ingestObjectCreated(
      objectCreatedEvent(key, { sequencer: '0064D3901D00059999' }),
      deps,
    );

    assert.equal(first.started.length, 1);
    assert.equal(redelivered.duplicates, 1);
    assert.equal(overwritten.started.length, 1);
    assert.equal(starter.inputs.length, 2);
  });

  const invalid: Array<[string, string]> = [
    ['WRONG_PREFIX', `incoming/matches/${DOMAIN}/dating/users.csv`],
    ['WRONG_PREFIX', `nodes/${DOMAIN}/dating/users.csv`],
    ['INVALID_DOMAIN', 'incoming/nodes/not-a-uuid/dating/users.csv'],
    ['INVALID_GROUP', `incoming/nodes/${DOMAIN}//users.csv`],
    ['INVALID_GROUP', `incoming/nodes/${DOMAIN}/   /users.csv`],
    ['INVALID_GROUP', `incoming/nodes/${DOMAIN}/${'g'.repeat(256)}/users.csv`],
    ['PATH_TRAVERSAL', `incoming/nodes/${DOMAIN}/dating/../../../etc/passwd`],
    ['PATH_TRAVERSAL', `incoming/nodes/${DOMAIN}/../dating/users.csv`],
    ['PATH_TRAVERSAL', `incoming/nodes/${DOMAIN}/./users.csv`],
    ['NESTED_FOLDERS', `incoming/nodes/${DOMAIN}/dating/2024/users.csv`],
    ['MISSING_SEGMENTS', `incoming/nodes/${DOMAIN}/users.csv`],
    ['MISSING_FILE_NAME', `incoming/nodes/${DOMAIN}/dating/`],
  ];

  for (const [code, key] of invalid) {
    it(`dead-letters ${key.slice(0, 60)} as ${code}, with the event and its reason`, async () => {
      const starter = fakeStarter();
      const sink = fakeSink();
      const event = objectCreatedEvent(key, { bucket: BUCKET });

      const outcome = await ingestObjectCreated(event, { starter, deadLetters: sink });

      assert.equal(starter.inputs.length, 0);
      assert.equal(sink.letters.length, 1);
      const letter = sink.letters[0];
      assert.equal(letter?.code, code);
      assert.equal(letter?.topic, `s3:${BUCKET}`);
      assert.equal(letter?.partition, 0);
      assert.equal(letter?.offset, 0);
      assert.equal(letter?.key, key);
      assert.equal(letter?.valueEncoding, 'utf8');
      assert.deepEqual(JSON.parse(letter?.value ?? 'null'), event);
      assert.deepEqual(outcome.deadLettered, [
        { topic: `s3:${BUCKET}`, partition: 0, offset: 0, reason: letter?.reason },
      ]);
    });
  }

  it('dead-letters an event that is not an Object Created event', async () => {
    const sink = fakeSink();
    const deleted = {
      ...objectCreatedEvent(`incoming/nodes/${DOMAIN}/dating/users.csv`),
      'detail-type': 'Object Deleted',
    };

    const outcome = await ingestObjectCreated(deleted, { starter: fakeStarter(), deadLetters: sink });

    assert.equal(outcome.deadLettered.length, 1);
    assert.equal(sink.letters[0]?.code, 'NOT_OBJECT_CREATED');
  });

  it('fails the invocation on an infrastructure error so that it is retried', async () => {
    const starter: ExecutionStarter = {
      async start() {
        throw new DatabaseUnavailableError('down');
      },
    };

    await assert.rejects(
      ingestObjectCreated(objectCreatedEvent(`incoming/nodes/${DOMAIN}/dating/users.csv`), {
        starter,
        deadLetters: fakeSink(),
      }),
      { name: 'DatabaseUnavailableError' },
    );
  });

  it('reads the domain, group and file name of a well-formed key', () => {
    assert.deepEqual(parseNodeUploadKey(`incoming/nodes/${DOMAIN}/ dating /users.csv`), {
      domainId: DOMAIN,
      groupId: 'dating',
      fileName: 'users.csv',
    });
  });
});
