/**
 * Hostile and broken data files, written as real bytes (PNG, JPEG, gzip, IDX, CSV text) to a temp
 * folder: each is refused at the dataset loader or node with a coded error that names the file
 * (and the row, column, param or limit), before the memory a header claims is allocated; data that
 * is legitimate but unusual is kept and warned about in the task log.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync, gzipSync } from 'node:zlib';
import { encode as encodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import { loadCsvDataset } from '../../main/worker/data/csv';
import { parseCsv } from '../../main/worker/data/csv-parse';
import { readDataset } from '../../main/worker/data/dataset-file';
import { readIdxImages, readIdxLabels, readMaybeGzipped } from '../../main/worker/data/idx';
import { decodeImage } from '../../main/worker/data/image-decode';
import { loadImageFolder } from '../../main/worker/data/image-folder';
import { MAX_CLASSES, MAX_IMAGE_PIXELS } from '../../main/worker/data/limits';
import { mnistPaths } from '../../main/worker/data/mnist';
import { datasetCsvOp, datasetIdxOp, datasetImageFolderOp, datasetMnistOp } from '../helpers/ops';
import { FakeOpContext } from '../helpers/fake-op-context';

let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'distillery-bad-data-'));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function file(name: string, content: string | Uint8Array): string {
  const path = join(tmp, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  return path;
}

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

function warnings(ctx: FakeOpContext): string[] {
  return ctx.logs.filter((log) => log.level === 'warn').map((log) => log.message);
}

// ---- real image bytes ----------------------------------------------------------------------

function pngChunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

/**
 * A structurally valid PNG (correct CRCs) whose IHDR claims `width × height` (8-bit RGB) and
 * whose IDAT inflates to `inflated` bytes: a few dozen bytes by default.
 */
function pngClaiming(
  width: number,
  height: number,
  options: { interlaced?: boolean; inflated?: number } = {},
): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, options.interlaced ? 1 : 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(options.inflated ?? 4))),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

function realPng(width: number, height: number, grey = 128): Buffer {
  const png = new PNG({ width, height });
  png.data.fill(grey);
  for (let p = 0; p < width * height; p++) png.data[p * 4 + 3] = 255;
  return PNG.sync.write(png);
}

function realJpeg(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 4, 200);
  return Buffer.from(encodeJpeg({ width, height, data }, 90).data);
}

/** A real JPEG with its frame header (SOF0) patched to claim `width × height`. */
function jpegClaiming(width: number, height: number): Buffer {
  const bytes = realJpeg(8, 8);
  for (let i = 2; i < bytes.length - 1;) {
    const marker = bytes[i + 1]!;
    if (marker === 0xc0) {
      bytes.writeUInt16BE(height, i + 5);
      bytes.writeUInt16BE(width, i + 7);
      return bytes;
    }
    i += 2 + bytes.readUInt16BE(i + 2);
  }
  throw new Error('the encoder wrote no SOF0');
}

function imageFolder(name: string, classes: Record<string, Record<string, Buffer>>): string {
  const root = join(tmp, name);
  for (const [label, images] of Object.entries(classes)) {
    mkdirSync(join(root, label), { recursive: true });
    for (const [fileName, bytes] of Object.entries(images)) writeFileSync(join(root, label, fileName), bytes);
  }
  return root;
}

function imageParams(path: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { path, width: 8, height: 8, channels: '1', testSplit: 0.25, validationSplit: 0, ...extra };
}

// ---- real IDX bytes ------------------------------------------------------------------------

function idx(magic: number, dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((dim, i) => header.writeUInt32BE(dim, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

function idxImages(count: number, rows = 4, cols = 4): Buffer {
  return idx(
    0x803,
    [count, rows, cols],
    Uint8Array.from({ length: count * rows * cols }, (_, i) => i % 251),
  );
}

function idxLabels(labels: number[]): Buffer {
  return idx(0x801, [labels.length], Uint8Array.from(labels));
}

function idxParams(images: string, labels: string, extra: Record<string, unknown> = {}) {
  return { trainImages: images, trainLabels: labels, testSplit: 0.2, ...extra };
}

describe('resource bombs are refused from the header, before allocation', () => {
  it('a 68-byte PNG claiming 20000×20000 names the file and the limit', async () => {
    const bomb = pngClaiming(20000, 20000);
    expect(bomb.length).toBeLessThan(100);
    const path = file('bomb/huge.png', bomb);
    const error = await caught(() => decodeImage(path));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details).toMatchObject({ file: path, received: '20000×20000' });
    expect(error.message).toContain(path);
    expect(error.message).toContain('20000×20000');
    expect(error.message).toContain('16,777,216 pixels');
    // One column over 4096×4096 is over the limit; a real image far below it decodes.
    const justOver = file('bomb/just-over.png', pngClaiming(4097, 4096));
    expect((await caught(() => decodeImage(justOver))).details.received).toBe('4097×4096');
    expect(decodeImage(file('bomb/real.png', realPng(300, 200)))).toMatchObject({ width: 300, height: 200 });
    expect(4096 * 4096).toBe(MAX_IMAGE_PIXELS);
  });

  it('an interlaced PNG whose data inflates far beyond its size is refused before pngjs inflates it', async () => {
    const bomb = pngClaiming(2, 2, { interlaced: true, inflated: 64 * 1024 * 1024 });
    expect(bomb.length).toBeLessThan(100_000);
    const path = file('bomb/interlaced.png', bomb);
    const error = await caught(() => decodeImage(path));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details).toMatchObject({ file: path, expected: 'a valid PNG image' });
    expect(error.message).toContain('the interlaced image data inflates to more than');

    // A real interlaced PNG of the same kind decodes.
    const png = new PNG({ width: 5, height: 3 });
    png.data.fill(77);
    const real = file('bomb/interlaced-real.png', PNG.sync.write(png));
    expect(decodeImage(real)).toMatchObject({ width: 5, height: 3 });
  });

  it.skipIf(process.platform === 'win32')(
    'a link to /dev/zero named like an image is refused, not read forever',
    async () => {
      const root = imageFolder('device', { a: { 'a.png': realPng(4, 4) }, b: { 'b.png': realPng(4, 4) } });
      symlinkSync('/dev/zero', join(root, 'b', 'zero.png'));
      const error = await caught(() =>
        loadImageFolder({ path: root, width: 4, height: 4, channels: 1, seed: 1 }),
      );
      expect(error.code).toBe('DATASET_INVALID');
      expect(error.details).toMatchObject({ file: join(root, 'b', 'zero.png'), expected: 'a regular file' });
    },
  );

  it('a JPEG whose frame header claims 20000×20000 is refused the same way, and through the node', async () => {
    const path = file('bomb-jpeg/a/huge.jpg', jpegClaiming(20000, 20000));
    const error = await caught(() => decodeImage(path));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.message).toContain('JPEG size 20000×20000');
    expect(error.message).toContain('limit');

    file('bomb-jpeg/b/fine.png', realPng(4, 4));
    const ctx = new FakeOpContext({
      taskDir: taskDir('bomb-jpeg'),
      nodeId: 'images-1',
      params: imageParams(join(tmp, 'bomb-jpeg')),
    });
    const placed = await caught(() => datasetImageFolderOp(ctx));
    expect(placed.details).toMatchObject({ nodeId: 'images-1', param: 'path', file: path });
    expect(ctx.artifacts).toHaveLength(0);
  });

  it('an image folder whose resized images exceed 1 GiB is refused before any image is decoded', async () => {
    const tiny = realPng(1, 1);
    const images: Record<string, Buffer> = {};
    for (let i = 0; i < 200; i++) images[`${i}.png`] = tiny;
    // 400 images × 1024×1024×3 bytes = 1.17 GiB; one corrupt file shows nothing was decoded.
    const root = imageFolder('too-many-bytes', { a: images, b: { ...images, '000.png': Buffer.from('x') } });
    const error = await caught(() =>
      loadImageFolder({ path: root, width: 1024, height: 1024, channels: 3, seed: 1 }),
    );
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details.file).toBe(root);
    expect(error.message).toContain('401 images of 1024×1024×3');
    expect(error.message).toContain('limit of 1 GiB');
  });

  it('a CSV label 100000000 is refused with file, row, column and limit', async () => {
    const path = file('labels/huge-label.csv', 'a,b,label\n1,2,0\n3,4,1\n5,6,100000000\n7,8,1\n');
    const error = await caught(() => loadCsvDataset({ path, seed: 1 }));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details).toMatchObject({ file: path, row: 4, column: 'label', received: 100000000 });
    expect(error.message).toContain('row 4, column 3 ("label")');
    expect(error.message).toContain(`limit of 10,000 classes`);

    const ctx = new FakeOpContext({ taskDir: taskDir('huge-label'), nodeId: 'csv-9', params: { path } });
    const placed = await caught(() => datasetCsvOp(ctx));
    expect(placed.details).toMatchObject({ nodeId: 'csv-9', param: 'path', row: 4 });
  });

  it(`more than ${MAX_CLASSES} distinct string labels are refused at the first one over the limit`, async () => {
    const rows = Array.from({ length: MAX_CLASSES + 5 }, (_, i) => `${i % 7},id-${i}`);
    const path = file('labels/ids.csv', `x,name\n${rows.join('\n')}\n`);
    const error = await caught(() => loadCsvDataset({ path, seed: 1 }));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details).toMatchObject({ file: path, row: MAX_CLASSES + 2, column: 'name' });
    expect(error.message).toContain(`"id-${MAX_CLASSES}"`);
  });

  it('IDX dimensions that claim absurd sizes or more data than the file holds are refused', async () => {
    const absurd = file('idx/absurd-images', idx(0x803, [4_000_000_000, 28, 28], new Uint8Array(16)));
    let error = await caught(() => readIdxImages(absurd));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details.file).toBe(absurd);
    expect(error.message).toContain('4000000000×28×28');
    expect(error.message).toContain('limit of 1 GiB');

    // Gzipped, the header is read from the first inflated bytes: same refusal, nothing unzipped.
    const absurdGz = file(
      'idx/absurd-images.gz',
      gzipSync(idx(0x803, [4_000_000_000, 28, 28], new Uint8Array(16))),
    );
    expect((await caught(() => readIdxImages(absurdGz))).message).toContain('limit of 1 GiB');

    const claimsMore = file('idx/claims-more.gz', gzipSync(idx(0x803, [1000, 28, 28], new Uint8Array(784))));
    error = await caught(() => readIdxImages(claimsMore));
    expect(error.details).toMatchObject({ file: claimsMore, received: '784 bytes (truncated)' });

    // 10 labels promised, 50 MB of zeros behind them: inflating stops one byte past the promise.
    const trailing = file('idx/trailing.gz', gzipSync(idx(0x801, [10], new Uint8Array(50_000_000))));
    error = await caught(() => readIdxLabels(trailing));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.message).toContain('trailing data');

    const zeroSize = file('idx/zero-size', idx(0x803, [5, 0, 28], new Uint8Array(0)));
    expect((await caught(() => readIdxImages(zeroSize))).message).toContain('0×28');
    const noImages = file('idx/no-images', idx(0x803, [0, 28, 28], new Uint8Array(0)));
    error = await caught(() => readIdxImages(noImages));
    expect(error.details).toMatchObject({ file: noImages, received: '0 images' });
  });

  it('a gzip bomb stops inflating at the limit; a CSV stops parsing at its field limit', async () => {
    const bomb = file('bomb/zeros.gz', gzipSync(Buffer.alloc(8 * 1024 * 1024)));
    expect(readFileSync(bomb).length).toBeLessThan(20_000);
    const error = await caught(() => readMaybeGzipped(bomb, 1024 * 1024));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details.file).toBe(bomb);
    expect(error.message).toContain('the unzipped data is above the limit of 1 MiB');
    expect(readMaybeGzipped(bomb, 8 * 1024 * 1024).length).toBe(8 * 1024 * 1024);

    const cells = await caught(() => parseCsv('1,2,3\n4,5,6\n7,8,9\n', 'cells.csv', 8));
    expect(cells.details).toMatchObject({ file: 'cells.csv', expected: 'at most 8 fields' });
    expect(parseCsv('1,2,3\n4,5,6\n7,8,9\n', 'cells.csv', 9).records).toHaveLength(3);
  });
});

describe('bad values', () => {
  it.each([
    ['1e999', 'is not a finite number (it reads as Infinity)'],
    ['1e39', 'outside the float32 range'],
    ['-1e39', 'outside the float32 range'],
    ['inf', 'is not a finite number'],
    ['-Infinity', 'is not a finite number'],
    ['NaN', 'is not a finite number'],
  ])('a feature %s is refused with file, row and column', async (value, text) => {
    const path = file(`values/${value}.csv`, `a,b,label\n1,2,0\n3,${value},1\n5,6,0\n7,8,1\n`);
    const error = await caught(() => loadCsvDataset({ path, seed: 1 }));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details).toMatchObject({ file: path, row: 3, column: 'b', received: value });
    expect(error.message).toContain('row 3, column 2 ("b")');
    expect(error.message).toContain(text);
  });

  it('float32-representable extremes are kept', () => {
    const path = file('values/extremes.csv', 'a,label\n3.4e38,0\n-3.4e38,1\n1e-45,0\n0,1\n');
    const data = loadCsvDataset({ path, testSplit: 0, standardize: false, seed: 1 });
    expect([...data.train.x].every(Number.isFinite)).toBe(true);
  });

  it('integer labels must be 0..K-1 with every class present: all-1 labels name the empty class', async () => {
    const path = file('labels/all-one.csv', 'a,b,label\n1,2,1\n3,4,1\n5,6,1\n');
    const error = await caught(() => loadCsvDataset({ path, seed: 1 }));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details).toMatchObject({ file: path, column: 'label', received: 'no example of class 0' });
    expect(error.message).toContain('class 0 has no example');
    expect(error.message).toContain('0..1');

    const gap = file('labels/gap.csv', 'a,label\n1,0\n2,1\n3,2\n4,9\n');
    const gapError = await caught(() => loadCsvDataset({ path: gap, seed: 1 }));
    expect(gapError.message).toContain('classes 3..8 have no example');
    expect(gapError.details).toMatchObject({ row: 5 });

    // Names are mapped, whatever they are: -1/1 labels are two classes.
    const signs = file('labels/signs.csv', 'a,label\n1,-1\n2,1\n3,-1\n4,1\n');
    expect(loadCsvDataset({ path: signs, testSplit: 0, seed: 1 }).classNames).toEqual(['-1', '1']);
  });

  it('an IDX label 255 among 0..9 is refused naming the labels file and the example', async () => {
    const labels = Array.from({ length: 40 }, (_, i) => i % 10);
    labels[17] = 255;
    const images = file('idx-255/images', idxImages(40));
    const labelFile = file('idx-255/labels', idxLabels(labels));
    const ctx = new FakeOpContext({
      taskDir: taskDir('idx-255'),
      nodeId: 'idx-1',
      params: idxParams(images, labelFile),
    });
    const error = await caught(() => datasetIdxOp(ctx));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details).toMatchObject({
      nodeId: 'idx-1',
      param: 'trainLabels',
      file: labelFile,
      index: 17,
    });
    expect(error.message).toContain('classes 10..254 have no example');
    expect(error.message).toContain('classNames');
    expect(ctx.artifacts).toHaveLength(0);

    // Declared by name, absent classes are legitimate: written, with a warning.
    const declared = new FakeOpContext({
      taskDir: taskDir('idx-declared'),
      params: idxParams(
        file('idx-declared/images', idxImages(30)),
        file('idx-declared/labels', idxLabels(Array.from({ length: 30 }, (_, i) => (i % 3) * 2))),
        { classNames: ['a', 'b', 'c', 'd', 'e'] },
      ),
    });
    const summary = await datasetIdxOp(declared);
    expect(summary.numClasses).toBe(5);
    expect(warnings(declared).join('\n')).toContain('declared classes "b", "d" have no example');
  });

  it('a class absent from a small training split is written with a warning', async () => {
    // 12 rows, class 2 only in the last two: with a seeded 50% test split it may miss train.
    const rows = ['1,0', '2,0', '3,0', '4,0', '5,1', '6,1', '7,1', '8,1', '9,1', '10,1', '11,2', '12,2'];
    const path = file('labels/rare.csv', `a,label\n${rows.join('\n')}\n`);
    let found: FakeOpContext | undefined;
    for (let seed = 1; seed < 50 && !found; seed++) {
      const data = loadCsvDataset({ path, testSplit: 0.5, seed });
      if (!data.train.y.includes(2)) {
        found = new FakeOpContext({
          taskDir: taskDir(`rare-${seed}`),
          seed,
          params: { path, testSplit: 0.5 },
        });
      }
    }
    expect(found).toBeDefined();
    const summary = await datasetCsvOp(found!);
    expect(summary.classHistogram).toEqual([expect.any(Number), expect.any(Number), 0]);
    expect(warnings(found!).join('\n')).toContain('class "2" has no training example');
  });

  it('fractional numeric labels are classes, with a warning that the column may be wrong', async () => {
    const path = file('labels/fractional.csv', 'a,target\n1,0.5\n2,1.5\n3,0.5\n4,1.5\n5,2.25\n');
    const ctx = new FakeOpContext({ taskDir: taskDir('fractional'), params: { path, testSplit: 0 } });
    const summary = await datasetCsvOp(ctx);
    expect(summary.numClasses).toBe(3);
    expect(warnings(ctx).join('\n')).toContain('fractional numbers (e.g. 0.5)');
  });
});

describe('errors name the node, the file and the param', () => {
  it('a 1-row CSV: testSplit 0.2 of 1 row leaves 0 test rows', async () => {
    const path = file('small/one-row.csv', '1,2,0\n');
    const ctx = new FakeOpContext({ taskDir: taskDir('one-row'), nodeId: 'csv-1', params: { path } });
    const error = await caught(() => datasetCsvOp(ctx));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details).toMatchObject({
      nodeId: 'csv-1',
      param: 'testSplit',
      file: path,
      received: '1 row',
    });
    expect(error.message).toContain('Node "csv-1"');
    expect(error.message).toContain('testSplit 0.2 of 1 row leaves 0 test rows');
    expect(ctx.artifacts).toHaveLength(0);
  });

  it('a validation split that carves nothing is refused for tables, images, IDX and MNIST', async () => {
    const csv = file('small/two-rows.csv', '1,2,0\n3,4,1\n');
    const csvError = await caught(() =>
      datasetCsvOp(
        new FakeOpContext({
          taskDir: taskDir('two-rows'),
          params: { path: csv, testSplit: 0.5, validationSplit: 0.2 },
        }),
      ),
    );
    expect(csvError.details).toMatchObject({ param: 'validationSplit', file: csv });
    expect(csvError.message).toContain('validationSplit 0.2 of 1 training row leaves 0 validation rows');

    const root = imageFolder('small-images', {
      a: { 'a.png': realPng(4, 4) },
      b: { 'b.png': realPng(4, 4, 9) },
    });
    const imageError = await caught(() =>
      datasetImageFolderOp(
        new FakeOpContext({
          taskDir: taskDir('small-images'),
          params: imageParams(root, { testSplit: 0.5, validationSplit: 0.1 }),
        }),
      ),
    );
    expect(imageError.details).toMatchObject({ param: 'validationSplit', file: root });
    expect(imageError.message).toContain('leaves 0 validation images');

    const images = file('small-idx/images', idxImages(1));
    const labels = file('small-idx/labels', idxLabels([0]));
    const idxError = await caught(() =>
      datasetIdxOp(new FakeOpContext({ taskDir: taskDir('small-idx'), params: idxParams(images, labels) })),
    );
    expect(idxError.details).toMatchObject({ param: 'testSplit', file: images });

    const mnistError = await caught(() =>
      datasetMnistOp(
        new FakeOpContext({
          taskDir: taskDir('mnist-one'),
          params: { trainLimit: 1, testLimit: 10, validationSplit: 0.1 },
        }),
      ),
    );
    expect(mnistError.details).toMatchObject({ param: 'validationSplit', file: mnistPaths('train').images });
  });

  it('testSplit 0 leaves no test split in the dataset, with a warning', async () => {
    const path = file('small/no-test.csv', 'a,label\n1,0\n2,1\n3,0\n4,1\n');
    const ctx = new FakeOpContext({ taskDir: taskDir('no-test'), params: { path, testSplit: 0 } });
    const summary = await datasetCsvOp(ctx);
    expect(summary.counts).toEqual({ train: 4, test: 0 });
    const dataset = readDataset(join(ctx.taskDir, 'dataset'));
    expect(Object.keys(dataset.manifest.splits)).toEqual(['train']);
    expect(warnings(ctx).join('\n')).toContain('the test split is empty');
  });

  it('a CSV with no feature column, one class, or an IDX file of 0 images is refused at the data node', async () => {
    const labelOnly = file('shape/label-only.csv', 'label\n0\n1\n0\n1\n');
    let error = await caught(() =>
      datasetCsvOp(
        new FakeOpContext({ taskDir: taskDir('label-only'), nodeId: 'csv-2', params: { path: labelOnly } }),
      ),
    );
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details).toMatchObject({ nodeId: 'csv-2', param: 'path', file: labelOnly });
    expect(error.message).toContain('only the label column');

    const oneClass = file('shape/one-class.csv', 'a,species\n1,cat\n2,cat\n3,cat\n');
    error = await caught(() =>
      datasetCsvOp(new FakeOpContext({ taskDir: taskDir('one-class'), params: { path: oneClass } })),
    );
    expect(error.details).toMatchObject({
      file: oneClass,
      column: 'species',
      expected: 'labels of at least 2 classes',
    });
    expect(error.message).toContain('a classifier needs at least 2 classes');
    const zeros = file('shape/zeros.csv', 'a,label\n1,0\n2,0\n3,0\n');
    expect((await caught(() => loadCsvDataset({ path: zeros, seed: 1 }))).message).toContain(
      'at least 2 classes',
    );

    const noImages = file('shape/no-images', idx(0x803, [0, 28, 28], new Uint8Array(0)));
    const noLabels = file('shape/no-labels', idxLabels([]));
    error = await caught(() =>
      datasetIdxOp(
        new FakeOpContext({
          taskDir: taskDir('no-images'),
          nodeId: 'idx-2',
          params: idxParams(noImages, noLabels),
        }),
      ),
    );
    expect(error.details).toMatchObject({ nodeId: 'idx-2', param: 'trainImages', file: noImages });
  });

  it('a one-class image folder is kept (diffusion uses it) with a warning about classifiers', async () => {
    const root = imageFolder('one-class-images', {
      faces: {
        'a.png': realPng(4, 4),
        'b.png': realPng(4, 4, 30),
        'c.png': realPng(4, 4, 60),
        'd.png': realPng(4, 4, 90),
      },
    });
    const ctx = new FakeOpContext({ taskDir: taskDir('one-class-images'), params: imageParams(root) });
    const summary = await datasetImageFolderOp(ctx);
    expect(summary.numClasses).toBe(1);
    expect(warnings(ctx).join('\n')).toContain('only one class ("faces")');
  });

  it('an image-folder path that is a file says so', async () => {
    const path = file('not-a-folder.png', realPng(4, 4));
    const ctx = new FakeOpContext({
      taskDir: taskDir('not-a-folder'),
      nodeId: 'img-3',
      params: imageParams(path),
    });
    const error = await caught(() => datasetImageFolderOp(ctx));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details).toMatchObject({ nodeId: 'img-3', param: 'path', file: path, received: 'a file' });
    expect(error.message).toContain('is a file, not a folder');

    const missing = join(tmp, 'no-such-folder');
    const notFound = await caught(() =>
      datasetImageFolderOp(new FakeOpContext({ taskDir: taskDir('nf'), params: imageParams(missing) })),
    );
    expect(notFound.code).toBe('DATASET_NOT_FOUND');
  });

  it.each([
    ['truncated', (png: Buffer) => png.subarray(0, png.length - 20), 'not a valid PNG (truncated'],
    ['without its end', (png: Buffer) => png.subarray(0, png.length - 12), 'without an IEND chunk'],
    ['with a flipped byte', (png: Buffer) => flip(png, 45), 'fails its CRC check'],
    ['with a damaged signature', (png: Buffer) => flip(png, 5), 'signature is damaged'],
    [
      'with garbage after the signature',
      (png: Buffer) => Buffer.concat([png.subarray(0, 8), Buffer.from('garbage garbage')]),
      'not a valid PNG',
    ],
  ])('a PNG %s is "not a valid PNG (…)" naming the file', async (_, damage, text) => {
    const path = file(`corrupt/${_.replace(/ /g, '-')}.png`, damage(realPng(16, 16)));
    const error = await caught(() => decodeImage(path));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details).toMatchObject({ file: path, expected: 'a valid PNG image' });
    expect(error.message).toContain(path);
    expect(error.message).toContain(text);
    expect(error.message).not.toContain('waitng');
  });

  it('a truncated JPEG is "not a valid JPEG (…)" naming the file', async () => {
    const jpeg = realJpeg(16, 16);
    const path = file('corrupt/cut.jpg', jpeg.subarray(0, 100));
    const error = await caught(() => decodeImage(path));
    expect(error.code).toBe('DATASET_INVALID');
    expect(error.details).toMatchObject({ file: path, expected: 'a valid JPEG image' });
    expect(error.message).toContain(`${path}: not a valid JPEG (`);
  });
});

function flip(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] = copy[at]! ^ 0xff;
  return copy;
}
