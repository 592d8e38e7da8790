import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DB_PROXY_HOST } from './stand-in-names.ts';

const run = promisify(execFile);

/** The certificate the stand-ins serve TLS with; the functions trust it as they trust AWS's public CAs. */
export interface StandInCertificate {
  readonly certFile: string;
  /** PKCS#8 private key. */
  readonly keyFile: string;
  /** Key and certificate in one file (Kafka's PEM key store). */
  readonly keyAndCertificateFile: string;
  remove(): Promise<void>;
}

/** A self-signed certificate for the stand-ins' addresses (the database proxy's and 127.0.0.1). */
export async function createStandInCertificate(): Promise<StandInCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'mb-assembly-tls-'));
  const certFile = join(dir, 'stand-in.crt');
  const keyFile = join(dir, 'stand-in.key');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=matchbridge-assembly-stand-in',
    '-addext',
    `subjectAltName=IP:${DB_PROXY_HOST},IP:127.0.0.1,DNS:localhost`,
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  const keyAndCertificateFile = join(dir, 'stand-in.pem');
  await writeFile(
    keyAndCertificateFile,
    `${await readFile(keyFile, 'utf8')}${await readFile(certFile, 'utf8')}`,
  );
  return {
    certFile,
    keyFile,
    keyAndCertificateFile,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
