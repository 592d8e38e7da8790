import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BuildOptions, type BuildResult, build } from 'esbuild';
import { BUNDLE_ALIASES, BUNDLING } from '../../../infra/constructs/matchbridge-function.ts';

/**
 * esbuild's own options equivalent to the functions' `BUNDLING` (what NodejsFunction passes to esbuild),
 * so a test bundles a handler as `cdk synth` does, without Docker or the CDK asset machinery.
 */
export const HOUSE_BUILD_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: BUNDLING.format,
  target: BUNDLING.target,
  mainFields: [...BUNDLING.mainFields],
  banner: { js: BUNDLING.banner },
  minify: BUNDLING.minify,
  keepNames: BUNDLING.keepNames,
  external: [...BUNDLING.externalModules],
  alias: { ...BUNDLE_ALIASES },
  logLevel: 'silent',
};

/** Bundles `entry` with the house settings into a fresh folder as `index.mjs`; `cleanup` removes the folder. */
export async function bundleWithHouseSettings(
  entry: string,
  extra: Pick<BuildOptions, 'metafile'> = {},
): Promise<{ outfile: string; result: BuildResult; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mb-bundle-'));
  const outfile = join(dir, 'index.mjs');
  try {
    const result = await build({ ...HOUSE_BUILD_OPTIONS, ...extra, entryPoints: [entry], outfile });
    return { outfile, result, cleanup: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
