import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ingestRecords } from '../../lib/ingest/ingest-records.ts';
import { ingestObjectCreated } from '../../lib/ingest/object-created.ts';
import { replayDeadLetter } from '../../lib/ingest/replay.ts';
import { buildStatusMessage, JobStatusMessageSchema } from '../../lib/jobs/status-message.ts';
import { parseDeadLetter } from '../../lib/model/ingest.ts';
import { isFolderUri, parseFolderUri, parseObjectUri } from '../../lib/storage/object-uri.ts';
import { fakeSink, fakeStarter } from '../support/ingest-fakes.ts';
import { mskEvent, mskRecord } from '../support/msk-events.ts';

const DOMAIN = '8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d';
const NODE_TOPIC = 'dating-users';
const MATCH_TOPIC = 'dating-matches';
const PIPELINE_BUCKET = 'pipeline';
/** A fixed seed: a failure replays exactly; the runs cover new cases only when the seed is changed. */
const SEED = 80_08;

/** The codes a bad Kafka request may be dead-lettered with. */
const REQUEST_CODES = new Set([
  'EMPTY_VALUE',
  'OVERSIZED',
  'NOT_UTF8',
  'NOT_JSON',
  'SCHEMA_VIOLATION',
  'INVALID_FILE_PATH',
  'FORBIDDEN_FILE_PATH',
  'UNSUPPORTED_REQUEST',
]);
/** The codes a bad upload event may be dead-lettered with. */
const UPLOAD_CODES = new Set([
  'NOT_OBJECT_CREATED',
  'PATH_TRAVERSAL',
  'WRONG_PREFIX',
  'MISSING_SEGMENTS',
  'NESTED_FOLDERS',
  'MISSING_FILE_NAME',
  'INVALID_DOMAIN',
  'INVALID_GROUP',
  'INVALID_FILE_PATH',
]);

/** Pieces of paths, URLs and SQL that parsers trip on; joined at random into hostile strings. */
const FRAGMENTS = [
  's3://',
  'https://',
  'http://',
  'file://',
  'ftp://',
  '/',
  '//',
  '.',
  '..',
  '%',
  '%ZZ',
  '%E0%A4%A',
  '%2f',
  '%00',
  '\0',
  '\\',
  'pipeline',
  'bucket',
  'Bucket_',
  'b.s3.amazonaws.com',
  'b.s3.eu-west-1.amazonaws.com',
  'localhost',
  'incoming/nodes/',
  'exports/users/',
  'staging/',
  DOMAIN,
  ':',
  '?',
  '#',
  '@',
  ' ',
  '\n',
  '\t',
  "'",
  '"',
  ';',
  '--',
  '$1',
  '_',
  'é',
  '😀',
  '\u202e',
  '\ud800',
  'users.csv',
  'a.csv.gz',
];

const hostileString = fc.oneof(
  fc.array(fc.constantFrom(...FRAGMENTS), { minLength: 1, maxLength: 8 }).map((parts) => parts.join('')),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', 'x'.repeat(256), 'x'.repeat(5000)),
);

/** A location put together from a scheme, a host and path segments, each often hostile. */
const hostilePath = fc
  .tuple(
    fc.constantFrom('s3://', 'https://', 'http://', 'file://', 'file:///', '', '/', './'),
    fc.oneof(
      fc.constantFrom('bucket', PIPELINE_BUCKET, 'b.s3.amazonaws.com', 'localhost', ''),
      hostileString,
    ),
    fc.array(fc.oneof(fc.constantFrom(...FRAGMENTS), hostileString), { minLength: 0, maxLength: 4 }),
  )
  .map(([scheme, host, segments]) => `${scheme}${host}/${segments.join('/')}`);

/** Any JSON value, or a hostile string. */
const anyValue = fc.oneof(hostileString, fc.jsonValue({ maxDepth: 2 }), fc.constant(null));

const VALID_FIELDS = {
  domainId: DOMAIN,
  groupId: 'dating',
  filePath: 's3://uploads/users_2024-12-12.csv.gz',
  fileName: 'users_2024-12-12.csv.gz',
  contentType: 'application/gzip',
};

/** A valid request with some fields replaced, removed or added. */
const mutatedRequest = fc
  .record({
    replaced: fc.dictionary(
      fc.constantFrom(
        'domainId',
        'groupId',
        'filePath',
        'fileName',
        'contentType',
        'referenceIds',
        'usernames',
      ),
      fc.oneof(
        anyValue,
        fc.array(hostileString, { minLength: 0, maxLength: 4 }),
        fc.constantFrom(
          'text/csv',
          'application/vnd.apache.parquet',
          `s3://${PIPELINE_BUCKET}/staging/x.csv`,
        ),
      ),
      { maxKeys: 2 },
    ),
    filePath: fc.option(hostilePath, { nil: undefined }),
    // Mostly none removed: a request missing its domain never reaches the path checks.
    removed: fc.oneof(
      { weight: 3, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: fc.subarray(Object.keys(VALID_FIELDS), { maxLength: 2 }) },
    ),
    extra: fc.dictionary(hostileString, anyValue, { maxKeys: 2 }),
  })
  .map(({ replaced, filePath, removed, extra }) => {
    const request: Record<string, unknown> = {
      ...extra,
      ...VALID_FIELDS,
      ...(filePath !== undefined ? { filePath } : {}),
      ...replaced,
    };
    for (const key of removed) delete request[key];
    return JSON.stringify(request);
  });

/** A Kafka value: a mutated request, its JSON cut short, any JSON, or bytes that may not be UTF-8. */
const kafkaValue: fc.Arbitrary<string | Buffer | null> = fc.oneof(
  { weight: 6, arbitrary: mutatedRequest },
  {
    weight: 1,
    arbitrary: fc
      .tuple(mutatedRequest, fc.nat())
      .map(([json, cut]) => json.slice(0, cut % Math.max(1, json.length))),
  },
  { weight: 1, arbitrary: fc.json({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 1, arbitrary: fc.constant(null) },
);

const kafkaRecord = fc.record({
  value: kafkaValue,
  topic: fc.constantFrom(NODE_TOPIC, MATCH_TOPIC),
  key: fc.option(hostileString, { nil: undefined }),
  idempotencyKey: fc.option(hostileString, { nil: undefined }),
});

/** Ingest's dependencies with fakes: jobs started and letters kept in memory, reference lists "staged". */
function fakeDeps(allowLocalFiles: boolean) {
  return {
    starter: fakeStarter(),
    deadLetters: fakeSink(),
    allowLocalFiles,
    pipelineBucket: PIPELINE_BUCKET,
    matchTopics: new Set([MATCH_TOPIC]),
    stageReferences: async (jobId: string) => `s3://${PIPELINE_BUCKET}/staging/${jobId}/references.csv`,
  };
}

describe('hostile import requests on Kafka end in a start or a dead letter with a code, never a throw', () => {
  it('random and mutated request values, node and match topics, S3-only and local mode', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(kafkaRecord, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        async (specs, allowLocalFiles) => {
          const deps = fakeDeps(allowLocalFiles);
          const records = specs.map((spec, offset) =>
            mskRecord(spec.value, {
              topic: spec.topic,
              offset,
              ...(spec.key !== undefined ? { key: spec.key } : {}),
              ...(spec.idempotencyKey !== undefined
                ? { headers: { 'idempotency-key': spec.idempotencyKey } }
                : {}),
            }),
          );

          const outcome = await ingestRecords(mskEvent(records), deps);

          assert.equal(
            outcome.started.length + outcome.deadLettered.length + outcome.duplicates,
            records.length,
          );
          for (const input of deps.starter.inputs) {
            assert.match(input.domainId, /^[0-9a-f-]{36}$/);
            assert.ok(input.groupId.length >= 1 && input.groupId.length <= 255);
            assert.equal(input.groupId, input.groupId.trim());
            if (input.source.kind !== 'references') {
              // A match import may name a folder or prefix of Parquet parts.
              const folder = input.kind === 'matches' && isFolderUri(input.source.uri);
              (folder ? parseFolderUri : parseObjectUri)(input.source.uri, { allowLocal: allowLocalFiles });
            }
            assert.equal(input.kind === 'matches', input.origin.startsWith(`kafka:${MATCH_TOPIC}/`));
          }
          for (const letter of deps.deadLetters.letters) {
            assert.ok(REQUEST_CODES.has(letter.code), `unexpected code ${letter.code}`);
            assert.ok(letter.reason.length > 0);
            // The letter keeps the value as sent: text when it was UTF-8, base64 of the bytes otherwise.
            const sent = records[letter.offset]?.value ?? null;
            const bytes = sent === null ? null : Buffer.from(sent, 'base64');
            assert.equal(
              letter.valueEncoding,
              bytes && bytes.length > 0 && !isUtf8(bytes) ? 'base64' : 'utf8',
            );
            assert.equal(
              letter.value,
              bytes === null ? null : letter.valueEncoding === 'base64' ? sent : bytes.toString('utf8'),
            );
            // Through the queue and back, a letter replays to the same verdict.
            const queued = parseDeadLetter(JSON.parse(JSON.stringify(letter)));
            const again = fakeDeps(allowLocalFiles);
            const replayed = await replayDeadLetter(queued, again);
            assert.equal(replayed.outcome, 'dead-lettered');
            assert.equal(again.deadLetters.letters[0]?.code, letter.code);
          }
        },
      ),
      { numRuns: 400, seed: SEED },
    );
  });
});

/** A valid upload key, or one made of hostile pieces. */
const uploadKey = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('incoming/nodes/', 'incoming/matches/', 'incoming/nodes//', ''),
      fc.oneof(fc.constant(DOMAIN), hostileString),
      fc.constantFrom('/', '//', ''),
      hostileString,
      fc.constantFrom('/', ''),
      fc.oneof(fc.constant('users.csv'), hostileString),
    )
    .map((parts) => parts.join('')),
  hostileString,
);

const uploadEvent = fc
  .record({
    key: uploadKey,
    bucket: fc.oneof(fc.constant(PIPELINE_BUCKET), hostileString),
    replaced: fc.dictionary(fc.constantFrom('source', 'detail-type', 'detail', 'id'), anyValue, {
      maxKeys: 1,
    }),
    sequencer: fc.option(hostileString, { nil: undefined }),
  })
  .map(({ key, bucket, replaced, sequencer }) => ({
    version: '0',
    id: 'e1',
    source: 'aws.s3',
    'detail-type': 'Object Created',
    detail: {
      bucket: { name: bucket },
      object: { key, size: 10, ...(sequencer !== undefined ? { sequencer } : {}) },
    },
    ...replaced,
  }));

describe('hostile S3 upload events end in a start or a dead letter with a code, never a throw', () => {
  it('random keys, buckets and event shapes', async () => {
    await fc.assert(
      fc.asyncProperty(uploadEvent, async (event) => {
        const deps = fakeDeps(false);

        const outcome = await ingestObjectCreated(event, deps);

        assert.equal(outcome.started.length + outcome.deadLettered.length + outcome.duplicates, 1);
        const input = deps.starter.inputs[0];
        if (input) {
          assert.equal(input.source.uri, `s3://${event.detail.bucket.name}/${event.detail.object.key}`);
          assert.ok(event.detail.object.key.startsWith(`incoming/nodes/${input.domainId}/`));
          assert.ok(input.groupId.length >= 1 && input.groupId.length <= 255);
        }
        for (const letter of deps.deadLetters.letters) {
          assert.ok(UPLOAD_CODES.has(letter.code), `unexpected code ${letter.code}`);
          assert.equal(letter.value, JSON.stringify(event));
        }
      }),
      { numRuns: 400, seed: SEED },
    );
  });
});

describe('the status message stays within its contract whatever the job holds', () => {
  it('hostile groups, references and reasons: a message the schema accepts, unchanged through JSON', () => {
    const groupId = hostileString.map((s) => s.trim()).filter((s) => s.length >= 1 && s.length <= 255);
    fc.assert(
      fc.property(
        fc.record({
          groupId,
          status: fc.constantFrom('COMPLETED' as const, 'FAILED' as const),
          processed: fc.nat(),
          total: fc.nat(),
          failureReason: fc.option(hostileString, { nil: null }),
          successList: fc.array(hostileString, { maxLength: 5 }),
          failedList: fc.array(hostileString, { maxLength: 5 }),
          kind: fc.constantFrom('nodes' as const, 'matches' as const),
        }),
        (job) => {
          const message = buildStatusMessage(
            {
              ...job,
              jobId: '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e',
              domainId: DOMAIN,
              startedAt: new Date(0),
              createdAt: new Date(0),
              finishedAt: new Date(1000),
            },
            {
              successList: job.successList,
              failedList: job.failedList,
              failedListUri: 's3://pipeline/reports/x/failed.csv',
            },
          );

          const parsed = JobStatusMessageSchema.safeParse(JSON.parse(JSON.stringify(message)));

          assert.ok(parsed.success, parsed.error?.message);
          assert.deepEqual(parsed.data, message);
        },
      ),
      { numRuns: 300, seed: SEED },
    );
  });
});
