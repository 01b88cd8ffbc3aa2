/**
 * The module graph of main/ and preload/: no import cycles (type-only imports count, since they
 * tie the files' meanings together just the same), and the worker's ops are leaves.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|(?:^|\n)\s*import\s+['"](\.[^'"]+)['"]/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

function resolveImport(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, join(base, 'index.ts')]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not this spelling; try the next.
    }
  }
  return undefined;
}

/** File → the project files it imports, as paths relative to the repository root. */
function moduleGraph(): Map<string, string[]> {
  const files = [...sourceFiles(join(ROOT, 'main')), ...sourceFiles(join(ROOT, 'preload'))];
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = new Set<string>();
    for (const match of text.matchAll(IMPORT)) {
      const target = resolveImport(file, match[1] ?? match[2]!);
      if (target) targets.add(relative(ROOT, target));
    }
    graph.set(relative(ROOT, file), [...targets]);
  }
  return graph;
}

/** Strongly connected components with more than one file (Tarjan, with an explicit stack). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  let counter = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; next: number }> = [{ node: start, next: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work.at(-1)!;
      const edges = graph.get(frame.node) ?? [];
      if (frame.next < edges.length) {
        const child = edges[frame.next++]!;
        if (!index.has(child)) {
          index.set(child, counter);
          low.set(child, counter++);
          stack.push(child);
          onStack.add(child);
          work.push({ node: child, next: 0 });
        } else if (onStack.has(child)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(child)!));
        }
        continue;
      }
      work.pop();
      const parent = work.at(-1);
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        if (component.length > 1) found.push(component.sort());
      }
    }
  }
  return found;
}

describe('module graph', () => {
  const graph = moduleGraph();

  it('finds the imports it should (the check itself works)', () => {
    expect(graph.get('main/worker/ops/index.ts')).toContain('main/worker/op-registry.ts');
    expect(
      cycles(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
          ['d', ['a']],
        ]),
      ),
    ).toEqual([['a', 'b', 'c']]);
  });

  it('has no import cycles in main/ and preload/', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('keeps ops as leaves: an op file imports no other op, and only the worker entry imports ops/', () => {
    const isOp = (file: string) => file.startsWith('main/worker/ops/');
    for (const [file, targets] of graph) {
      const opTargets = targets.filter(isOp);
      // The registration file imports every op; that is its job.
      if (file === 'main/worker/ops/index.ts') continue;
      if (isOp(file)) {
        expect({ file, imports: opTargets }).toEqual({ file, imports: [] });
      } else {
        const allowed = file === 'main/worker/main.ts' ? ['main/worker/ops/index.ts'] : [];
        expect({ file, imports: opTargets }).toEqual({ file, imports: allowed });
      }
    }
  });
});
