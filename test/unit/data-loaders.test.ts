import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encode as encodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { loadCsvDataset } from '../../main/worker/data/csv';
import { parseCsv } from '../../main/worker/data/csv-parse';
import { readCsvTable } from '../../main/worker/data/csv-table';
import { readDataset } from '../../main/worker/data/dataset-file';
import { readIdxDataset, readIdxImages, readIdxLabels } from '../../main/worker/data/idx';
import { listImageFolder, loadImageFolder } from '../../main/worker/data/image-folder';
import { toFormat } from '../../main/worker/data/image-resize';
import { loadMnist, mnistPaths } from '../../main/worker/data/mnist';
import {
  carveValidation,
  classHistogram,
  createRng,
  permutation,
  shuffledTestSplit,
  takeFirst,
} from '../../main/worker/data/splits';
import { datasetCsvOp, datasetIdxOp, datasetImageFolderOp, datasetMnistOp } from '../helpers/ops';
import { FakeOpContext } from '../helpers/fake-op-context';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'csv');
const FASHION_DIR = '/usr/share/datasets/fashion-mnist';

let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'distillery-data-'));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function taskDir(name: string): string {
  const dir = join(tmp, 'tasks', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Runs `fn`, expecting a DistilleryError; returns it for field checks. */
async function caught(fn: () => unknown): Promise<DistilleryError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DistilleryError);
    return error as DistilleryError;
  }
  throw new Error('expected a DistilleryError, nothing was thrown');
}

function mean(values: ArrayLike<number>, start: number, stride: number, count: number): number {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += values[start + i * stride]!;
  return sum / count;
}

describe('splits', () => {
  it('is deterministic per seed and in [0, 1)', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const first = Array.from({ length: 100 }, () => a());
    expect(Array.from({ length: 100 }, () => b())).toEqual(first);
    expect(Array.from({ length: 100 }, () => c())).not.toEqual(first);
    expect(first.every((v) => v >= 0 && v < 1)).toBe(true);
    const order = permutation(1000, 7);
    expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(permutation(1000, 7)).toEqual(order);
  });

  it('takes limits, carves validation off the end and splits test off a shuffled pool', () => {
    const split = {
      count: 10,
      x: Uint8Array.from({ length: 20 }, (_, i) => i),
      y: Int32Array.from({ length: 10 }, (_, i) => i),
    };
    expect(takeFirst(split, 0)).toBe(split);
    expect([...takeFirst(split, 3).y]).toEqual([0, 1, 2]);
    const { train, validation } = carveValidation(split, 0.2);
    expect([...train.y]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...validation!.y]).toEqual([8, 9]);
    expect([...validation!.x]).toEqual([16, 17, 18, 19]);
    expect(carveValidation(split, 0).validation).toBeUndefined();
    const pool = shuffledTestSplit(split, 0.3, 5);
    expect(pool.train.count).toBe(7);
    expect(pool.test.count).toBe(3);
    expect([...pool.train.y, ...pool.test.y].sort((a, b) => a - b)).toEqual([...split.y]);
    expect([...shuffledTestSplit(split, 0.3, 5).test.y]).toEqual([...pool.test.y]);
    expect(classHistogram(Int32Array.from([0, 2, 2]), 3)).toEqual([1, 0, 2]);
  });
});

describe('IDX and MNIST', () => {
  it('loads the packaged MNIST with the canonical figures', () => {
    const train = loadMnist('train');
    const test = loadMnist('test');

    expect(train.count).toBe(60000);
    expect(test.count).toBe(10000);
    expect([train.rows, train.cols]).toEqual([28, 28]);
    expect(classHistogram(train.labels, 10)).toEqual([
      5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949,
    ]);
    expect([...train.labels.subarray(0, 10)]).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    let sum = 0;
    for (let i = 0; i < train.images.length; i++) sum += train.images[i]!;
    expect(sum / train.images.length / 255).toBeCloseTo(0.1307, 3);
    expect(Math.abs(sum / train.images.length / 255 - 0.1307)).toBeLessThan(0.0005);
  });

  it('parses a gzipped copy identically', () => {
    const paths = mnistPaths('test');
    const gzImages = join(tmp, 't10k-images.gz');
    const gzLabels = join(tmp, 't10k-labels.gz');
    writeFileSync(gzImages, gzipSync(readFileSync(paths.images)));
    writeFileSync(gzLabels, gzipSync(readFileSync(paths.labels)));
    const plain = readIdxDataset(paths.images, paths.labels);
    const gz = readIdxDataset(gzImages, gzLabels);
    expect(gz.count).toBe(10000);
    expect([gz.rows, gz.cols]).toEqual([28, 28]);
    expect(Buffer.from(gz.images).equals(Buffer.from(plain.images))).toBe(true);
    expect(Buffer.from(gz.labels).equals(Buffer.from(plain.labels))).toBe(true);
  });

  it('refuses bad magic, truncated data and mismatched counts, naming the file', async () => {
    const paths = mnistPaths('test');
    const labels = readFileSync(paths.labels);

    // A label file read as images: wrong magic.
    let error = await caught(() => readIdxImages(paths.labels));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details.file).toBe(paths.labels);
    expect(error.message).toContain(paths.labels);
    expect(error.message).toContain('0x00000803');

    const garbage = join(tmp, 'garbage.idx');
    writeFileSync(garbage, Buffer.from('hello, this is not an IDX file'));
    error = await caught(() => readIdxLabels(garbage));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details.file).toBe(garbage);

    const truncated = join(tmp, 'truncated-labels');
    writeFileSync(truncated, labels.subarray(0, labels.length - 10));
    error = await caught(() => readIdxLabels(truncated));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details.file).toBe(truncated);
    expect(error.message).toContain('truncated');

    const truncatedHeader = join(tmp, 'truncated-header');
    writeFileSync(truncatedHeader, labels.subarray(0, 6));
    error = await caught(() => readIdxLabels(truncatedHeader));
    expect(error.code).toBe('DATASET_INVALID');

    const truncatedGz = join(tmp, 'truncated.gz');
    const gz = gzipSync(labels);
    writeFileSync(truncatedGz, gz.subarray(0, gz.length >> 1));
    error = await caught(() => readIdxLabels(truncatedGz));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details.file).toBe(truncatedGz);

    const fewer = join(tmp, 'fewer-labels');
    const header = Buffer.from(labels.subarray(0, 8));
    header.writeUInt32BE(9999, 4);
    writeFileSync(fewer, Buffer.concat([header, labels.subarray(8, 8 + 9999)]));
    error = await caught(() => readIdxDataset(paths.images, fewer));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details.file).toBe(fewer);
    expect(error.message).toContain(paths.images);

    error = await caught(() => readIdxLabels(join(tmp, 'no-such-file')));
    expect(error.code).toBe('DATASET_NOT_FOUND');
  });

  it.skipIf(!existsSync(FASHION_DIR))('loads Fashion-MNIST from Debian through dataset.idx', async () => {
    const ctx = new FakeOpContext({
      taskDir: taskDir('fashion'),
      nodeId: 'fashion-1',
      params: {
        trainImages: join(FASHION_DIR, 'train-images-idx3-ubyte.gz'),
        trainLabels: join(FASHION_DIR, 'train-labels-idx1-ubyte.gz'),
        testImages: join(FASHION_DIR, 't10k-images-idx3-ubyte.gz'),
        testLabels: join(FASHION_DIR, 't10k-labels-idx1-ubyte.gz'),
        trainLimit: 0,
        testLimit: 0,
        validationSplit: 0,
        testSplit: 0.2,
        classNames: [],
      },
    });
    const summary = await datasetIdxOp(ctx);
    expect(summary.classHistogram).toEqual(new Array(10).fill(6000));
    const dataset = readDataset(ctx.artifacts[0]!.path, ['test']);
    expect(dataset.manifest.inputShape).toEqual([28, 28, 1]);
    expect(dataset.manifest.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(dataset.manifest.splits.train!.count).toBe(60000);
    expect(classHistogram(dataset.splits.test!.y, 10)).toEqual(new Array(10).fill(1000));
  });

  it('dataset.idx carves a seeded test split, names classes and places missing files', async () => {
    const paths = mnistPaths('test');
    const params = {
      trainImages: paths.images,
      trainLabels: paths.labels,
      testImages: '',
      testLabels: '',
      trainLimit: 500,
      testLimit: 0,
      validationSplit: 0.2,
      testSplit: 0.25,
      classNames: ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'],
    };
    const run = async (name: string) => {
      const ctx = new FakeOpContext({ taskDir: taskDir(name), params, seed: 3 });
      await datasetIdxOp(ctx);
      return { ctx, dataset: readDataset(ctx.artifacts[0]!.path) };
    };
    const a = await run('idx-a');
    const b = await run('idx-b');
    expect(a.dataset.manifest.splits.train!.count).toBe(400);
    expect(a.dataset.manifest.splits.validation!.count).toBe(100);
    expect(a.dataset.manifest.splits.test!.count).toBe(2500);
    expect(a.dataset.manifest.classNames[9]).toBe('nine');
    expect(a.ctx.artifacts[0]!.meta.counts).toEqual({ train: 400, validation: 100, test: 2500 });
    expect([...a.dataset.splits.test!.y]).toEqual([...b.dataset.splits.test!.y]);
    expect(Buffer.from(a.dataset.splits.train!.x).equals(Buffer.from(b.dataset.splits.train!.x))).toBe(true);

    const missing = join(tmp, 'missing-images.gz');
    const ctx = new FakeOpContext({
      taskDir: taskDir('idx-missing'),
      nodeId: 'idx-7',
      params: { ...params, trainImages: missing },
    });
    const error = await caught(() => datasetIdxOp(ctx));
    expect(error.code).toBe('DATASET_NOT_FOUND');
    expect(error.details).toMatchObject({ nodeId: 'idx-7', param: 'trainImages', file: missing });
    expect(ctx.artifacts).toHaveLength(0);

    const tooFew = new FakeOpContext({
      taskDir: taskDir('idx-names'),
      params: { ...params, classNames: ['a', 'b'] },
    });
    const namesError = await caught(() => datasetIdxOp(tooFew));
    expect(namesError.code).toBe('PARAM_INVALID');
    expect(namesError.details).toMatchObject({ param: 'classNames' });
  });
});

describe('CSV', () => {
  it('reads scikit-learn iris.csv as shipped', () => {
    const data = loadCsvDataset({
      path: join(FIXTURES, 'iris.csv'),
      testSplit: 0,
      standardize: false,
      seed: 1,
    });
    expect(data.train.count).toBe(150);
    expect(data.test.count).toBe(0);
    expect(data.featureNames).toHaveLength(4);
    expect(data.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(classHistogram(data.train.y, 3)).toEqual([50, 50, 50]);
    expect(data.train.x).toBeInstanceOf(Float32Array);
    // Sepal length over all 150 flowers averages 5.843.
    expect(mean(data.train.x, 0, 4, 150)).toBeCloseTo(5.8433, 3);
  });

  it('reads wine_data.csv (header shorter than the rows) and gzipped digits without a header', () => {
    const wine = loadCsvDataset({ path: join(FIXTURES, 'wine_data.csv'), testSplit: 0, seed: 1 });
    expect(wine.train.count).toBe(178);
    expect(wine.featureNames).toHaveLength(13);
    expect(wine.classNames).toEqual(['class_0', 'class_1', 'class_2']);
    expect(classHistogram(wine.train.y, 3)).toEqual([59, 71, 48]);

    const digits = readCsvTable(join(FIXTURES, 'digits.csv.gz'));
    expect(digits.hasHeader).toBe(false);
    expect(digits.rows).toHaveLength(1797);
    expect(digits.columns).toHaveLength(65);
    const loaded = loadCsvDataset({ path: join(FIXTURES, 'digits.csv.gz'), testSplit: 0.2, seed: 9 });
    expect(loaded.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(loaded.train.count + loaded.test.count).toBe(1797);
    expect(loaded.test.count).toBe(359);
  });

  it('standardises with training statistics', () => {
    const data = loadCsvDataset({
      path: join(FIXTURES, 'wine_data.csv'),
      testSplit: 0.2,
      validationSplit: 0.1,
      seed: 4,
    });
    const features = 13;
    const n = data.train.count;
    for (let f = 0; f < features; f++) {
      const m = mean(data.train.x, f, features, n);
      let variance = 0;
      for (let r = 0; r < n; r++) variance += (data.train.x[r * features + f]! - m) ** 2;
      expect(Math.abs(m)).toBeLessThan(1e-5);
      expect(Math.sqrt(variance / n)).toBeCloseTo(1, 4);
    }
    expect(data.standardization!.mean).toHaveLength(features);
    // Test rows are scaled with train statistics, so their mean is near but not exactly 0.
    expect(Math.abs(mean(data.test.x, 0, features, data.test.count))).toBeLessThan(1);
  });

  it('parses quotes, CRLF and string labels; label column by name or index', () => {
    const parsed = parseCsv('a,"b, with comma","c ""quoted"""\r\n1,"multi\nline",3\r\n\r\nx,,\n');
    expect(parsed.records).toEqual([
      ['a', 'b, with comma', 'c "quoted"'],
      ['1', 'multi\nline', '3'],
      ['x', '', ''],
    ]);
    expect(parsed.lines).toEqual([1, 2, 5]);

    const path = join(tmp, 'animals.csv');
    writeFileSync(
      path,
      '\ufeffspecies,"weight, kg",height\r\n' +
        'zebra,300,1.4\r\ncat,4.5,0.25\r\n"dog",20,0.6\r\ncat,5,0.3\r\nzebra,320,1.5\r\ndog,25,0.7\r\n',
    );
    const byName = loadCsvDataset({
      path,
      labelColumn: 'species',
      testSplit: 0,
      standardize: false,
      seed: 1,
    });
    expect(byName.classNames).toEqual(['cat', 'dog', 'zebra']);
    expect(byName.featureNames).toEqual(['weight, kg', 'height']);
    expect(classHistogram(byName.train.y, 3)).toEqual([2, 2, 2]);
    const byIndex = loadCsvDataset({ path, labelColumn: '0', testSplit: 0, standardize: false, seed: 1 });
    expect([...byIndex.train.y]).toEqual([...byName.train.y]);
  });

  it('refuses a non-numeric feature naming file, row and column; unknown label columns', async () => {
    const path = join(tmp, 'bad.csv');
    writeFileSync(path, 'a,b,label\n1,2,x\n3,oops,y\n');
    const error = await caught(() => loadCsvDataset({ path, seed: 1 }));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details).toMatchObject({ file: path, row: 3, column: 'b' });
    expect(error.message).toContain(path);
    expect(error.message).toContain('row 3');
    expect(error.message).toContain('column 2');

    const ragged = join(tmp, 'ragged.csv');
    writeFileSync(ragged, '1,2,0\n3,4\n');
    expect((await caught(() => loadCsvDataset({ path: ragged, seed: 1 }))).details).toMatchObject({
      file: ragged,
      row: 2,
    });

    const ctx = new FakeOpContext({
      taskDir: taskDir('csv-bad-label'),
      nodeId: 'csv-3',
      params: { path: join(FIXTURES, 'iris.csv'), testPath: '', labelColumn: 'colour', header: 'auto' },
    });
    const labelError = await caught(() => datasetCsvOp(ctx));
    expect(labelError.code).toBe('PARAM_INVALID');
    expect(labelError.details).toMatchObject({ nodeId: 'csv-3', param: 'labelColumn' });
  });

  it('dataset.csv writes the dataset with counts and class histogram', async () => {
    const ctx = new FakeOpContext({
      taskDir: taskDir('csv-op'),
      params: {
        path: join(FIXTURES, 'iris.csv'),
        testPath: '',
        labelColumn: '',
        header: 'auto',
        testSplit: 0.2,
        validationSplit: 0.1,
        standardize: true,
      },
    });
    const summary = await datasetCsvOp(ctx);
    expect(summary.counts).toEqual({ train: 108, validation: 12, test: 30 });
    expect((summary.classHistogram as number[]).reduce((a, b) => a + b, 0)).toBe(108);
    const dataset = readDataset(join(ctx.taskDir, 'dataset'));
    expect(dataset.manifest).toMatchObject({ inputShape: [4], numClasses: 3, image: false });
    expect(dataset.manifest.splits.train!.xDtype).toBe('float32');
    expect(ctx.artifacts[0]!.meta).toMatchObject({ counts: { train: 108, validation: 12, test: 30 } });
  });
});

describe('image folders', () => {
  function writePng(
    path: string,
    width: number,
    height: number,
    pixel: (x: number, y: number) => [number, number, number],
  ): void {
    const png = new PNG({ width, height });
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const [r, g, b] = pixel(x, y);
        png.data.set([r, g, b, 255], (y * width + x) * 4);
      }
    }
    writeFileSync(path, PNG.sync.write(png));
  }

  function writeJpeg(path: string, width: number, height: number, rgb: [number, number, number]): void {
    const data = Buffer.alloc(width * height * 4);
    for (let p = 0; p < width * height; p++) data.set([...rgb, 255], p * 4);
    writeFileSync(path, encodeJpeg({ width, height, data }, 95).data);
  }

  let root: string;
  beforeAll(() => {
    root = join(tmp, 'images');
    for (const name of ['circle', 'square', 'triangle']) mkdirSync(join(root, name), { recursive: true });
    // circle: PNGs of different sizes, left half black and right half white.
    for (const size of [16, 24, 32, 40]) {
      writePng(join(root, 'circle', `c${size}.png`), size, size, (x) =>
        x < size / 2 ? [0, 0, 0] : [255, 255, 255],
      );
    }
    // square: solid-colour JPEGs.
    for (const [i, size] of [12, 20, 30, 50].entries())
      writeJpeg(join(root, 'square', `s${i}.jpg`), size, size + 3, [200, 100, 50]);
    // triangle: a mix, plus files that are not images.
    writePng(join(root, 'triangle', 't0.PNG'), 9, 7, () => [10, 20, 30]);
    writeJpeg(join(root, 'triangle', 't1.jpeg'), 64, 48, [10, 20, 30]);
    writePng(join(root, 'triangle', 't2.png'), 8, 8, () => [10, 20, 30]);
    writePng(join(root, 'triangle', 't3.png'), 100, 3, () => [10, 20, 30]);
    writeFileSync(join(root, 'triangle', 'notes.txt'), 'not an image');
    writeFileSync(join(root, 'triangle', '.hidden.png'), 'not an image either');
    writeFileSync(join(root, 'README'), 'top-level files are ignored');
  });

  it('converts to grey or RGB and resizes (area when shrinking, bilinear when enlarging)', () => {
    const halves = { width: 16, height: 16, data: new Uint8Array(16 * 16 * 4) };
    for (let p = 0; p < 256; p++) if (p % 16 >= 8) halves.data.fill(255, p * 4, p * 4 + 3);
    const small = toFormat(halves, { width: 8, height: 8, channels: 1 });
    expect([...small.subarray(0, 8)]).toEqual([0, 0, 0, 0, 255, 255, 255, 255]);

    const solid = { width: 3, height: 5, data: new Uint8Array(15 * 4) };
    for (let p = 0; p < 15; p++) solid.data.set([200, 100, 50, 0], p * 4);
    expect([...new Set(toFormat(solid, { width: 8, height: 8, channels: 1 }))]).toEqual([124]);
    expect([...toFormat(solid, { width: 2, height: 1, channels: 3 })]).toEqual([200, 100, 50, 200, 100, 50]);

    const ramp = { width: 2, height: 1, data: Uint8Array.from([0, 0, 0, 255, 255, 255, 255, 255]) };
    expect([...toFormat(ramp, { width: 4, height: 1, channels: 1 })]).toEqual([0, 64, 191, 255]);
    expect([...toFormat(ramp, { width: 1, height: 1, channels: 1 })]).toEqual([128]);
  });

  it('loads class folders of PNG and JPEG images resized to 8×8', () => {
    expect(listImageFolder(root).files.map((files) => files.length)).toEqual([4, 4, 4]);
    const data = loadImageFolder({ path: root, width: 8, height: 8, channels: 1, testSplit: 0.25, seed: 2 });
    expect(data.classNames).toEqual(['circle', 'square', 'triangle']);
    expect(data.train.count).toBe(9);
    expect(data.test.count).toBe(3);
    expect(data.train.x).toBeInstanceOf(Uint8Array);
    const all = [
      { count: data.train.count, x: data.train.x, y: data.train.y },
      { count: data.test.count, x: data.test.x, y: data.test.y },
    ];
    const histogram = [0, 0, 0];
    for (const split of all) {
      for (let i = 0; i < split.count; i++) {
        const label = split.y[i]!;
        histogram[label]! += 1;
        const image = split.x.subarray(i * 64, (i + 1) * 64);
        if (label === 0) {
          expect([...image.subarray(0, 8)]).toEqual([0, 0, 0, 0, 255, 255, 255, 255]);
        } else {
          const expected = label === 1 ? 124 : Math.round(0.299 * 10 + 0.587 * 20 + 0.114 * 30);
          for (const value of image)
            expect(Math.abs(value - expected)).toBeLessThanOrEqual(label === 1 ? 4 : 2);
        }
      }
    }
    expect(histogram).toEqual([4, 4, 4]);

    const rgb = loadImageFolder({ path: root, testPath: root, width: 4, height: 6, channels: 3, seed: 2 });
    expect(rgb.train.x.length).toBe(12 * 6 * 4 * 3);
    expect(rgb.test.count).toBe(12);
  });

  it('dataset.image-folder writes the dataset; empty class folders and flat folders are refused', async () => {
    const ctx = new FakeOpContext({
      taskDir: taskDir('images-op'),
      params: {
        path: root,
        testPath: '',
        width: 8,
        height: 8,
        channels: '1',
        testSplit: 0.25,
        validationSplit: 0,
      },
    });
    const summary = await datasetImageFolderOp(ctx);
    expect(summary.counts).toEqual({ train: 9, test: 3 });
    const dataset = readDataset(join(ctx.taskDir, 'dataset'));
    expect(dataset.manifest).toMatchObject({ inputShape: [8, 8, 1], numClasses: 3, image: true });
    expect(dataset.manifest.classNames).toEqual(['circle', 'square', 'triangle']);

    const withEmpty = join(tmp, 'with-empty');
    mkdirSync(join(withEmpty, 'a'), { recursive: true });
    mkdirSync(join(withEmpty, 'b'), { recursive: true });
    writePng(join(withEmpty, 'a', 'x.png'), 4, 4, () => [1, 2, 3]);
    writeFileSync(join(withEmpty, 'b', 'readme.txt'), 'no images here');
    const emptyCtx = new FakeOpContext({
      taskDir: taskDir('images-empty'),
      nodeId: 'img-2',
      params: { path: withEmpty },
    });
    const error = await caught(() => datasetImageFolderOp(emptyCtx));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details).toMatchObject({ nodeId: 'img-2', param: 'path', file: join(withEmpty, 'b') });

    const flat = join(tmp, 'flat');
    mkdirSync(flat, { recursive: true });
    writePng(join(flat, 'x.png'), 4, 4, () => [1, 2, 3]);
    expect(
      (await caught(() => loadImageFolder({ path: flat, width: 8, height: 8, channels: 1, seed: 1 }))).code,
    ).toBe('DATASET_INVALID');
  });
});

describe('dataset.mnist op', () => {
  it('writes 1800 train / 200 validation / 1000 test and announces the artifact', async () => {
    const ctx = new FakeOpContext({
      taskDir: taskDir('mnist-op'),
      params: { trainLimit: 2000, testLimit: 1000, validationSplit: 0.1 },
    });
    const summary = await datasetMnistOp(ctx);
    expect(summary.counts).toEqual({ train: 1800, validation: 200, test: 1000 });
    expect((summary.classHistogram as number[]).reduce((a, b) => a + b, 0)).toBe(1800);

    expect(ctx.artifacts).toHaveLength(1);
    const artifact = ctx.artifacts[0]!;
    expect(artifact).toMatchObject({ role: 'dataset', kind: 'dataset', path: join(ctx.taskDir, 'dataset') });
    expect(artifact.meta).toMatchObject({
      inputShape: [28, 28, 1],
      numClasses: 10,
      image: true,
      counts: { train: 1800, validation: 200, test: 1000 },
    });
    expect(artifact.meta.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(artifact.meta.name).toBe('MNIST (1800 train / 200 validation / 1000 test)');

    const dataset = readDataset(artifact.path);
    expect(dataset.manifest.splits.train).toMatchObject({ count: 1800, xDtype: 'uint8' });
    const full = loadMnist('train');
    expect([...dataset.splits.train!.y.subarray(0, 10)]).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect([...dataset.splits.validation!.y]).toEqual([...full.labels.subarray(1800, 2000)]);
    expect(
      Buffer.from(dataset.splits.validation!.x).equals(
        Buffer.from(full.images.subarray(1800 * 784, 2000 * 784)),
      ),
    ).toBe(true);
    expect(dataset.splits.test!.count).toBe(1000);
  });

  it('stops before loading when cancelled', async () => {
    const ctx = new FakeOpContext({ taskDir: taskDir('mnist-cancel'), params: {} });
    ctx.cancel();
    expect((await caught(() => datasetMnistOp(ctx))).code).toBe('TASK_CANCELLED');
    expect(ctx.artifacts).toHaveLength(0);
  });
});
