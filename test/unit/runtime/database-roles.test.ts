import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../lib/config.ts';
import { setUpDatabaseRoles } from '../../../lib/runtime/deps.ts';

describe('setUpDatabaseRoles', () => {
  it('does nothing without DB_ADMIN_USER (local mode, an existing database)', async () => {
    const cfg = loadConfig({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });

    await setUpDatabaseRoles(cfg);
  });

  it('refuses DB_ADMIN_USER without both role secrets, before signing in', async () => {
    const cfg = loadConfig({
      DB_HOST: 'proxy.proxy-abc.eu-west-1.rds.amazonaws.com',
      DB_IAM_AUTH: 'true',
      DB_USER: 'matchbridge_migrator',
      DB_ADMIN_USER: 'matchbridge',
      DB_APP_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-AbCdEf',
    });

    await assert.rejects(setUpDatabaseRoles(cfg), { name: 'ConfigurationError' });
  });
});
