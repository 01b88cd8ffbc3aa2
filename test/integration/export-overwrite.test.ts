/**
 * Exports never silently replace a different model: for both formats and through the export node,
 * a folder that holds another model's export (or other files) is refused with
 * EXPORT_TARGET_INVALID naming the folder and what it holds, and nothing in it changes; a folder
 * holding an earlier export of the same model (same version id, or same content) is written; a
 * forced export replaces anything. Each export records its model (export-record.ts), read back
 * here from distillery.json and, for ONNX, by python3-onnx when present.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { modelContentHash, readFolderContents } from '../../main/export/export-record';
import { getExporter } from '../../main/export/exporter';
import { decodeModelProto } from '../../main/export/onnx-proto';
import { resolveExportFolder, withExportFolders } from '../../main/export/out-dir';
import { buildMlp } from '../../main/worker/models/mlp';
import { saveModel, type ModelMeta } from '../../main/worker/models/model-file';
import { FakeOpContext } from '../helpers/fake-op-context';
import { checkWithPythonOnnx, pythonOnnxAvailable } from '../helpers/onnx-reader';
import { exportOp } from '../helpers/ops';
import { makeTempDir } from '../helpers/tmp';

const tmp = makeTempDir('distillery-export-overwrite-');
const root = tmp.dir;
let modelA: string;
let modelB: string;

function meta(): ModelMeta {
  return {
    format: 1,
    kind: 'classifier',
    architecture: 'mlp',
    architectureParams: { hidden: [16] },
    inputShape: [28, 28, 1],
    numClasses: 10,
    classNames: Array.from({ length: 10 }, (_, i) => String(i)),
    trained: true,
  };
}

async function saveMlp(name: string, seed: number): Promise<string> {
  const model = buildMlp({
    inputShape: [28, 28, 1],
    numClasses: 10,
    hidden: [16],
    activation: 'relu',
    dropout: 0,
    seed,
  });
  const dir = join(root, name);
  await saveModel(model, dir, meta());
  model.dispose();
  return dir;
}

async function refusal(promise: Promise<unknown>): Promise<DistilleryError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DistilleryError);
  return error as DistilleryError;
}

/** Every file of a folder with its sha256, to show that a refusal changed nothing. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((file) => [
        file,
        createHash('sha256')
          .update(readFileSync(join(dir, file)))
          .digest('hex'),
      ]),
  );
}

function exportRecord(dir: string): Record<string, unknown> {
  return (
    JSON.parse(readFileSync(join(dir, 'distillery.json'), 'utf8')) as { export: Record<string, unknown> }
  ).export;
}

function onnxProps(dir: string): Record<string, string> {
  const decoded = decodeModelProto(readFileSync(join(dir, 'model.onnx'))) as {
    metadataProps: Array<{ key: string; value: string }>;
  };
  return Object.fromEntries(decoded.metadataProps.map(({ key, value }) => [key, value]));
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  modelA = await saveMlp('model-a', 1);
  modelB = await saveMlp('model-b', 2);
});

afterAll(() => tmp.cleanup());

describe('the overwrite rule, for each format', () => {
  it('hashes a model by content, the same for its sharded tfjs export', async () => {
    const hashA = await modelContentHash(modelA);
    expect(hashA).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await modelContentHash(modelB)).not.toBe(hashA);
    const out = join(root, 'hash-check');
    await getExporter('tfjs').export(modelA, out, { shardSizeBytes: 4096 });
    expect(readdirSync(out).filter((file) => file.endsWith('.bin')).length).toBeGreaterThan(3);
    expect(await modelContentHash(out)).toBe(hashA);
    expect(exportRecord(out)).toEqual({ format: 'tfjs', versionId: null, contentHash: hashA, label: null });
  });

  for (const format of ['tfjs', 'onnx'] as const) {
    it(`${format}: writes an empty folder and re-exports of the same model, refuses another model's folder, forced replaces it`, async () => {
      const exporter = getExporter(format);
      const out = join(root, `rule-${format}`);
      await exporter.export(modelA, out, { versionId: 'mv_a', modelLabel: 'demo/fit v1' });
      const first = snapshot(out);
      // The same version again: allowed, same files.
      await exporter.export(modelA, out, { versionId: 'mv_a', modelLabel: 'demo/fit v1' });
      expect(snapshot(out)).toEqual(first);
      // The same content under another version id (a reused task registered twice): allowed.
      await exporter.export(modelA, out, { versionId: 'mv_other' });
      const beforeRefusal = snapshot(out);

      const refused = await refusal(
        exporter.export(modelB, out, { versionId: 'mv_b', forceHint: 'use --force' }),
      );
      expect(refused.code).toBe('EXPORT_TARGET_INVALID');
      expect(refused.message).toContain(out);
      expect(refused.message).toContain('mv_other');
      expect(refused.message).toContain('use --force');
      expect(refused.details).toMatchObject({
        param: 'outDir',
        file: out,
        holds: [{ format, versionId: 'mv_other', contentHash: await modelContentHash(modelA) }],
        model: { versionId: 'mv_b', contentHash: await modelContentHash(modelB) },
      });
      // Refused before writing: nothing changed.
      expect(snapshot(out)).toEqual(beforeRefusal);

      await exporter.export(modelB, out, { versionId: 'mv_b', force: true });
      const record = format === 'tfjs' ? exportRecord(out) : (JSON.parse(onnxProps(out).export!) as object);
      expect(record).toEqual({
        format,
        versionId: 'mv_b',
        contentHash: await modelContentHash(modelB),
        label: null,
      });
    });
  }

  it('refuses a folder of other files, and a second format of another model beside an export', async () => {
    const notes = join(root, 'notes');
    mkdirSync(notes);
    writeFileSync(join(notes, 'README.txt'), 'my notes');
    const refused = await refusal(getExporter('tfjs').export(modelA, notes));
    expect(refused.details).toMatchObject({ file: notes, holds: [], entries: 1 });
    expect(refused.message).toContain('README.txt');
    expect(readdirSync(notes)).toEqual(['README.txt']);

    // A tfjs export of A accepts A's ONNX file beside it, but not B's.
    const mixed = join(root, 'mixed');
    await getExporter('tfjs').export(modelA, mixed);
    await getExporter('onnx').export(modelA, mixed);
    expect(readdirSync(mixed)).toContain('model.onnx');
    const other = await refusal(getExporter('onnx').export(modelB, mixed));
    expect(other.code).toBe('EXPORT_TARGET_INVALID');
    const contents = await readFolderContents(mixed);
    expect(contents.exports.map((held) => held.format)).toEqual(['tfjs', 'onnx']);
  });

  it('recognises an export written before exports carried a record, by its content', async () => {
    const legacy = join(root, 'legacy');
    await getExporter('tfjs').export(modelA, legacy);
    const metaFile = join(legacy, 'distillery.json');
    const { export: dropped, ...rest } = JSON.parse(readFileSync(metaFile, 'utf8')) as Record<
      string,
      unknown
    >;
    expect(dropped).toBeDefined();
    writeFileSync(metaFile, JSON.stringify(rest));
    // Re-exporting the same model into it is allowed; with its record stripped again, another is not.
    await getExporter('tfjs').export(modelA, legacy);
    writeFileSync(metaFile, JSON.stringify(rest));
    expect((await refusal(getExporter('tfjs').export(modelB, legacy))).details).toMatchObject({
      holds: [{ format: 'tfjs', versionId: null, contentHash: await modelContentHash(modelA) }],
    });
  });

  it('python3-onnx reads the record and the preprocessing from model.onnx', async (ctx) => {
    ctx.skip(!pythonOnnxAvailable(), 'python3-onnx is not installed');
    const out = join(root, 'onnx-checked');
    await getExporter('onnx').export(modelA, out, { versionId: 'mv_a' });
    const checked = checkWithPythonOnnx(join(out, 'model.onnx'));
    expect(JSON.parse(checked.metadata.export!)).toEqual({
      format: 'onnx',
      versionId: 'mv_a',
      contentHash: await modelContentHash(modelA),
      label: null,
    });
    // A model without a recorded dataset: what its input shape implies, said so.
    expect(JSON.parse(checked.metadata.preprocessing!)).toMatchObject({
      source: 'input-shape',
      inputShape: [28, 28, 1],
      layout: 'NHWC',
      scaling: 'divide-by-255',
    });
  });
});

describe('export node', () => {
  const model = (path: string, versionId: string) => ({ kind: 'model' as const, path, meta: { versionId } });

  it('refuses a folder holding another model unless overwrite is on, naming the node', async () => {
    const out = join(root, 'node-out');
    const run = (nodeId: string, path: string, versionId: string, params: Record<string, unknown> = {}) =>
      exportOp(
        new FakeOpContext({
          taskDir: join(root, 'tasks', nodeId),
          nodeId,
          params: { outDir: out, ...params },
          inputs: { model: model(path, versionId) },
        }),
      );
    const first = await run('export-a', modelA, 'mv_a');
    expect(first.outDir).toBe(out);
    expect(exportRecord(out)).toMatchObject({ versionId: 'mv_a' });
    const before = snapshot(out);

    const refused = await refusal(run('export-b', modelB, 'mv_b'));
    expect(refused.code).toBe('EXPORT_TARGET_INVALID');
    expect(refused.details).toMatchObject({ nodeId: 'export-b', param: 'outDir', file: out });
    expect(refused.message).toContain('"overwrite": true');
    expect(snapshot(out)).toEqual(before);

    await run('export-b', modelB, 'mv_b', { overwrite: true });
    expect(exportRecord(out)).toMatchObject({ versionId: 'mv_b' });
  });

  it('refuses a relative outDir it was handed (the runner resolves those)', async () => {
    const refused = await refusal(
      exportOp(
        new FakeOpContext({
          taskDir: join(root, 'tasks', 'relative'),
          nodeId: 'relative',
          params: { outDir: '../escape' },
          inputs: { model: model(modelA, 'mv_a') },
        }),
      ),
    );
    expect(refused.code).toBe('PARAM_INVALID');
    expect(refused.details).toMatchObject({ nodeId: 'relative', param: 'outDir', received: '../escape' });
  });
});

describe('relative export folders', () => {
  const exportsRoot = join(root, 'data', 'exports');

  it('name folders below <data dir>/exports and may not climb out of it', () => {
    expect(resolveExportFolder('mnist-lenet5', exportsRoot)).toBe(join(exportsRoot, 'mnist-lenet5'));
    expect(resolveExportFolder('a/b/../c', exportsRoot)).toBe(join(exportsRoot, 'a', 'c'));
    expect(resolveExportFolder('/abs/dir', exportsRoot)).toBe('/abs/dir');
    expect(resolveExportFolder('../runs', exportsRoot)).toBeUndefined();
    expect(resolveExportFolder('..', exportsRoot)).toBeUndefined();
    expect(resolveExportFolder('.', exportsRoot)).toBeUndefined();
  });

  it('are resolved in a task’s params only for its external-path params', () => {
    const params = { outDir: 'lenet', format: 'tfjs', note: 'relative/too' };
    expect(withExportFolders(params, ['outDir'], exportsRoot)).toEqual({
      ...params,
      outDir: join(exportsRoot, 'lenet'),
    });
    expect(params.outDir).toBe('lenet');
    const escaping = { outDir: '../../etc' };
    expect(withExportFolders(escaping, ['outDir'], exportsRoot)).toBe(escaping);
    const absolute = { outDir: '/srv/models' };
    expect(withExportFolders(absolute, ['outDir'], exportsRoot)).toBe(absolute);
  });
});
