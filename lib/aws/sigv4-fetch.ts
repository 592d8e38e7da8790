import { Sha256 } from '@aws-crypto/sha256-js';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';

/** A request to sign: absolute URL, method, the headers to send (lower-case names) and the whole body. */
export interface UnsignedRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
}

/** The region of an API Gateway URL (`<id>.execute-api.<region>.amazonaws.com`), if it is one. */
export function regionOfApiUrl(url: URL): string | undefined {
  return /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname)?.[1];
}

/**
 * A `fetch` that signs each request with AWS Signature Version 4 for API Gateway (`execute-api`), with the
 * credentials of the default chain (environment, profile, SSO, instance role…): what an IAM-authorised REST
 * API asks of its callers. The body is signed whole, so it is given as a buffer.
 */
export function sigv4Fetch(region: string): (request: UnsignedRequest) => Promise<Response> {
  const signer = new SignatureV4({
    service: 'execute-api',
    region,
    credentials: defaultProvider(),
    sha256: Sha256,
  });
  return async ({ url, method, headers, body }) => {
    const query: Record<string, string | string[]> = {};
    for (const name of new Set(url.searchParams.keys())) {
      const values = url.searchParams.getAll(name);
      query[name] = values.length === 1 ? (values[0] ?? '') : values;
    }
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { ...headers, host: url.host },
      ...(body !== undefined && body.length > 0 ? { body } : {}),
    });
    const { host: _host, ...sent } = signed.headers;
    return fetch(url, {
      method,
      headers: sent,
      ...(body !== undefined && body.length > 0 ? { body } : {}),
      redirect: 'manual',
    });
  };
}
