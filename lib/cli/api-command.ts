import { exposureProblem, startApiServer } from '../api/server.ts';
import { loadConfig } from '../config.ts';
import { localApiContext } from '../local/api-context.ts';
import { openLocalEnvironment } from '../local/environment.ts';
import { runtimeDeps } from '../runtime/deps.ts';
import { EXIT, parseCommandLine, UsageError } from './usage.ts';

/** Database connections of the local API server at least. */
const API_POOL_SIZE = 10;

const API_OPTIONS = { port: { type: 'string' }, host: { type: 'string' } } as const;

/**
 * `api [--port n] [--host h]`: serves the bulk HTTP API locally (the same routes as the Lambda) until
 * SIGINT/SIGTERM; prints `listening on <url>` (or `console on <url>/console/`) on stdout once it accepts
 * requests. A host beyond loopback
 * needs `API_TOKEN` (else a usage error, exit 2): a local server trusts the domain a request names.
 */
export async function apiCommand(argv: string[], options: { console?: boolean } = {}): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, API_OPTIONS);
  if (positionals.length > 0) throw new UsageError(`api takes no arguments: ${positionals.join(' ')}`);
  const port = Number(values.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be 0 to 65535');
  const host = values.host ?? '127.0.0.1';
  const { apiToken } = loadConfig();
  const problem = exposureProblem(host, apiToken);
  if (problem) throw new UsageError(problem);
  // Each streamed export holds a connection for its whole response: a server needs more than a job does.
  const env = await openLocalEnvironment({
    DB_POOL_SIZE: String(Math.max(loadConfig().dbPoolSize, API_POOL_SIZE)),
  });
  try {
    const context = localApiContext(await runtimeDeps());
    const server = await startApiServer(context, { port, host, ...(apiToken ? { token: apiToken } : {}) });
    process.stdout.write(
      options.console ? `console on ${server.url}/console/\n` : `listening on ${server.url}\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    await context.drain();
    return EXIT.completed;
  } finally {
    await env.close();
  }
}
