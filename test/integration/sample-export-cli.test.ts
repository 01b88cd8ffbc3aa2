/**
 * A shipped sample run as a new user would (`distillery run resources/pipelines/mnist-lenet5…`):
 * its export lands below the data directory (`<data dir>/exports/mnist-lenet5`, never /tmp), with
 * the input preprocessing and the model's record in distillery.json. Then the overwrite rule at the
 * CLI (`distillery export … [--force]`) and at the API (`models.export`, validated by the
 * contract): re-exporting the same version is fine, another model is refused with
 * EXPORT_TARGET_INVALID and the folder left as it was, forcing replaces it; the ONNX export states
 * the same preprocessing (read by python3-onnx when present).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunInfo } from '../../preload/contract';
import { createHandlers, dispatch } from '../../main/api/handlers';
import { createApp } from '../../main/app/app';
import { modelContentHash } from '../../main/export/export-record';
import { decodeModelProto } from '../../main/export/onnx-proto';
import { cliJson, REPO_ROOT, runCli } from '../helpers/cli';
import { ensureNoLeaks } from '../helpers/leak-check';
import { checkWithPythonOnnx, pythonOnnxAvailable } from '../helpers/onnx-reader';
import { makeTempDir } from '../helpers/tmp';

const SAMPLE = join(REPO_ROOT, 'resources', 'pipelines', 'mnist-lenet5.distillery.json');

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

function distilleryJson(dir: string): {
  preprocessing: Record<string, unknown>;
  export: Record<string, unknown>;
} {
  return JSON.parse(readFileSync(join(dir, 'distillery.json'), 'utf8')) as ReturnType<typeof distilleryJson>;
}

describe('a sample run from the CLI, and the overwrite rule at the CLI and the API', () => {
  ensureNoLeaks();
  const data = makeTempDir('distillery-sample-cli-');
  const exportsDir = join(data.dir, 'exports', 'mnist-lenet5');
  let run: RunInfo;
  let fitId: string;
  let netId: string;

  beforeAll(async () => {
    const result = await cliJson<RunInfo>(['run', SAMPLE], data.dir);
    expect(result.code, result.stderr).toBe(0);
    run = result.json;
    fitId = run.tasks.find((task) => task.nodeId === 'fit')!.models.model!;
    netId = run.tasks.find((task) => task.nodeId === 'net')!.models.model!;
  }, 300_000);

  afterAll(() => data.cleanup());

  it('writes the sample’s export below <data dir>/exports with its preprocessing and model record', async () => {
    expect(run.status).toBe('done');
    const exportTask = run.tasks.find((task) => task.nodeId === 'export')!;
    expect(exportTask.summary?.outDir).toBe(exportsDir);
    expect(readdirSync(exportsDir).sort()).toEqual(['distillery.json', 'group1-shard1of1.bin', 'model.json']);
    const written = distilleryJson(exportsDir);
    expect(written.preprocessing).toEqual({
      source: 'dataset',
      inputShape: [28, 28, 1],
      layout: 'NHWC',
      dtype: 'float32',
      scaling: 'divide-by-255',
      classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      formula: 'x = pixel / 255 (0…1), float32 [batch, height, width, channels], row-major',
    });
    expect(written.export).toEqual({
      format: 'tfjs',
      versionId: fitId,
      contentHash: await modelContentHash(exportsDir),
      label: null,
    });
  });

  it('distillery export: the same version is written again, another model needs --force', async () => {
    const same = await runCli(['export', fitId, '--out', exportsDir], { dataDir: data.dir });
    expect(same.code, same.stderr).toBe(0);
    expect(distilleryJson(exportsDir).export).toMatchObject({
      versionId: fitId,
      label: 'mnist-lenet5/fit v1',
    });
    const before = snapshot(exportsDir);

    const refused = await runCli(['export', 'mnist-lenet5/net', '--out', exportsDir], { dataDir: data.dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('EXPORT_TARGET_INVALID');
    expect(refused.stderr).toContain(exportsDir);
    expect(refused.stderr).toContain(`mnist-lenet5/fit v1 (${fitId})`);
    expect(refused.stderr).toContain('--force');
    expect(snapshot(exportsDir)).toEqual(before);

    const forced = await runCli(['export', 'mnist-lenet5/net', '--out', exportsDir, '--force'], {
      dataDir: data.dir,
    });
    expect(forced.code, forced.stderr).toBe(0);
    expect(distilleryJson(exportsDir).export).toMatchObject({ versionId: netId });
  }, 120_000);

  it('the ONNX export of the trained model states the same preprocessing as its tfjs export', async () => {
    const onnxDir = join(data.dir, 'onnx-out');
    const result = await runCli(['export', fitId, '--format', 'onnx', '--out', onnxDir], {
      dataDir: data.dir,
    });
    expect(result.code, result.stderr).toBe(0);
    const tfjsDir = join(data.dir, 'tfjs-out');
    expect((await runCli(['export', fitId, '--out', tfjsDir], { dataDir: data.dir })).code).toBe(0);
    const expected = distilleryJson(tfjsDir).preprocessing;
    const file = join(onnxDir, 'model.onnx');
    const decoded = decodeModelProto(readFileSync(file)) as {
      metadataProps: Array<{ key: string; value: string }>;
    };
    const props = Object.fromEntries(decoded.metadataProps.map(({ key, value }) => [key, value]));
    expect(JSON.parse(props.preprocessing!)).toEqual(expected);
    expect(JSON.parse(props.export!)).toMatchObject({ format: 'onnx', versionId: fitId });
    if (pythonOnnxAvailable()) {
      const checked = checkWithPythonOnnx(file);
      expect(JSON.parse(checked.metadata.preprocessing!)).toEqual(expected);
      expect(JSON.parse(checked.metadata.export!)).toMatchObject({
        versionId: fitId,
        label: 'mnist-lenet5/fit v1',
      });
    }
  }, 120_000);

  it('models.export: relative folders below <data dir>/exports, the rule, force, and a validated request', async () => {
    const app = createApp({ dataDir: data.dir, concurrency: 1 });
    try {
      const handlers = createHandlers(app);
      const first = await dispatch(handlers, 'models.export', {
        ref: fitId,
        format: 'tfjs',
        outDir: 'api-copy',
      });
      expect(first).toMatchObject({ ok: true });
      const folder = join(data.dir, 'exports', 'api-copy');
      expect(distilleryJson(folder).export).toMatchObject({ versionId: fitId });

      const refused = await dispatch(handlers, 'models.export', {
        ref: netId,
        format: 'onnx',
        outDir: 'api-copy',
      });
      expect(refused).toMatchObject({
        ok: false,
        error: {
          code: 'EXPORT_TARGET_INVALID',
          details: { param: 'outDir', file: folder, holds: [{ format: 'tfjs', versionId: fitId }] },
        },
      });
      expect(readdirSync(folder)).not.toContain('model.onnx');

      const forced = await dispatch(handlers, 'models.export', {
        ref: netId,
        format: 'onnx',
        outDir: 'api-copy',
        force: true,
      });
      expect(forced).toMatchObject({ ok: true, result: { files: ['model.onnx'] } });

      const escaping = await dispatch(handlers, 'models.export', {
        ref: fitId,
        format: 'tfjs',
        outDir: '../runs',
      });
      expect(escaping).toMatchObject({
        ok: false,
        error: { code: 'EXPORT_TARGET_INVALID', details: { param: 'outDir' } },
      });
      const malformed = await dispatch(handlers, 'models.export', {
        ref: fitId,
        format: 'tfjs',
        outDir: 'x',
        force: 'yes',
      });
      expect(malformed).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    } finally {
      app.dispose();
    }
  }, 60_000);
});
