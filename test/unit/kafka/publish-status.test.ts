import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatabaseUnavailableError } from '../../../lib/errors.ts';
import {
  noStatusPublisher,
  publishStatus,
  type StatusDelivery,
  statusEnvelope,
} from '../../../lib/jobs/publish-status.ts';
import type { RetryPolicy } from '../../../lib/model/retry.ts';
import type { StatusDeadLetter, StatusEnvelope, StatusPublisher } from '../../../lib/model/status.ts';
import type { JobStatusMessage } from '../../../lib/model/types.ts';

const MESSAGE: JobStatusMessage = {
  jobId: '5d7c8a2e-1f3b-4c6d-9e8f-0a1b2c3d4e5f',
  kind: 'nodes',
  groupId: 'dating',
  domainId: 'a4f5e6d7-8c9b-4a1e-9f2d-3c4b5a6e7f80',
  status: 'COMPLETED',
  processed: 12,
  total: 12,
  successList: ['user-0001'],
  failedList: [],
  successListUri: 's3://staging/reports/5d7c8a2e/success.csv',
  startedAt: '2024-12-12T10:00:00.000Z',
  finishedAt: '2024-12-12T10:00:05.000Z',
};

const ROUTING = {
  topics: { nodes: 'nodes-import-status', matches: 'matches-import-status' },
  typeIds: {
    nodes: 'com.matchbridge.imports.NodesImportStatus',
    matches: 'com.matchbridge.imports.MatchesImportStatus',
  },
};

// No waits between attempts: the backoff itself is the retry helper's (test/unit/model/retry.test.ts).
const RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 0, maxDelayMs: 0 };

class BrokerDownError extends Error {
  override readonly name = 'BrokerDownError';
}

/** A publisher that fails its first `failures` calls, then delivers. */
function flakyPublisher(failures: number, destination = (e: StatusEnvelope) => e.topic) {
  const calls: StatusEnvelope[] = [];
  const publisher: StatusPublisher = {
    destination,
    async publish(envelope) {
      calls.push(envelope);
      if (calls.length <= failures) throw new BrokerDownError(`connection refused (${calls.length})`);
      return 'SENT';
    },
  };
  return { publisher, calls };
}

interface Harness {
  delivery: StatusDelivery;
  letters: StatusDeadLetter[];
  recorded: Array<{ destination: string; status: string; error?: string; jobId: string }>;
}

function harness(publishers: StatusPublisher[], deadLetters?: StatusDelivery['deadLetters']): Harness {
  const letters: StatusDeadLetter[] = [];
  return {
    letters,
    recorded: [],
    delivery: {
      routing: ROUTING,
      publishers,
      retry: RETRY,
      deadLetters: deadLetters ?? { send: async (letter) => void letters.push(letter) },
    },
  };
}

function recorder(h: Harness) {
  return async (
    destination: string,
    message: JobStatusMessage,
    delivery: { status: string; error?: string },
  ) => {
    h.recorded.push({
      destination,
      status: delivery.status,
      jobId: message.jobId,
      ...(delivery.error ? { error: delivery.error } : {}),
    });
  };
}

describe('status envelope', () => {
  it('goes to the topic of its kind, keyed and headed by the job id, with the kind and __TypeId__', () => {
    const nodes = statusEnvelope(MESSAGE, ROUTING);
    const matches = statusEnvelope({ ...MESSAGE, kind: 'matches' }, ROUTING);

    assert.deepEqual(
      { topic: nodes.topic, key: nodes.key, headers: nodes.headers },
      {
        topic: 'nodes-import-status',
        key: MESSAGE.jobId,
        headers: {
          jobId: MESSAGE.jobId,
          kind: 'nodes',
          __TypeId__: 'com.matchbridge.imports.NodesImportStatus',
        },
      },
    );
    assert.equal(matches.topic, 'matches-import-status');
    assert.equal(matches.headers.__TypeId__, 'com.matchbridge.imports.MatchesImportStatus');
  });
});

describe('status publishing', () => {
  it('delivers once and records the message as SENT', async () => {
    const kafka = flakyPublisher(0);
    const h = harness([kafka.publisher]);

    const reports = await publishStatus(h.delivery, recorder(h), MESSAGE);

    assert.equal(kafka.calls.length, 1);
    assert.deepEqual(kafka.calls[0]?.message, MESSAGE);
    assert.deepEqual(reports, [{ destination: 'nodes-import-status', status: 'SENT', attempts: 1 }]);
    assert.deepEqual(h.recorded, [
      { destination: 'nodes-import-status', status: 'SENT', jobId: MESSAGE.jobId },
    ]);
    assert.deepEqual(h.letters, []);
  });

  it('retries a failing destination and records SENT once it succeeds', async () => {
    const kafka = flakyPublisher(2);
    const h = harness([kafka.publisher]);

    const reports = await publishStatus(h.delivery, recorder(h), MESSAGE);

    assert.equal(kafka.calls.length, 3);
    assert.deepEqual(
      reports.map((r) => [r.status, r.attempts]),
      [['SENT', 3]],
    );
    assert.deepEqual(
      h.recorded.map((r) => r.status),
      ['SENT'],
    );
    assert.deepEqual(h.letters, []);
  });

  it('dead-letters the message after the last attempt, records it FAILED with the error, and succeeds', async () => {
    const kafka = flakyPublisher(Number.POSITIVE_INFINITY);
    const h = harness([kafka.publisher]);

    const reports = await publishStatus(h.delivery, recorder(h), MESSAGE);

    assert.equal(kafka.calls.length, 3);
    assert.deepEqual(
      reports.map((r) => [r.destination, r.status, r.attempts]),
      [['nodes-import-status', 'DEAD_LETTERED', 3]],
    );
    assert.equal(h.letters.length, 1);
    const letter = h.letters[0];
    assert.deepEqual(
      letter && {
        error: letter.error,
        destination: letter.destination,
        attempts: letter.attempts,
        topic: letter.topic,
        key: letter.key,
        headers: letter.headers,
        message: letter.message,
      },
      {
        error: 'BrokerDownError',
        destination: 'nodes-import-status',
        attempts: 3,
        topic: 'nodes-import-status',
        key: MESSAGE.jobId,
        headers: statusEnvelope(MESSAGE, ROUTING).headers,
        message: MESSAGE,
      },
    );
    assert.deepEqual(
      h.recorded.map((r) => [r.destination, r.status]),
      [['nodes-import-status', 'FAILED']],
    );
    assert.match(h.recorded[0]?.error ?? '', /BrokerDownError/);
  });

  it('records PENDING without dead-lettering when no brokers are configured', async () => {
    const h = harness([noStatusPublisher]);

    const reports = await publishStatus(h.delivery, recorder(h), MESSAGE);

    assert.deepEqual(reports, [{ destination: 'nodes-import-status', status: 'PENDING', attempts: 1 }]);
    assert.deepEqual(
      h.recorded.map((r) => [r.destination, r.status]),
      [['nodes-import-status', 'PENDING']],
    );
    assert.deepEqual(h.letters, []);
  });

  it('delivers to every destination independently: one failing does not keep the other from being sent', async () => {
    const kafka = flakyPublisher(Number.POSITIVE_INFINITY);
    const events = flakyPublisher(0, () => 'eventbridge:default');
    const h = harness([kafka.publisher, events.publisher]);

    const reports = await publishStatus(h.delivery, recorder(h), MESSAGE);

    assert.deepEqual(
      reports.map((r) => [r.destination, r.status]),
      [
        ['nodes-import-status', 'DEAD_LETTERED'],
        ['eventbridge:default', 'SENT'],
      ],
    );
    assert.deepEqual(
      h.recorded.map((r) => [r.destination, r.status]),
      [
        ['nodes-import-status', 'FAILED'],
        ['eventbridge:default', 'SENT'],
      ],
    );
    assert.deepEqual(
      h.letters.map((l) => l.destination),
      ['nodes-import-status'],
    );
  });

  it('throws STATUS_UNDELIVERABLE when the dead-letter queue fails too, after recording and trying every destination', async () => {
    const kafka = flakyPublisher(Number.POSITIVE_INFINITY);
    const events = flakyPublisher(0, () => 'eventbridge:default');
    const h = harness([kafka.publisher, events.publisher], {
      send: async () => {
        throw new Error('disk full');
      },
    });

    await assert.rejects(publishStatus(h.delivery, recorder(h), MESSAGE), {
      name: 'StatusDeliveryError',
      code: 'STATUS_UNDELIVERABLE',
      transient: true,
    });
    assert.equal(events.calls.length, 1);
    assert.deepEqual(
      h.recorded.map((r) => [r.destination, r.status]),
      [
        ['nodes-import-status', 'FAILED'],
        ['eventbridge:default', 'SENT'],
      ],
    );
    assert.match(h.recorded[0]?.error ?? '', /dead-lettering failed/);
  });

  it('lets a failure to record the delivery propagate (the step is retried)', async () => {
    const h = harness([flakyPublisher(0).publisher]);

    await assert.rejects(
      publishStatus(
        h.delivery,
        async () => {
          throw new DatabaseUnavailableError('connection lost');
        },
        MESSAGE,
      ),
      { name: 'DatabaseUnavailableError' },
    );
  });
});
