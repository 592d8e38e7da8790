import { execFile } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../infra/constructs/matchbridge-function.ts';

const run = promisify(execFile);
const BIN = join(PROJECT_ROOT, 'node_modules', '.bin');
/** The CDK CLI to run: the project's, unless MATCHBRIDGE_CDK_CLI names another binary. */
const CDK_CLI = process.env.MATCHBRIDGE_CDK_CLI ?? join(BIN, 'cdk');

/**
 * Runs `cdk synth` offline into `outdir` (bundling every function) with extra `-c key=value` arguments;
 * returns what it printed on stderr (warnings, cdk-nag).
 */
export async function cdkSynth(outdir: string, context: readonly string[] = []): Promise<string> {
  const { stderr } = await run(
    CDK_CLI,
    ['synth', '--quiet', '--no-notices', '-o', outdir, ...context.flatMap((c) => ['-c', c])],
    {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        // The CLI's own `#!/usr/bin/env node`; the app runs on the project's Node whatever this finds.
        PATH: `${BIN}${delimiter}${process.env.PATH ?? ''}`,
        // Synth needs no AWS account: do not wait for an instance metadata service that is not there.
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return stderr;
}
