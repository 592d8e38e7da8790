import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { OPENAPI_DOCUMENT } from './generate.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

interface LintReport {
  readonly totals: { readonly errors: number; readonly warnings: number };
  readonly problems: readonly {
    readonly ruleId: string;
    readonly severity: string;
    readonly message: string;
  }[];
}

/** Redocly CLI's entry point, as the installed devDependency declares it. */
async function redoclyBin(): Promise<string> {
  const manifest = createRequire(import.meta.url).resolve('@redocly/cli/package.json');
  const { bin } = JSON.parse(await readFile(manifest, 'utf8')) as { bin: Record<string, string> };
  return join(dirname(manifest), bin.redocly ?? 'bin/cli.js');
}

describe('the OpenAPI document under Redocly CLI (issue 23)', () => {
  // A rule that does not apply is turned off in redocly.yaml with its reason; any other warning fails too.
  it("passes redocly.yaml's rules (recommended) with no error and no warning", async () => {
    // Problems make the CLI exit 1: the report on stdout is read either way, so that the test names them.
    const { stdout } = await promisify(execFile)(process.execPath, [
      await redoclyBin(),
      'lint',
      '--config',
      join(REPO_ROOT, 'redocly.yaml'),
      '--format',
      'json',
      OPENAPI_DOCUMENT,
    ]).catch((error: Error & { stdout?: string }) => {
      if (error.stdout === undefined || error.stdout === '') throw error;
      return { stdout: error.stdout };
    });
    const report = JSON.parse(stdout) as LintReport;
    const problems = report.problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message}`);
    assert.deepEqual(problems, []);
    assert.deepEqual(report.totals, { ...report.totals, errors: 0, warnings: 0 });
  });
});
