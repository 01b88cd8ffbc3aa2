/**
 * What an export-like task wrote outside its run folder, recorded as sha256 per file and checked
 * before reuse, on real files: unchanged files pass; a rewritten, removed or replaced file, or a
 * task that wrote elsewhere, does not; a folder too large to record is never trusted.
 */
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  externalEffectsChanged,
  externalPaths,
  recordExternalEffects,
} from '../../main/jobs/external-effects';
import { makeTempDir } from '../helpers/tmp';

describe('external effects', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let out: string;

  beforeEach(() => {
    tmp = makeTempDir();
    out = join(tmp.dir, 'export');
    mkdirSync(join(out, 'nested'), { recursive: true });
    writeFileSync(join(out, 'model.json'), '{"modelTopology": 1}');
    writeFileSync(join(out, 'nested', 'weights.bin'), Buffer.from([1, 2, 3, 4]));
  });

  afterEach(() => tmp.cleanup());

  it('records every file under the folder and finds them unchanged', async () => {
    const effects = await recordExternalEffects([out]);
    expect(effects.complete).toBe(true);
    expect(effects.files.map((file) => file.path)).toEqual([
      join(out, 'model.json'),
      join(out, 'nested', 'weights.bin'),
    ]);
    expect(effects.files[1]).toMatchObject({
      size: 4,
      sha256: '9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a',
    });
    expect(await externalEffectsChanged(effects, [out])).toBeNull();
    // A file added beside them later does not make what the task wrote any less its own.
    writeFileSync(join(out, 'model.onnx'), 'other export');
    expect(await externalEffectsChanged(effects, [out])).toBeNull();
  });

  it('notices a rewritten, removed or replaced file, and another target folder', async () => {
    const effects = await recordExternalEffects([out]);
    writeFileSync(join(out, 'nested', 'weights.bin'), Buffer.from([1, 2, 3, 5]));
    expect(await externalEffectsChanged(effects, [out])).toBe(
      `${join(out, 'nested', 'weights.bin')} has changed since it was written`,
    );
    writeFileSync(join(out, 'nested', 'weights.bin'), Buffer.from([1, 2, 3, 4]));
    expect(await externalEffectsChanged(effects, [out])).toBeNull();
    rmSync(join(out, 'model.json'));
    expect(await externalEffectsChanged(effects, [out])).toBe(`${join(out, 'model.json')} is gone`);
    mkdirSync(join(out, 'model.json'));
    expect(await externalEffectsChanged(effects, [out])).toBe(
      `${join(out, 'model.json')} is no longer a file`,
    );
    expect(await externalEffectsChanged(effects, [join(tmp.dir, 'elsewhere')])).toMatch(/wrote elsewhere/);
    expect(await externalEffectsChanged(null, [out])).toMatch(/no record/);
  });

  it('does not follow symbolic links, and gives up past its limits', async () => {
    symlinkSync('/etc', join(out, 'link'));
    const effects = await recordExternalEffects([out]);
    expect(effects.files).toHaveLength(2);
    const tooMany = await recordExternalEffects([out], { files: 1, bytes: 1e9 });
    expect(tooMany.complete).toBe(false);
    expect(await externalEffectsChanged(tooMany, [out])).toMatch(/too many files/);
    expect((await recordExternalEffects([out], { files: 100, bytes: 5 })).complete).toBe(false);
  });

  it('takes the absolute paths a task’s params name, and a missing folder as nothing written', async () => {
    expect(externalPaths(['outDir'], { outDir: out, other: '/x' })).toEqual([out]);
    expect(externalPaths(['outDir'], { outDir: 'relative/dir' })).toEqual([]);
    expect(externalPaths(['outDir'], { outDir: '' })).toEqual([]);
    const none = await recordExternalEffects([join(tmp.dir, 'missing')]);
    expect(none).toEqual({ paths: [join(tmp.dir, 'missing')], files: [], complete: true });
  });
});
