import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { METRIC_NAMES } from '../../../lib/observability/job-metrics.ts';

const LIB = fileURLToPath(new URL('../../../lib/', import.meta.url));

/** Every TypeScript source under lib/, with its path relative to lib/. */
async function libSources(): Promise<Array<{ path: string; text: string }>> {
  const entries = await readdir(LIB, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && e.name.endsWith('.ts'));
  return Promise.all(
    files.map(async (e) => {
      const full = join(e.parentPath, e.name);
      return { path: full.slice(LIB.length), text: await readFile(full, 'utf8') };
    }),
  );
}

describe('metric names', () => {
  // Alarms and dashboards read metrics by name: a name typed inline can drift from the one they read.
  it('are never string literals in an addMetric call', async () => {
    const inline = (await libSources()).flatMap(({ path, text }) =>
      [...text.matchAll(/addMetric\(\s*['"`]([^'"`]*)/g)].map((m) => `${path}: ${m[1]}`),
    );

    assert.deepEqual(inline, []);
  });

  it('are all emitted somewhere in lib/', async () => {
    const sources = (await libSources()).map((s) => s.text).join('\n');

    const unused = Object.keys(METRIC_NAMES).filter((key) => !sources.includes(`METRIC_NAMES.${key}`));

    assert.deepEqual(unused, []);
  });
});
