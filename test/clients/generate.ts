import { join, resolve } from 'node:path';
import { type MavenProgram, resolveMavenArtifacts } from '../support/maven/artifacts.ts';
import { runCommand } from '../support/maven/run-command.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
/** The document clients are generated from: the one the API serves. */
export const OPENAPI_DOCUMENT = join(REPO_ROOT, 'lib', 'api', 'openapi.json');
const GENERATE_TIMEOUT_MS = 5 * 60_000;

class ClientToolsUnavailableError extends Error {
  override readonly name = 'ClientToolsUnavailableError';
}

/** OpenAPI Generator's command line: one jar that carries its own dependencies. */
export const OPENAPI_GENERATOR_PROGRAM: MavenProgram = {
  name: 'openapi-generator',
  pom: join(import.meta.dirname, 'generator', 'pom.xml'),
  versionProperty: 'openapi-generator.version',
  unavailable: (reason, options) => new ClientToolsUnavailableError(reason, options),
};

/** The libraries a generated Java client (library `native`) compiles and runs against. */
export const JAVA_CLIENT_PROGRAM: MavenProgram = {
  name: 'openapi-java-client',
  pom: join(import.meta.dirname, 'java', 'pom.xml'),
  versionProperty: 'jackson.version',
  unavailable: (reason, options) => new ClientToolsUnavailableError(reason, options),
};

/** Runs a command to its end; any exit but 0 fails with what it printed. */
export async function mustRun(
  command: string,
  args: readonly string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<string> {
  const result = await runCommand(command, args, { timeoutMs: GENERATE_TIMEOUT_MS, ...options });
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.code ?? result.signal}:\n${result.output}`);
  }
  return result.output;
}

/**
 * Generates a client from the API's document into `outDir` exactly as the README tells a user to, with only the
 * generator's name and its command-line options: no hand edit of the document or of the output.
 */
export async function generateClient(
  generator: string,
  outDir: string,
  options: readonly string[] = [],
): Promise<void> {
  const { classpath } = await resolveMavenArtifacts(OPENAPI_GENERATOR_PROGRAM);
  await mustRun('java', [
    '-cp',
    classpath,
    'org.openapitools.codegen.OpenAPIGenerator',
    'generate',
    '-g',
    generator,
    '-i',
    OPENAPI_DOCUMENT,
    '-o',
    outDir,
    ...options,
  ]);
}
