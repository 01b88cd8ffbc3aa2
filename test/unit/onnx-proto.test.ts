/**
 * ONNX's schema as the exporter finds and uses it: the vendored onnx.proto with its Apache-2.0
 * header and licence, found from the source tree and from a packaged app's resources folder
 * (which electron-builder.yml fills), and a ModelProto encoded against it decodes to the same
 * fields. Also the graph helpers' layout arithmetic.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { transposeValues } from '../../main/export/onnx-layer-helpers';
import { decodeModelProto, encodeModelProto, onnxProtoPath } from '../../main/export/onnx-proto';
import { makeTempDir } from '../helpers/tmp';

const ROOT = resolve(import.meta.dirname, '..', '..');
const VENDORED = join(ROOT, 'resources', 'onnx', 'onnx.proto');
const tmp = makeTempDir('distillery-onnx-proto-');
afterAll(() => tmp.cleanup());

type WithResources = NodeJS.Process & { resourcesPath?: string };

describe('vendored onnx.proto', () => {
  afterEach(() => {
    Reflect.deleteProperty(process, 'resourcesPath');
  });

  it('keeps ONNX’s licence header and licence file, and is found from the source tree', () => {
    expect(readFileSync(VENDORED, 'utf8')).toContain('SPDX-License-Identifier: Apache-2.0');
    expect(readFileSync(join(ROOT, 'resources', 'onnx', 'LICENSE'), 'utf8')).toContain('Apache License');
    expect(onnxProtoPath()).toBe(VENDORED);
  });

  it('is found in a packaged app’s resources folder, where electron-builder.yml puts it', () => {
    const builder = readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8');
    expect(builder).toMatch(/- from: resources\/onnx\n\s+to: onnx\n/);
    const resources = join(tmp.dir, 'resources');
    mkdirSync(join(resources, 'onnx'), { recursive: true });
    copyFileSync(VENDORED, join(resources, 'onnx', 'onnx.proto'));
    (process as WithResources).resourcesPath = resources;
    expect(onnxProtoPath()).toBe(join(resources, 'onnx', 'onnx.proto'));
  });

  it('encodes a ModelProto that decodes to the same fields, and refuses malformed ones', () => {
    const model = {
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      producerName: 'Distillery',
      docString: 'lineage',
      metadataProps: [{ key: 'class_names', value: '["a","b"]' }],
      graph: {
        name: 'g',
        node: [{ name: 'n', opType: 'Relu', input: ['x'], output: ['y'] }],
        input: [
          {
            name: 'x',
            type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }] } } },
          },
        ],
        output: [
          {
            name: 'y',
            type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }] } } },
          },
        ],
      },
    };
    const decoded = decodeModelProto(encodeModelProto(model));
    expect(decoded).toMatchObject(model);
    expect(() => encodeModelProto({ ...model, irVersion: 'seven' })).toThrow(
      /Invalid ONNX ModelProto: irVersion/,
    );
  });
});

describe('layout helpers', () => {
  it('transposes a tfjs conv kernel [h, w, in, out] to ONNX’s [out, in, h, w]', () => {
    // value = 1000·h + 100·w + 10·in + out, so each element says where it came from.
    const shape = [2, 3, 2, 4];
    const values = new Float32Array(48);
    let i = 0;
    for (let h = 0; h < 2; h++)
      for (let w = 0; w < 3; w++)
        for (let c = 0; c < 2; c++) for (let o = 0; o < 4; o++) values[i++] = 1000 * h + 100 * w + 10 * c + o;
    const out = transposeValues(values, shape, [3, 2, 0, 1]);
    i = 0;
    for (let o = 0; o < 4; o++)
      for (let c = 0; c < 2; c++)
        for (let h = 0; h < 2; h++)
          for (let w = 0; w < 3; w++) expect(out[i++]).toBe(1000 * h + 100 * w + 10 * c + o);
    const integers = transposeValues(
      Int8Array.from({ length: 6 }, (_, k) => k),
      [2, 3],
      [1, 0],
    );
    expect(integers).toBeInstanceOf(Int8Array);
    expect(Array.from(integers)).toEqual([0, 3, 1, 4, 2, 5]);
  });
});
