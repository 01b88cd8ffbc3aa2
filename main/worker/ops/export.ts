/**
 * `export`: writes the upstream model in a deployable format to a directory the user chose. This
 * is the one op that writes outside its task directory, by design; `outDir` must be absolute so
 * that where the files land never depends on the worker's working directory.
 */
import { statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { errors } from '../../base/errors';
import { DEFAULT_SHARD_SIZE_BYTES } from '../../export/tfjs-layers';
import { getExporter } from '../../export/exporter';
import type { Op } from '../context';
import { nodeError, requireInput } from './model';

/** Input `model`; params `format` ('tfjs'), `outDir` (absolute path, required), `shardSizeBytes` (4 MiB). */
export const exportOp: Op = async (ctx) => {
  const model = requireInput(ctx, 'model', 'model');
  const { format = 'tfjs', outDir, shardSizeBytes = DEFAULT_SHARD_SIZE_BYTES } = ctx.params;
  if (typeof format !== 'string') throw errors.paramType(ctx.nodeId, 'format', 'a string', format);
  if (typeof outDir !== 'string' || outDir === '') {
    throw errors.paramType(ctx.nodeId, 'outDir', 'a directory path', outDir);
  }
  if (!isAbsolute(outDir)) throw errors.paramInvalid(ctx.nodeId, 'outDir', 'an absolute path', outDir);
  if (!Number.isInteger(shardSizeBytes)) {
    throw errors.paramType(ctx.nodeId, 'shardSizeBytes', 'an integer', shardSizeBytes);
  }

  let files: string[];
  try {
    const exporter = getExporter(format);
    ({ files } = await exporter.export(model.path, outDir, { shardSizeBytes: shardSizeBytes as number }));
  } catch (error) {
    throw nodeError(ctx.nodeId, error);
  }
  const bytes = files.reduce((sum, file) => sum + statSync(join(outDir, file)).size, 0);
  ctx.log(`Exported ${files.length} files (${bytes} bytes) as ${format} to ${outDir}`);
  return { format, outDir, files, bytes };
};
