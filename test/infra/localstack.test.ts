import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseInfraConfig } from '../../infra/config.ts';
import { PROJECT_ROOT } from '../../infra/constructs/matchbridge-function.ts';

const run = promisify(execFile);
const DIR = join(PROJECT_ROOT, 'localstack');

/** Shell scripts under localstack/, at any depth. */
function scripts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return scripts(path);
    return entry.name.endsWith('.sh') ? [path] : [];
  });
}

describe('localstack/', () => {
  it('has shell scripts that bash accepts', async () => {
    const found = scripts(DIR);
    assert.ok(found.length >= 3);
    for (const script of found) await run('bash', ['-n', script]);
  });

  it('deploys the LocalStack target with cdklocal, through npm run localstack:deploy', () => {
    const deploy = readFileSync(join(DIR, 'deploy.sh'), 'utf8');
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };

    assert.equal(pkg.scripts['localstack:deploy'], 'bash localstack/deploy.sh');
    assert.match(deploy, /cdklocal deploy --all .*-c target=localstack/);
  });

  it('points the LocalStack target at the compose services the Lambda containers reach by name', () => {
    const compose = readFileSync(join(DIR, 'docker-compose.yml'), 'utf8');
    const { localstack } = parseInfraConfig({ target: 'localstack' });
    const database = new URL(localstack.databaseUrl);

    assert.match(compose, new RegExp(`^  ${database.hostname}:$`, 'm'));
    assert.match(compose, new RegExp(`POSTGRES_USER: ${database.username}$`, 'm'));
    assert.match(compose, new RegExp(`POSTGRES_PASSWORD: ${database.password}$`, 'm'));
    for (const broker of localstack.kafkaBrokers) {
      assert.ok(
        compose.includes(`DOCKER://${broker}`),
        `the broker advertises ${broker} on the Docker network`,
      );
    }
    assert.match(compose, /LAMBDA_DOCKER_NETWORK: matchbridge-local/);
  });
});
