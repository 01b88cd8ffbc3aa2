/**
 * Image data for diffusion: a dataset split resized to the model's square size (area averaging,
 * so 28×28 MNIST → 16×16 keeps strokes smooth instead of aliasing), optionally restricted to some
 * classes, as float32 values in [0, 1] that the shared training loop batches as they are.
 */
import { DistilleryError, errors } from '../../base/errors';
import { readDataset, type DatasetManifest, type SplitData, type SplitName } from '../data/dataset-file';

/** Weights [out × in] of 1-D area resampling: each output cell averages the input cells it covers. */
function areaWeights(inSize: number, outSize: number): Float64Array {
  const weights = new Float64Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const start = o * scale;
    const end = (o + 1) * scale;
    for (let i = Math.floor(start); i < Math.min(inSize, Math.ceil(end)); i++) {
      const overlap = Math.min(end, i + 1) - Math.max(start, i);
      if (overlap > 0) weights[o * inSize + i] = overlap / scale;
    }
  }
  return weights;
}

/**
 * Resizes `count` HWC images by area averaging; values are multiplied by `scale` (1/255 for
 * uint8 data). Returns [count, outHeight, outWidth, channels] float32.
 */
export function resizeArea(
  source: Uint8Array | Float32Array,
  count: number,
  shape: readonly [number, number, number],
  outHeight: number,
  outWidth: number,
  scale = 1,
): Float32Array {
  const [height, width, channels] = shape;
  const out = new Float32Array(count * outHeight * outWidth * channels);
  if (height === outHeight && width === outWidth) {
    for (let i = 0; i < out.length; i++) out[i] = source[i]! * scale;
    return out;
  }
  const wy = areaWeights(height, outHeight);
  const wx = areaWeights(width, outWidth);
  const rows = new Float64Array(outHeight * width * channels);
  const inSize = height * width * channels;
  const outSize = outHeight * outWidth * channels;
  for (let n = 0; n < count; n++) {
    const base = n * inSize;
    rows.fill(0);
    for (let oy = 0; oy < outHeight; oy++) {
      for (let y = 0; y < height; y++) {
        const w = wy[oy * height + y]!;
        if (w === 0) continue;
        for (let j = 0; j < width * channels; j++)
          rows[oy * width * channels + j]! += w * source[base + y * width * channels + j]!;
      }
    }
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let x = 0; x < width; x++) {
            const w = wx[ox * width + x]!;
            if (w !== 0) sum += w * rows[(oy * width + x) * channels + c]!;
          }
          out[n * outSize + (oy * outWidth + ox) * channels + c] = sum * scale;
        }
      }
    }
  }
  return out;
}

export interface DiffusionImages {
  manifest: DatasetManifest;
  /** Images in [0, 1] at the model's size, with their labels. */
  split: SplitData;
  /** Split that was read. */
  splitName: SplitName;
}

/**
 * Reads the training images of an image dataset at `size`×`size`, keeping only `classes` when
 * that list is not empty. `nodeId` names the node in errors.
 */
export function loadDiffusionImages(
  datasetDir: string,
  options: { size: number; channels: number; classes: number[]; nodeId: string; split?: SplitName },
): DiffusionImages {
  const splitName = options.split ?? 'train';
  const { manifest, splits } = readDataset(datasetDir, [splitName]);
  if (!manifest.image || manifest.inputShape.length !== 3) {
    throw new DistilleryError(
      'INCOMPATIBLE_INPUTS',
      `Node "${options.nodeId}": diffusion needs an image dataset, got examples of shape ${JSON.stringify(manifest.inputShape)}`,
      {
        nodeId: options.nodeId,
        port: 'dataset',
        expected: 'an image dataset',
        received: manifest.inputShape,
      },
    );
  }
  const [height, width, channels] = manifest.inputShape as [number, number, number];
  if (channels !== options.channels) {
    throw new DistilleryError(
      'INCOMPATIBLE_INPUTS',
      `Node "${options.nodeId}": the model has ${options.channels} image channel(s), the dataset ${channels}`,
      {
        nodeId: options.nodeId,
        port: 'dataset',
        expected: `${options.channels} channel(s)`,
        received: channels,
      },
    );
  }
  const split = splits[splitName];
  if (!split || split.count === 0) {
    throw errors.datasetInvalid(
      `${datasetDir}/dataset.json`,
      `a non-empty ${splitName} split`,
      manifest.splits[splitName]?.count ?? 'none',
    );
  }
  for (const label of options.classes) {
    if (!Number.isInteger(label) || label < 0 || label >= manifest.numClasses) {
      throw errors.paramOutOfRange(
        options.nodeId,
        'classes',
        `class indices between 0 and ${manifest.numClasses - 1}`,
        options.classes,
      );
    }
  }
  const keep: number[] = [];
  for (let i = 0; i < split.count; i++)
    if (options.classes.length === 0 || options.classes.includes(split.y[i]!)) keep.push(i);
  if (keep.length === 0) {
    throw errors.paramInvalid(options.nodeId, 'classes', 'classes present in the dataset', options.classes);
  }
  const size = height * width * channels;
  const selected =
    split.x instanceof Uint8Array ? new Uint8Array(keep.length * size) : new Float32Array(keep.length * size);
  const labels = new Int32Array(keep.length);
  keep.forEach((from, i) => {
    selected.set(split.x.subarray(from * size, (from + 1) * size), i * size);
    labels[i] = split.y[from]!;
  });
  const x = resizeArea(
    selected,
    keep.length,
    [height, width, channels],
    options.size,
    options.size,
    split.x instanceof Uint8Array ? 1 / 255 : 1,
  );
  return { manifest, split: { count: keep.length, x, y: labels }, splitName };
}
