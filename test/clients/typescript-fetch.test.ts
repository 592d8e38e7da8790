import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DOMAIN, GROUP, type LocalApi, startLocalApi } from '../support/local-api.ts';
import { generateClient, mustRun } from './generate.ts';
import { assertScenario, PAGE_SIZE, type ScenarioReport, writeInputs } from './scenario.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const TSC = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');

describe('a typescript-fetch client generated from openapi.json (issue 23)', () => {
  let api: LocalApi;
  let client: string;

  before(async () => {
    api = await startLocalApi('clients-ts');
    client = join(api.dir, 'typescript-fetch');
    await generateClient('typescript-fetch', client);
  });
  after(() => api.close());

  it('takes one way of submitting an import per method, a multipart file as a Blob, no doubled parameters', async () => {
    const source = await readFile(join(client, 'apis', 'ImportsApi.ts'), 'utf8');
    // The fields of a generated request interface: the text from its opening brace to its closing one.
    const request = (name: string) => source.split(`export interface ${name} {`)[1]?.split('}')[0];
    assert.match(request('CreateImportFromMultipartRequest') ?? '', /\bfile: Blob;/);
    assert.match(request('CreateImportFromBodyRequest') ?? '', /\bbody: string;/);
    assert.match(request('CreateImportRequest') ?? '', /\bimportRequest: ImportRequest;/);
    assert.doesNotMatch(source, /resourceType2|format2|domainId2|groupId2/);
  });

  it('compiles with strict tsc and drives every operation of the local API', async () => {
    // The generated code and the driver are CommonJS (typescript-fetch writes extensionless imports).
    await writeFile(join(client, 'package.json'), '{"type":"commonjs"}\n');
    await copyFile(join(import.meta.dirname, 'typescript', 'drive.ts'), join(client, 'drive.ts'));
    await mustRun(
      TSC,
      [
        '--strict',
        '--module',
        'nodenext',
        '--target',
        'es2022',
        '--lib',
        'es2022,dom',
        '--types',
        'node',
        '--typeRoots',
        join(REPO_ROOT, 'node_modules', '@types'),
        '--outDir',
        'dist',
        'index.ts',
        'drive.ts',
      ],
      { cwd: client },
    );
    const inputs = { ...(await writeInputs(api.dir, api.imports)), pageSize: String(PAGE_SIZE) };
    const output = await mustRun(
      process.execPath,
      [join(client, 'dist', 'drive.js'), api.url, DOMAIN, GROUP, JSON.stringify(inputs)],
      { cwd: client },
    );
    const report = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as ScenarioReport;
    assertScenario(report);
  });
});
