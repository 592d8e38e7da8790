import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DOMAIN, GROUP, type LocalApi, startLocalApi } from '../support/local-api.ts';
import { resolveMavenArtifacts } from '../support/maven/artifacts.ts';
import { generateClient, JAVA_CLIENT_PROGRAM, mustRun } from './generate.ts';
import { assertScenario, PAGE_SIZE, type ScenarioReport, writeInputs } from './scenario.ts';

/** Every .java file under `dir`. */
async function javaSources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.java')).map((e) => join(e.parentPath, e.name));
}

describe('a Java client (native HTTP client) generated from openapi.json (issue 23)', () => {
  let api: LocalApi;
  let client: string;

  before(async () => {
    api = await startLocalApi('clients-java');
    client = join(api.dir, 'java');
    await generateClient('java', client, ['--library', 'native']);
  });
  after(() => api.close());

  it('takes a multipart file as a java.io.File and a raw body as a String, one method per way of submitting', async () => {
    const source = await readFile(
      join(client, 'src', 'main', 'java', 'org', 'openapitools', 'client', 'api', 'ImportsApi.java'),
      'utf8',
    );
    assert.match(source, /public ImportAccepted createImportFromMultipart\([^)]*\bFile _file\b/);
    assert.match(
      source,
      /public ImportAccepted createImportFromBody\([^)]*\bString body, [^)]*\bBoolean dryRun, [^)]*\bOffsetDateTime asOf\)/,
    );
    assert.match(source, /public ImportAccepted createImport\([^)]*\bImportRequest importRequest\)/);
  });

  it('compiles with javac and drives every operation of the local API', async () => {
    const { classpath } = await resolveMavenArtifacts(JAVA_CLIENT_PROGRAM);
    const classes = join(client, 'classes');
    const sources = [
      ...(await javaSources(join(client, 'src', 'main', 'java'))),
      join(import.meta.dirname, 'java', 'Drive.java'),
    ];
    await mustRun('javac', ['-nowarn', '-encoding', 'UTF-8', '-d', classes, '-cp', classpath, ...sources]);
    const inputs = Object.entries(await writeInputs(api.dir, api.imports)).map(
      ([name, path]) => `${name}=${path}`,
    );
    const output = await mustRun('java', [
      '-cp',
      `${classes}:${classpath}`,
      'Drive',
      api.url,
      DOMAIN,
      GROUP,
      String(PAGE_SIZE),
      ...inputs,
    ]);
    const report = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as ScenarioReport;
    assertScenario(report);
  });
});
