import { Signer } from '@aws-sdk/rds-signer';

/** Where and as whom to sign in with IAM. */
export interface IamDatabaseLogin {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly region: string;
}

/**
 * A password function for IAM database authentication: each new connection gets a fresh token (valid
 * 15 minutes, signed locally from the function's credentials, no network call).
 */
export function iamAuthToken(login: IamDatabaseLogin): () => Promise<string> {
  const signer = new Signer({
    hostname: login.host,
    port: login.port,
    username: login.user,
    region: login.region,
  });
  return () => signer.getAuthToken();
}
