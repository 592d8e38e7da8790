import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../../lib/config.ts';
import { resolveDatabaseUrl } from '../../../lib/runtime/deps.ts';

// Static credentials: the signer signs locally, with no call to AWS.
const CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  AWS_REGION: 'eu-west-1',
};

describe('database URL with IAM authentication', () => {
  // The signer takes its credentials from the default chain, i.e. the environment.
  const saved = Object.fromEntries(Object.keys(CREDENTIALS).map((key) => [key, process.env[key]]));
  before(() => Object.assign(process.env, CREDENTIALS));
  after(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('signs in as DB_USER with an IAM token for the proxy endpoint, over TLS', async () => {
    const cfg = loadConfig({
      ...CREDENTIALS,
      DB_HOST: 'proxy.proxy-abc.eu-west-1.rds.amazonaws.com',
      DB_NAME: 'matchbridge',
      DB_SSL: 'require',
      DB_IAM_AUTH: 'true',
      DB_USER: 'matchbridge',
    });

    const url = new URL(await resolveDatabaseUrl(cfg));

    assert.equal(url.hostname, 'proxy.proxy-abc.eu-west-1.rds.amazonaws.com');
    assert.equal(url.username, 'matchbridge');
    assert.equal(url.searchParams.get('sslmode'), 'require');
    const token = decodeURIComponent(url.password);
    assert.match(
      token,
      /^proxy\.proxy-abc\.eu-west-1\.rds\.amazonaws\.com:5432\/\?Action=connect&DBUser=matchbridge&/,
    );
    assert.match(token, /X-Amz-Signature=[0-9a-f]{64}/);
  });

  it('refuses IAM authentication without a user, naming the variables', async () => {
    const cfg = loadConfig({ ...CREDENTIALS, DB_HOST: 'proxy.example', DB_IAM_AUTH: 'true' });

    await assert.rejects(resolveDatabaseUrl(cfg), { name: 'ConfigurationError' });
  });
});
