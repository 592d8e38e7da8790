import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { localDeadLetters } from '../../../lib/local/dead-letters.ts';
import type { DeadLetter } from '../../../lib/model/ingest.ts';

const run = promisify(execFile);
const MODULE = pathToFileURL(
  join(import.meta.dirname, '..', '..', '..', 'lib', 'local', 'dead-letters.ts'),
).href;

const letter = (offset: number, value = `{"offset":${offset}}`): DeadLetter => ({
  reason: 'value is not JSON',
  code: 'NOT_JSON',
  topic: 'local-users',
  partition: 0,
  offset,
  key: null,
  headers: { 'idempotency-key': `k-${offset}` },
  value,
  valueEncoding: 'utf8',
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('local dead-letter file', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-dlq-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every letter whole when several processes append at once', async () => {
    const home = join(dir, 'concurrent');
    const writer = join(dir, 'writer.mjs');
    // Large values make an interleaved write visible as a broken line.
    await writeFile(
      writer,
      `import { localDeadLetters } from ${JSON.stringify(MODULE)};
const [home, base] = process.argv.slice(2);
const sink = localDeadLetters(home);
await Promise.all(Array.from({ length: 25 }, (_, i) => sink.send({
  reason: 'r', code: 'OVERSIZED', topic: 'local-users', partition: Number(base), offset: i, key: null,
  headers: {}, value: String(base).repeat(200_000), valueEncoding: 'utf8' })));
`,
    );

    await Promise.all(
      [1, 2, 3, 4].map((base) =>
        run(process.execPath, [writer, home, String(base)], {
          env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' },
        }),
      ),
    );

    const letters = await collect(localDeadLetters(home).list());
    assert.equal(letters.length, 100);
    for (const l of letters) assert.equal(l.value, String(l.partition).repeat(200_000));
    const lines = (await readFile(localDeadLetters(home).file, 'utf8')).split('\n').filter(Boolean);
    assert.equal(lines.length, 100);
  });

  it('gives each letter an id and a time, and lists letters appended after the listing began only next time', async () => {
    const store = localDeadLetters(join(dir, 'ordered'));
    await store.send(letter(1));
    await store.send(letter(2));

    const seen: number[] = [];
    for await (const l of store.list()) {
      seen.push(l.offset);
      if (l.offset === 1) await store.send(letter(3));
    }
    const next = await collect(store.list());

    assert.deepEqual(seen, [1, 2]);
    assert.deepEqual(
      next.map((l) => l.offset),
      [1, 2, 3],
    );
    assert.equal(new Set(next.map((l) => l.id)).size, 3);
    for (const l of next) assert.ok(!Number.isNaN(Date.parse(l.deadLetteredAt)));
    assert.deepEqual(
      { ...next[0], id: undefined, deadLetteredAt: undefined, state: undefined },
      {
        ...letter(1),
        id: undefined,
        deadLetteredAt: undefined,
        state: undefined,
      },
    );
  });

  it('shows replayed letters as replayed, with what became of them', async () => {
    const store = localDeadLetters(join(dir, 'marked'));
    await store.send(letter(1));
    await store.send(letter(2));
    const [first] = await collect(store.list());
    assert.ok(first);

    await store.markReplayed({
      id: first.id,
      replayedAt: new Date().toISOString(),
      outcome: 'started',
      jobId: 'j',
    });
    const listed = await collect(store.list());

    assert.deepEqual(
      listed.map((l) => [l.offset, l.state, l.state === 'replayed' ? l.replay.outcome : null]),
      [
        [1, 'replayed', 'started'],
        [2, 'pending', null],
      ],
    );
  });

  it('lists nothing when no letter was ever written', async () => {
    assert.deepEqual(await collect(localDeadLetters(join(dir, 'empty')).list()), []);
  });
});
