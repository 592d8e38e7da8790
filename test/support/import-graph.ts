import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, normalize, relative } from 'node:path';

/** The project's import graph: each source file (repository-relative) and the project files it imports. */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

// Static imports and re-exports (type-only ones included: they carry the vocabulary's direction), side-effect
// imports, and dynamic imports of a literal. Every import in this code base names its file, `.ts` included.
const SPECIFIERS = [
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?[^'";]*?\sfrom\s+['"]([^'"]+)['"]/g,
  /(?:^|[\s;])import\s+['"]([^'"]+)['"]/g,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
];

async function* sourceFiles(root: string, folder: string): AsyncGenerator<string> {
  for (const entry of await readdir(join(root, folder), { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(root, path);
    else if (/\.(ts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) yield path;
  }
}

/**
 * Reads the import graph of `folders` under `root` from the sources' import statements (the TypeScript
 * compiler's own API is not available for TypeScript 7, which the code analysis libraries need). Imports of
 * packages are left out; a relative import is resolved to the file it names.
 */
export async function readImportGraph(root: string, folders: readonly string[]): Promise<ImportGraph> {
  const graph = new Map<string, string[]>();
  for (const folder of folders) {
    for await (const file of sourceFiles(root, folder)) {
      const text = (await readFile(join(root, file), 'utf8')).replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
      const targets = new Set<string>();
      for (const pattern of SPECIFIERS) {
        for (const [, specifier] of text.matchAll(pattern)) {
          if (specifier?.startsWith('.'))
            targets.add(relative(root, normalize(join(root, dirname(file), specifier))));
        }
      }
      graph.set(file, [...targets].sort());
    }
  }
  return graph;
}

/** Every file `from` reaches through its imports, itself excluded. */
export function reachableFrom(graph: ImportGraph, from: string): Set<string> {
  const seen = new Set<string>();
  const stack = [...(graph.get(from) ?? [])];
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    stack.push(...(graph.get(file) ?? []));
  }
  return seen;
}

/** The import cycles: strongly connected components of more than one node (Tarjan), each sorted. */
export function importCycles(graph: ImportGraph): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
}

/** The graph between folders: `lib/api/routes.ts` belongs to `lib/api`; imports inside a folder are dropped. */
export function folderGraph(graph: ImportGraph, depth = 2): ImportGraph {
  const folderOf = (file: string) => file.split('/').slice(0, depth).join('/');
  const folders = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = folderOf(file);
    const into = folders.get(from) ?? new Set<string>();
    for (const target of targets) if (folderOf(target) !== from) into.add(folderOf(target));
    folders.set(from, into);
  }
  return new Map([...folders].map(([folder, targets]) => [folder, [...targets].sort()]));
}
