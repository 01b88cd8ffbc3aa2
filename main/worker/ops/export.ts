/**
 * `export` (and `diffusion.export`): writes the upstream model in a deployable format to a
 * directory the user chose. This is the one op that writes outside its task directory, by design;
 * `outDir` must be absolute so that where the files land never depends on the worker's working
 * directory.
 */
import { statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { errors } from '../../base/errors';
import { getExporter } from '../../export/exporter';
import type { ParamsOf } from '../../nodes/define';
import type { exportNode } from '../../nodes/export';
import { requireInput, type OpContext, type OpSummary } from '../context';

export async function exportModel(ctx: OpContext, params: ParamsOf<typeof exportNode>): Promise<OpSummary> {
  const model = requireInput(ctx, 'model', 'model');
  const { format, outDir, shardSizeBytes } = params;
  // Relative paths are valid in the file but mean nothing to a worker: only the op can refuse them.
  if (!isAbsolute(outDir)) throw errors.paramInvalid(ctx.nodeId, 'outDir', 'an absolute path', outDir);
  const { files } = await getExporter(format).export(model.path, outDir, { shardSizeBytes });
  const bytes = files.reduce((sum, file) => sum + statSync(join(outDir, file)).size, 0);
  ctx.log(`Exported ${files.length} files (${bytes} bytes) as ${format} to ${outDir}`);
  return { format, outDir, files, bytes };
}
