import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type QueuedMessage, type ReplayQueue, replayQueue } from '../../../lib/aws/sqs-replay.ts';
import { StorageUnavailableError } from '../../../lib/errors.ts';
import { ingestRecords } from '../../../lib/ingest/ingest-records.ts';
import { replayDeadLetter } from '../../../lib/ingest/replay.ts';
import type { DeadLetter, ExecutionStarter } from '../../../lib/model/ingest.ts';
import { fakeStarter } from '../../support/ingest-fakes.ts';
import { mskEvent, mskRecord } from '../../support/msk-events.ts';

const DOMAIN = 'a4f5e6d7-8c9b-4a1e-9f2d-3c4b5a6e7f80';
const START = 10_000;

/**
 * An in-memory SQS queue with its visibility rule: a received message is hidden until deleted or released.
 * Messages sent through `sink` carry a send time after START, as letters dead-lettered during a run would.
 */
function memoryQueue(): ReplayQueue & {
  messages: Array<QueuedMessage & { hidden: boolean }>;
  sink: { send(letter: DeadLetter): Promise<void> };
  put(body: string, sentAt?: number): void;
} {
  let next = 0;
  const messages: Array<QueuedMessage & { hidden: boolean }> = [];
  const put = (body: string, sentAt = START - 1000) => {
    next += 1;
    messages.push({ messageId: `m${next}`, receiptHandle: `r${next}`, body, sentAt, hidden: false });
  };
  return {
    messages,
    put,
    sink: {
      async send(letter) {
        put(JSON.stringify(letter), START + 1000);
      },
    },
    async receive(max) {
      const visible = messages.filter((m) => !m.hidden).slice(0, Math.min(max, 10));
      for (const m of visible) m.hidden = true;
      return visible.map(({ hidden: _, ...m }) => m);
    },
    async delete(message) {
      messages.splice(
        messages.findIndex((m) => m.receiptHandle === message.receiptHandle),
        1,
      );
    },
    async release(message) {
      const found = messages.find((m) => m.receiptHandle === message.receiptHandle);
      if (found) found.hidden = false;
    },
  };
}

/** The letter ingest writes for a record, as its SQS message body. */
async function letterBody(value: string, offset: number, allowLocalFiles = false): Promise<string> {
  let body = '';
  await ingestRecords(mskEvent([mskRecord(value, { offset })]), {
    starter: fakeStarter(),
    deadLetters: {
      async send(letter) {
        body = JSON.stringify(letter);
      },
    },
    allowLocalFiles,
  });
  return body;
}

const localRequest = JSON.stringify({ domainId: DOMAIN, groupId: 'g', filePath: 'samples/nodes.csv' });

describe('replay of the SQS dead-letter queue', () => {
  it('replays each letter once, deletes it, and leaves the letters dead-lettered again for a later run', async () => {
    const queue = memoryQueue();
    queue.put(await letterBody(localRequest, 1));
    queue.put(await letterBody('{not json', 2));
    queue.put(await letterBody(localRequest, 3));
    const starter = fakeStarter();
    const deps = { starter, deadLetters: queue.sink, allowLocalFiles: true };

    const summary = await replayQueue(queue, (letter) => replayDeadLetter(letter, deps), {
      max: 100,
      now: () => START,
    });

    assert.deepEqual(
      summary.replayed.map((r) => r.outcome),
      ['started', 'dead-lettered', 'started'],
    );
    assert.equal(starter.inputs.length, 2);
    assert.equal(queue.messages.length, 1);
    assert.equal(JSON.parse(queue.messages[0]?.body ?? '{}').code, 'NOT_JSON');
    assert.equal(queue.messages[0]?.hidden, false);
  });

  it('stops after max letters', async () => {
    const queue = memoryQueue();
    for (let offset = 0; offset < 5; offset += 1) queue.put(await letterBody(localRequest, offset));
    const deps = { starter: fakeStarter(), deadLetters: queue.sink, allowLocalFiles: true };

    const summary = await replayQueue(queue, (letter) => replayDeadLetter(letter, deps), {
      max: 2,
      now: () => START,
    });

    assert.equal(summary.replayed.length, 2);
    assert.equal(queue.messages.length, 3);
  });

  it('keeps a letter whose replay hit an infrastructure error, and the rest of its batch, visible', async () => {
    const queue = memoryQueue();
    queue.put(await letterBody(localRequest, 1));
    queue.put(await letterBody(localRequest, 2));
    const failing: ExecutionStarter = {
      async start() {
        throw new StorageUnavailableError('throttled');
      },
    };
    const deps = { starter: failing, deadLetters: queue.sink, allowLocalFiles: true };

    await assert.rejects(
      replayQueue(queue, (letter) => replayDeadLetter(letter, deps), { max: 10, now: () => START }),
      { name: 'StorageUnavailableError' },
    );

    assert.equal(queue.messages.length, 2);
    assert.ok(queue.messages.every((m) => !m.hidden));
  });

  it('skips a message that is not a dead letter without deleting it', async () => {
    const queue = memoryQueue();
    queue.put('{"something":"else"}');
    queue.put(await letterBody(localRequest, 1));
    const deps = { starter: fakeStarter(), deadLetters: queue.sink, allowLocalFiles: true };

    const summary = await replayQueue(queue, (letter) => replayDeadLetter(letter, deps), {
      max: 10,
      now: () => START,
    });

    assert.equal(summary.skipped.length, 1);
    assert.equal(summary.replayed.length, 1);
    assert.deepEqual(
      queue.messages.map((m) => m.body),
      ['{"something":"else"}'],
    );
  });
});
