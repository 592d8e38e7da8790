import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PutEventsCommand, PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import { eventBridgeStatusPublisher, type PutEventsClient } from '../../../lib/aws/eventbridge.ts';
import { statusEnvelope } from '../../../lib/jobs/publish-status.ts';
import { JobStatusMessageSchema } from '../../../lib/jobs/status-message.ts';
import type { JobStatusMessage } from '../../../lib/model/types.ts';

const MESSAGE: JobStatusMessage = {
  jobId: '5d7c8a2e-1f3b-4c6d-9e8f-0a1b2c3d4e5f',
  kind: 'nodes',
  groupId: 'dating',
  domainId: 'a4f5e6d7-8c9b-4a1e-9f2d-3c4b5a6e7f80',
  status: 'FAILED',
  processed: 10,
  total: 12,
  successList: ['user-0001'],
  failedList: ['user-0011', 'line:13'],
  failedListUri: 's3://staging/reports/5d7c8a2e/failed.csv',
  failureReason: '2 of 12 rows failed',
  startedAt: '2024-12-12T10:00:00.000Z',
  finishedAt: '2024-12-12T10:00:05.000Z',
};
const ROUTING = {
  topics: { nodes: 'nodes-import-status', matches: 'matches-import-status' },
  typeIds: { nodes: 'N', matches: 'M' },
};

function fakeClient(
  output: Partial<PutEventsCommandOutput> = { FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] },
) {
  const commands: PutEventsCommand[] = [];
  const client: PutEventsClient = {
    async send(command) {
      commands.push(command);
      return { $metadata: {}, ...output };
    },
  };
  return { client, commands };
}

describe('EventBridge status publisher', () => {
  it('puts one ImportJobFinished event from matchbridge on the bus, the status message as detail', async () => {
    const fake = fakeClient();
    const publisher = eventBridgeStatusPublisher('imports-bus', { region: 'eu-west-1', client: fake.client });
    const envelope = statusEnvelope(MESSAGE, ROUTING);

    const status = await publisher.publish(envelope);

    assert.equal(status, 'SENT');
    assert.equal(publisher.destination(envelope), 'eventbridge:imports-bus');
    const entries = fake.commands[0]?.input.Entries ?? [];
    assert.equal(entries.length, 1);
    assert.equal(entries[0]?.EventBusName, 'imports-bus');
    assert.equal(entries[0]?.Source, 'matchbridge');
    assert.equal(entries[0]?.DetailType, 'ImportJobFinished');
    assert.deepEqual(JobStatusMessageSchema.parse(JSON.parse(entries[0]?.Detail ?? '')), MESSAGE);
  });

  it('fails with EVENT_REJECTED when EventBridge did not accept the entry', async () => {
    const fake = fakeClient({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }],
    });
    const publisher = eventBridgeStatusPublisher('imports-bus', { region: 'eu-west-1', client: fake.client });

    await assert.rejects(publisher.publish(statusEnvelope(MESSAGE, ROUTING)), {
      name: 'EventRejectedError',
      code: 'EVENT_REJECTED',
    });
  });

  it('leaves the lists out of a detail too large for an entry, keeping their URIs', async () => {
    const fake = fakeClient();
    const publisher = eventBridgeStatusPublisher('imports-bus', { region: 'eu-west-1', client: fake.client });
    const big = { ...MESSAGE, failedList: Array.from({ length: 1000 }, (_, i) => `${'r'.repeat(250)}${i}`) };

    await publisher.publish(statusEnvelope(big, ROUTING));

    const detail = JSON.parse(fake.commands[0]?.input.Entries?.[0]?.Detail ?? '') as JobStatusMessage;
    assert.deepEqual(detail.failedList, []);
    assert.deepEqual(detail.successList, []);
    assert.equal(detail.failedListUri, MESSAGE.failedListUri);
    assert.equal(detail.processed, 10);
  });
});
