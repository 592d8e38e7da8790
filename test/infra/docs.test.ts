import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../infra/constructs/matchbridge-function.ts';
import { resourcesOf, synth } from './support/synth.ts';

const { stacks, data } = synth();
const paths = [stacks.data, stacks.pipeline].flatMap((stack) => stack.node.findAll().map((c) => c.node.path));

/** Construct paths a document names: the diagram's `├─ A/B` entries and backticked `A/B` names. */
function namedPaths(file: string): string[] {
  const text = readFileSync(join(PROJECT_ROOT, 'docs', file), 'utf8');
  const fromDiagram = [...text.matchAll(/[├└]─ ([A-Z][A-Za-z]*(?:\/[A-Z][A-Za-z]*)*)/g)].map(
    (m) => m[1] ?? '',
  );
  const quoted = [...text.matchAll(/`([A-Z][A-Za-z]*(?:\/[A-Z][A-Za-z]*)+)`/g)].map((m) => m[1] ?? '');
  return [...new Set([...fromDiagram, ...quoted])];
}

describe('docs match the synthesized stacks', () => {
  for (const file of ['deploy.md', 'runbook.md']) {
    it(`every construct ${file} names exists`, () => {
      const named = namedPaths(file);
      assert.ok(named.length >= 10, `${file} names constructs`);
      const missing = named.filter((name) => !paths.some((path) => path.endsWith(`/${name}`)));
      assert.deepEqual(missing, []);
    });
  }

  it('deploy.md gives the staging bucket’s lifecycle as the template sets it', () => {
    const [bucket] = Object.entries(resourcesOf(data, 'AWS::S3::Bucket'))
      .filter(([id]) => id.startsWith('StagingBucket'))
      .map(([, resource]) => resource);
    assert.ok(bucket, 'the staging bucket');
    const { Rules } = bucket.Properties.LifecycleConfiguration as {
      Rules: { Prefix?: string; ExpirationInDays: number }[];
    };
    const synthesized = Rules.flatMap((rule) =>
      rule.Prefix ? [`${rule.Prefix} ${rule.ExpirationInDays} d`] : [],
    );
    // The diagram states each prefix's expiry as `incoming/ 15 d`: every such mention, and no other.
    const text = readFileSync(join(PROJECT_ROOT, 'docs', 'deploy.md'), 'utf8');
    const stated = [...text.matchAll(/\b[a-z]+\/ \d+ d\b/g)].map((m) => m[0]);
    assert.ok(synthesized.length >= 4, 'the bucket expires its prefixes');
    assert.deepEqual([...stated].sort(), [...synthesized].sort());
  });
});
