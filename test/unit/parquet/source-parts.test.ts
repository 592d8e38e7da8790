import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { ListObjectsV2CommandInput, S3Client } from '@aws-sdk/client-s3';
import {
  isPartName,
  matchSourceShape,
  type SourcePart,
  sourceParts,
} from '../../../lib/parquet/source-parts.ts';
import { createObjectStore } from '../../../lib/storage/store.ts';
import { localStore, tempFolder } from './fixtures.ts';

async function collect(parts: AsyncIterable<SourcePart>): Promise<string[]> {
  const names: string[] = [];
  for await (const part of parts) names.push(part.name);
  return names;
}

describe('matchSourceShape', () => {
  it('tells a folder (trailing /), a manifest (_manifest, *.manifest) and a file apart', () => {
    assert.equal(matchSourceShape('s3://bucket/run-42/'), 'folder');
    assert.equal(matchSourceShape('/data/run-42/'), 'folder');
    assert.equal(matchSourceShape('s3://bucket/run-42/_manifest'), 'manifest');
    assert.equal(matchSourceShape('/data/run-42.manifest'), 'manifest');
    assert.equal(matchSourceShape('s3://bucket/run-42/part-0.parquet'), 'file');
    assert.equal(matchSourceShape('s3://bucket/manifest.parquet'), 'file');
  });
});

describe('isPartName', () => {
  it('takes *.parquet names, leaving out _ and . names and folders, and every other name', () => {
    assert.ok(isPartName('part-00000-1f2e.c000.snappy.parquet'));
    assert.ok(isPartName('date=2026-12-01/part-0.parquet'));
    assert.ok(isPartName('PART-0.PARQUET'));
    for (const name of [
      '_SUCCESS',
      '_committed_8712',
      '_started_8712',
      '.part-0.parquet.crc',
      '.hidden.parquet',
      '_temporary/0/part-0.parquet',
      '.spark-staging/part-0.parquet',
      'notes.txt',
      'part-0.parquet.tmp',
    ]) {
      assert.equal(isPartName(name), false, name);
    }
  });
});

describe('sourceParts of a local folder', () => {
  let folder: Awaited<ReturnType<typeof tempFolder>>;
  before(async () => {
    folder = await tempFolder();
    await mkdir(folder.path('run/a'), { recursive: true });
    await mkdir(folder.path('run/_temporary'), { recursive: true });
    await mkdir(folder.path('empty'), { recursive: true });
    for (const name of ['b.parquet', 'a-b.parquet', 'a/z.parquet', 'a/c.parquet', '_temporary/t.parquet']) {
      await writeFile(folder.path(`run/${name}`), 'x');
    }
    await writeFile(folder.path('run/_SUCCESS'), '');
    await writeFile(folder.path('outside.parquet'), 'x');
    await symlink(folder.path('outside.parquet'), folder.path('run/linked.parquet'));
  });
  after(() => folder.remove());
  const store = localStore();
  const options = { maxParts: 10, allowLocal: true };

  it('lists the parts in the byte order of their paths, subfolders included, symbolic links left out', async () => {
    // `a-b` (0x2d) sorts before `a/` (0x2f), as S3 lists keys.
    assert.deepEqual(await collect(sourceParts(store, `${folder.path('run')}/`, options)), [
      'a-b.parquet',
      'a/c.parquet',
      'a/z.parquet',
      'b.parquet',
    ]);
  });

  it('fails NO_PARTS for a folder without a part, or no folder at all', async () => {
    for (const uri of [`${folder.path('empty')}/`, `${folder.path('missing')}/`]) {
      await assert.rejects(collect(sourceParts(store, uri, options)), { code: 'NO_PARTS' });
    }
  });

  it('fails TOO_MANY_PARTS at the part past maxParts', async () => {
    await assert.rejects(collect(sourceParts(store, `${folder.path('run')}/`, { ...options, maxParts: 3 })), {
      code: 'TOO_MANY_PARTS',
    });
  });

  it('fails NOT_A_FOLDER for a file named as a folder', async () => {
    await assert.rejects(collect(sourceParts(store, `${folder.path('outside.parquet')}/`, options)), {
      code: 'NOT_A_FOLDER',
    });
  });
});

describe('sourceParts of a manifest', () => {
  let folder: Awaited<ReturnType<typeof tempFolder>>;
  before(async () => {
    folder = await tempFolder();
  });
  after(() => folder.remove());
  const store = localStore();
  const options = { maxParts: 10, allowLocal: true };
  const manifest = async (name: string, text: string): Promise<string> => {
    await writeFile(folder.path(name), text);
    return folder.path(name);
  };

  it('lists the parts in its order: relative names or paths under its folder; blank and # lines skipped', async () => {
    const uri = await manifest(
      'run.manifest',
      `# parts\nz.parquet\r\n\n  sub/a.parquet \n${folder.path('b.parquet')}\n`,
    );

    const parts: SourcePart[] = [];
    for await (const part of sourceParts(store, uri, options)) parts.push(part);

    assert.deepEqual(parts, [
      { uri: folder.path('z.parquet'), name: 'z.parquet' },
      { uri: folder.path('sub/a.parquet'), name: 'sub/a.parquet' },
      { uri: folder.path('b.parquet'), name: 'b.parquet' },
    ]);
  });

  it('refuses a part outside its folder, a URI elsewhere, or a part listed twice: INVALID_MANIFEST', async () => {
    for (const text of [
      '../x.parquet\n',
      '/etc/x.parquet\n',
      's3://other/x.parquet\n',
      'a/./b.parquet\n',
      'a.parquet\na.parquet\n',
    ]) {
      const uri = await manifest('_manifest', text);
      await assert.rejects(collect(sourceParts(store, uri, options)), { code: 'INVALID_MANIFEST' }, text);
    }
  });

  it('fails NO_PARTS for a manifest listing nothing, TOO_MANY_PARTS past maxParts', async () => {
    await assert.rejects(collect(sourceParts(store, await manifest('_manifest', '# none\n'), options)), {
      code: 'NO_PARTS',
    });
    const many = Array.from({ length: 11 }, (_, i) => `p${i}.parquet`).join('\n');
    await assert.rejects(collect(sourceParts(store, await manifest('_manifest', many), options)), {
      code: 'TOO_MANY_PARTS',
    });
  });
});

describe('sourceParts of an S3 prefix', () => {
  /** A fake S3 listing `keys` under any prefix in pages of `pageKeys`, recording each request. */
  function pagingS3(keys: readonly string[], pageKeys: number) {
    const requests: ListObjectsV2CommandInput[] = [];
    const client = {
      send: async (command: { input: ListObjectsV2CommandInput }) => {
        requests.push(command.input);
        const from = Number(command.input.ContinuationToken ?? 0);
        const page = keys
          .filter((key) => key.startsWith(command.input.Prefix ?? ''))
          .slice(from, from + pageKeys);
        const more = from + pageKeys < keys.length;
        return {
          Contents: page.map((Key) => ({ Key, Size: 1, ETag: '"e"' })),
          IsTruncated: more,
          ...(more ? { NextContinuationToken: String(from + pageKeys) } : {}),
        };
      },
    };
    const store = createObjectStore({ s3: () => client as unknown as S3Client, allowLocalFiles: false });
    return { store, requests };
  }

  it('pages through ListObjectsV2 with continuation tokens, one page at a time', async () => {
    const keys = Array.from({ length: 5 }, (_, i) => `run-42/part-${i}.parquet`);
    const { store, requests } = pagingS3(['run-42/_SUCCESS', ...keys], 2);

    const parts = sourceParts(store, 's3://bucket/run-42/', { maxParts: 10, allowLocal: false });
    const first = await parts.next();

    assert.equal(first.value?.uri, 's3://bucket/run-42/part-0.parquet');
    assert.equal(requests.length, 1, 'the first part comes from the first page alone');
    const rest = await collect(parts);
    assert.deepEqual(rest, ['part-1.parquet', 'part-2.parquet', 'part-3.parquet', 'part-4.parquet']);
    assert.deepEqual(
      requests.map((request) => [request.Bucket, request.Prefix, request.ContinuationToken]),
      [
        ['bucket', 'run-42/', undefined],
        ['bucket', 'run-42/', '2'],
        ['bucket', 'run-42/', '4'],
      ],
    );
  });

  it('refuses a prefix without its trailing / as a folder', async () => {
    const { store } = pagingS3([], 2);
    const listing = store.list('s3://bucket/run-42')[Symbol.asyncIterator]();
    await assert.rejects(listing.next(), { code: 'INVALID_FILE_PATH' });
  });
});
