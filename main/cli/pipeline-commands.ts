/**
 * `distillery validate FILE` and `distillery nodes [TYPE]`: they need only the node catalog, so
 * they neither create nor migrate a data folder.
 */
import { readFileSync } from 'node:fs';
import type { PipelineDoc } from '../../preload/contract';
import { createDocumentHandlers } from '../api/handlers';
import { DistilleryError } from '../base/errors';
import { createDefaultCatalog } from '../nodes/index';
import { topologicalOrder } from '../pipeline/graph';
import { migrate, parseJson } from '../pipeline/pipeline-file';
import { EXIT, print, UsageError, type Flags } from './command-line';
import { nodeDetail, nodeTable } from './format';

/** Lists every issue of a pipeline file; exit code 2 when it has any. */
export async function validateCommand(file: string, flags: Flags): Promise<number> {
  const handlers = createDocumentHandlers(createDefaultCatalog());
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DistilleryError(
      'PIPELINE_FILE_UNREADABLE',
      `Cannot read ${file}: ${(error as Error).message}`,
      { file },
    );
  }
  // Parsed here rather than by `pipelines.load`, which refuses a structurally broken file whole:
  // `validate` lists every issue of any file that is JSON.
  const doc = migrate(parseJson(text, file));
  const issues = await handlers['pipelines.validate']({ doc, file });
  print(flags, { valid: issues.length === 0, issues }, () =>
    issues.length === 0
      ? validSummary(file, doc as PipelineDoc)
      : `${file}: ${issues.length} issue${issues.length === 1 ? '' : 's'}\n${issues.map((i) => `  [${i.code}] ${i.message}${i.pointer !== undefined ? `  (at ${i.pointer || '/'})` : ''}`).join('\n')}`,
  );
  return issues.length === 0 ? EXIT.ok : EXIT.usage;
}

/** "FILE: valid (3 nodes: a → b → c)", the nodes in the order they run. */
function validSummary(file: string, doc: PipelineDoc): string {
  // A valid document has no cycle, so every node is in the order.
  const { order } = topologicalOrder(
    doc.nodes.map((node) => node.id),
    doc.edges,
  );
  return `${file}: valid (${order.length} nodes: ${order.join(' → ')})`;
}

/** The node types, or one in full. */
export async function nodesCommand(type: string | undefined, flags: Flags): Promise<number> {
  const specs = await createDocumentHandlers(createDefaultCatalog())['catalog.list']({});
  if (!type) {
    print(flags, specs, () => nodeTable(specs));
    return EXIT.ok;
  }
  const spec = specs.find((candidate) => candidate.type === type);
  if (!spec) throw new UsageError(`unknown node type "${type}"; see "distillery nodes"`);
  print(flags, spec, () => nodeDetail(spec));
  return EXIT.ok;
}
