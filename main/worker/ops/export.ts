/**
 * `export` (and `diffusion.export`): writes the upstream model in a deployable format to a
 * directory the user chose. This is the one op that writes outside its task directory, by design.
 * The runner hands it `outDir` absolute: a relative `outDir` in the pipeline names a folder below
 * `<data dir>/exports` and is resolved before the task starts (main/export/out-dir.ts,
 * `withExportFolders`), so that where the files land never depends on the worker's working
 * directory and the runner can check a reused export's files. A folder holding another model's
 * export, or other files, is refused unless `overwrite` is on.
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
  const { format, outDir, shardSizeBytes, overwrite } = params;
  // The runner resolves relative folders below <data dir>/exports; one still relative here climbed
  // out of it ("../x") or reached the op without a runner.
  if (!isAbsolute(outDir)) {
    throw errors.paramInvalid(
      ctx.nodeId,
      'outDir',
      'an absolute path, or a path relative to <data dir>/exports that stays inside it',
      outDir,
    );
  }
  const versionId = typeof model.meta.versionId === 'string' ? model.meta.versionId : undefined;
  const { files } = await getExporter(format).export(model.path, outDir, {
    shardSizeBytes,
    ...(versionId ? { versionId } : {}),
    force: overwrite,
    forceHint: `set "overwrite": true on node "${ctx.nodeId}"`,
  });
  const bytes = files.reduce((sum, file) => sum + statSync(join(outDir, file)).size, 0);
  ctx.log(
    `Exported ${files.length} files (${bytes.toLocaleString('en-US')} bytes) as ${format} to ${outDir}`,
  );
  return { format, outDir, files, bytes };
}
