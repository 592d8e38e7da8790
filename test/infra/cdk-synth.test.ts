import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { HANDLER_NAMES } from '../../infra/config.ts';
import { PROJECT_ROOT } from '../../infra/constructs/matchbridge-function.ts';
import {
  type CfnTemplate,
  extractStateMachines,
  readTemplatesFromCdkOut,
  synthesizeTemplates,
} from '../../infra/definitions.ts';
import { USER_EXPORT_STATE_MACHINE_NAME } from '../../lib/export/types.ts';
import { cdkSynth } from '../support/cdk-synth.ts';

const run = promisify(execFile);

describe('the app command of cdk.json', () => {
  it("runs infra/app.ts with the project's Node, not the first `node` on PATH", async () => {
    const { app } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { app: string };
    const [node, ...args] = app.split(' ');

    // A global `cdk` on an older Node would otherwise fail on the .ts entry (ERR_UNKNOWN_FILE_EXTENSION).
    assert.equal(node, 'node_modules/.bin/node');
    assert.deepEqual(args, ['infra/app.ts']);
    const { stdout } = await run(join(PROJECT_ROOT, node ?? ''), ['--version']);
    assert.ok(Number(/^v(\d+)\./.exec(stdout)?.[1]) >= 24, `the project's Node is ${stdout.trim()}`);
  });
});

describe('cdk synth (CLI, with esbuild bundling)', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'matchbridge-cdk-synth-'));
  let templates: Record<string, CfnTemplate>;
  let printed: string;

  before(async () => {
    // infra/app.ts runs cdk-nag after synthesis and fails on any unacknowledged finding.
    printed = await cdkSynth(outdir);
    templates = readTemplatesFromCdkOut(outdir);
  });

  it('warns that alarms reach nobody when no alarm address is set (cdk.json sets none)', () => {
    assert.match(printed, /No alarmEmails: alarms go to the alarm topic, which nobody is subscribed to/);
  });

  after(() => rmSync(outdir, { recursive: true, force: true }));

  it('produces the same state machine definitions and task bindings as the in-process synth', () => {
    const fromCli = extractStateMachines(templates);

    assert.ok(fromCli.import, 'the CLI output has the import state machine');
    assert.ok(fromCli[USER_EXPORT_STATE_MACHINE_NAME], 'the CLI output has the user export state machine');
    assert.deepEqual(fromCli, extractStateMachines(synthesizeTemplates()));
  });

  it('bundles every handler as an ESM file, and the migrations next to the migrate handler', () => {
    const bundles: Record<string, string> = {};
    for (const template of Object.values(templates)) {
      for (const resource of Object.values(template.Resources ?? {})) {
        const handler = resource.Metadata?.['matchbridge:handler'];
        const assetPath = resource.Metadata?.['aws:asset:path'];
        if (typeof handler === 'string' && typeof assetPath === 'string')
          bundles[handler] = join(outdir, assetPath);
      }
    }

    assert.deepEqual(Object.keys(bundles).sort(), [...HANDLER_NAMES].sort());
    for (const [handler, dir] of Object.entries(bundles)) {
      assert.ok(existsSync(join(dir, 'index.mjs')), `${handler} bundle has index.mjs`);
    }
    const migrate = bundles.migrate ?? '';
    assert.deepEqual(
      readdirSync(join(migrate, 'migrations')).sort(),
      readdirSync(join(PROJECT_ROOT, 'migrations')).sort(),
    );
  });
});

describe('cdk synth (CLI) of the prod preset and the LocalStack target', () => {
  const outdirs: string[] = [];
  after(() => {
    for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, context, stacks] of [
    ['prod preset, cdk-nag clean', ['preset=prod'], ['matchbridge-prod-data', 'matchbridge-prod-pipeline']],
    ['LocalStack target', ['target=localstack'], ['matchbridge-local-data', 'matchbridge-local-pipeline']],
  ] as const) {
    it(`succeeds offline: ${name}`, async () => {
      const outdir = mkdtempSync(join(tmpdir(), 'matchbridge-cdk-synth-'));
      outdirs.push(outdir);

      await cdkSynth(outdir, context);

      assert.deepEqual(Object.keys(readTemplatesFromCdkOut(outdir)).sort(), [...stacks]);
    });
  }
});
