/** The output directory every exporter writes into. */
import { mkdir, stat } from 'node:fs/promises';
import { DistilleryError } from '../base/errors';

/** Creates outDir when missing; refuses a path that is (or lies under) something other than a directory. */
export async function prepareOutDir(outDir: string): Promise<void> {
  const existing = await stat(outDir).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new DistilleryError(
      'EXPORT_TARGET_INVALID',
      `Export target ${outDir} exists and is not a directory`,
      {
        param: 'outDir',
        expected: 'a directory (created if missing)',
        received: outDir,
        file: outDir,
      },
    );
  }
  try {
    await mkdir(outDir, { recursive: true });
  } catch (error) {
    throw new DistilleryError(
      'EXPORT_TARGET_INVALID',
      `Cannot create export directory ${outDir}: ${(error as Error).message}`,
      { param: 'outDir', expected: 'a directory (created if missing)', received: outDir, file: outDir },
      { cause: error },
    );
  }
}
