import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../../infra/constructs/matchbridge-function.ts';
import {
  folderGraph,
  type ImportGraph,
  importCycles,
  reachableFrom,
  readImportGraph,
} from '../../support/import-graph.ts';

describe('import directions', () => {
  let graph: ImportGraph;
  before(async () => {
    graph = await readImportGraph(PROJECT_ROOT, ['lib', 'functions', 'infra', 'bin']);
  });

  it('reads every source file and its imports, type-only ones included', () => {
    assert.ok(graph.size > 150, `${graph.size} files`);
    // `import type { ImportExecutionInput, … } from '../model/types.ts'` is type-only.
    assert.ok(graph.get('lib/aws/step-functions.ts')?.includes('lib/model/types.ts'));
  });

  it('keeps local mode, the CLI, the CDK app and tests out of every Lambda handler, however indirectly', () => {
    for (const handler of [...graph.keys()].filter((file) => file.startsWith('functions/'))) {
      const local = [...reachableFrom(graph, handler)].filter((file) =>
        /^(lib\/local|lib\/cli|infra|test|bench)\//.test(file),
      );
      assert.deepEqual(local, [], `${handler} reaches local-only code`);
    }
  });

  it('lets only entry points import the local adapter set and the CLI', () => {
    const wrong = [...graph].flatMap(([file, targets]) =>
      /^lib\/(?!local\/|cli\/)/.test(file)
        ? targets
            .filter((target) => /^lib\/(local|cli)\//.test(target))
            .map((target) => `${file} → ${target}`)
        : [],
    );
    assert.deepEqual(wrong, []);
  });

  it('has no import cycle between files', () => {
    assert.deepEqual(importCycles(graph), []);
  });

  it('has no import cycle between folders', () => {
    assert.deepEqual(importCycles(folderGraph(graph)), []);
  });
});
