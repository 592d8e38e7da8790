import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../infra/constructs/matchbridge-function.ts';
import { LambdaService } from './support/lambda-runtime.ts';

// A function that reports what its environment lets it do, as a bundled asset would meet it.
const PROBE = `
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
const attempt = (fn) => { try { fn(); return 'allowed'; } catch (error) { return error.code ?? error.name; } };
export const handler = async (event, context) => {
  if (event.fail) throw Object.assign(new Error('on purpose'), { name: 'DatabaseUnavailableError' });
  return {
    pid: process.pid,
    writeCode: attempt(() => writeFileSync(join(process.env.LAMBDA_TASK_ROOT, 'x'), 'x')),
    writeTmp: attempt(() => writeFileSync(join(process.env.TMPDIR, 'x'), 'x')),
    readProject: attempt(() => readFileSync(event.projectFile)),
    fromTemplate: process.env.FROM_TEMPLATE ?? null,
    leaked: process.env.ASSEMBLY_PROBE_PARENT ?? null,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    remainingMs: context.getRemainingTimeInMillis(),
    heapLimitMiB: Math.round(getHeapStatistics().heap_size_limit / 1024 / 1024),
  };
};
`;

describe('the assembly Lambda runtime: what a function process is allowed', () => {
  let dir: string;
  let service: LambdaService;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-probe-'));
    await writeFile(join(dir, 'index.mjs'), PROBE);
    process.env.ASSEMBLY_PROBE_PARENT = 'visible only to the test process';
    service = new LambdaService(
      [
        {
          name: 'probe',
          handlerName: 'probe',
          handler: 'index.handler',
          assetDir: dir,
          timeoutSeconds: 30,
          memoryMiB: 512,
          environment: { FROM_TEMPLATE: 'yes' },
        },
      ],
      { region: 'eu-west-1', variables: {} },
    );
  });
  after(async () => {
    delete process.env.ASSEMBLY_PROBE_PARENT;
    await service.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the asset with a read-only code folder, a writable TMPDIR, no project files and only its own environment', async () => {
    const { payload } = await service.invoke('probe', { projectFile: join(PROJECT_ROOT, 'package.json') });
    const probe = payload as Record<string, unknown>;

    assert.equal(probe.writeCode, 'ERR_ACCESS_DENIED');
    assert.equal(probe.writeTmp, 'allowed');
    assert.equal(probe.readProject, 'ERR_ACCESS_DENIED');
    assert.equal(probe.fromTemplate, 'yes');
    assert.equal(probe.leaked, null);
    assert.equal(probe.functionName, 'probe');
    assert.ok(
      Number(probe.remainingMs) <= 30_000 && Number(probe.remainingMs) > 25_000,
      String(probe.remainingMs),
    );
    assert.ok(
      Number(probe.heapLimitMiB) <= 512 && Number(probe.heapLimitMiB) >= 256,
      `heap limit ${probe.heapLimitMiB} MiB within the function's 512 MiB`,
    );
  });

  it('reuses a warm process, and reports a thrown error by its name as Lambda does', async () => {
    const first = (await service.invoke('probe', { projectFile: '/' })).payload as { pid: number };

    await assert.rejects(service.invoke('probe', { fail: true }), { name: 'DatabaseUnavailableError' });
    const second = (await service.invoke('probe', { projectFile: '/' })).payload as { pid: number };

    assert.equal(second.pid, first.pid);
  });
});
