import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigurationError } from '../errors.ts';

/** Username and password from an RDS-style Secrets Manager secret (`{"username", "password", …}`). */
export async function readDatabaseCredentials(
  secretArn: string,
  region: string,
): Promise<{ user: string; password: string }> {
  const client = new SecretsManagerClient({ region });
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  const secret = JSON.parse(out.SecretString ?? '{}') as { username?: unknown; password?: unknown };
  if (typeof secret.username !== 'string' || typeof secret.password !== 'string') {
    throw new ConfigurationError('database secret has no username/password', { secretArn });
  }
  return { user: secret.username, password: secret.password };
}
