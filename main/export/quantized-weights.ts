/**
 * Per-channel integer weights beside a layers-format model: `quantized-weights.json` (one entry
 * per kernel: shape, per-channel scales) and `quantized-weights.bin` (the integers, one signed
 * byte each, in the kernel's own tfjs layout). The `quantize` op writes them; the ONNX exporter
 * turns them into QuantizeLinear/DequantizeLinear (QDQ) initializers with one scale per output
 * channel, which the tfjs weights manifest (one scale per tensor) cannot hold.
 *
 * Scheme: symmetric, zero point 0, narrow range: w ≈ q·scale[c] with q ∈ [−(2^(b−1) − 1),
 * 2^(b−1) − 1] (±127 for 8 bits, ±7 for 4 bits). Channel c of value i is i mod channels: the
 * channels are the kernel's trailing output axes (the last axis of Dense and Conv2D kernels, the
 * last two — input channel × multiplier — of depthwise kernels). 4-bit values are stored in int8
 * containers: neither format has a 4-bit type (ONNX's INT4 needs opset 21).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DistilleryError } from '../base/errors';

export const QUANTIZED_WEIGHTS_JSON = 'quantized-weights.json';
export const QUANTIZED_WEIGHTS_BIN = 'quantized-weights.bin';

/** One kernel's integers and scales. */
export interface PerChannelWeight {
  /** The weight's name in the model's manifest, e.g. `conv_1/kernel`. */
  name: string;
  /** The kernel's tfjs shape. */
  shape: number[];
  /** Number of output channels (scales); values.length is a multiple of it. */
  channels: number;
  bits: number;
  /** float32 scale of each channel, > 0. */
  scales: Float32Array;
  /** q of each value, in the kernel's layout. */
  values: Int8Array;
}

interface FileEntry {
  name: string;
  shape: number[];
  channels: number;
  scales: number[];
  /** Byte offset of the entry's values in quantized-weights.bin. */
  offset: number;
}

/** What quantized-weights.json holds. */
export interface QuantizedWeightsFile {
  format: 1;
  scheme: 'symmetric';
  granularity: 'per-channel';
  bits: number;
  /** Every value takes one signed byte, 4-bit ones included. */
  storage: 'int8';
  weights: FileEntry[];
}

/** Largest |q| of the symmetric narrow range of `bits`. */
export function symmetricLimit(bits: number): number {
  return 2 ** (bits - 1) - 1;
}

/** Writes both files into `dir` (which must exist). */
export function writeQuantizedWeights(dir: string, bits: number, weights: PerChannelWeight[]): void {
  const entries: FileEntry[] = [];
  const total = weights.reduce((sum, weight) => sum + weight.values.length, 0);
  const bin = new Int8Array(total);
  let offset = 0;
  for (const weight of weights) {
    bin.set(weight.values, offset);
    entries.push({
      name: weight.name,
      shape: weight.shape,
      channels: weight.channels,
      scales: Array.from(weight.scales),
      offset,
    });
    offset += weight.values.length;
  }
  const file: QuantizedWeightsFile = {
    format: 1,
    scheme: 'symmetric',
    granularity: 'per-channel',
    bits,
    storage: 'int8',
    weights: entries,
  };
  writeFileSync(join(dir, QUANTIZED_WEIGHTS_BIN), new Uint8Array(bin.buffer));
  writeFileSync(join(dir, QUANTIZED_WEIGHTS_JSON), JSON.stringify(file, null, 1));
}

function invalid(file: string, expected: string, received: unknown): DistilleryError {
  return new DistilleryError(
    'MODEL_INVALID',
    `${file}: expected ${expected}, got ${JSON.stringify(received)}`,
    {
      file,
      expected,
      received,
    },
  );
}

/**
 * The per-channel weights of the model in `dir` by manifest name, or undefined when it has none.
 * A file that is present but inconsistent is refused (MODEL_INVALID naming the file and entry).
 */
export function readQuantizedWeights(dir: string): Map<string, PerChannelWeight> | undefined {
  const jsonPath = join(dir, QUANTIZED_WEIGHTS_JSON);
  if (!existsSync(jsonPath)) return undefined;
  let file: QuantizedWeightsFile;
  try {
    file = JSON.parse(readFileSync(jsonPath, 'utf8')) as QuantizedWeightsFile;
  } catch (error) {
    throw new DistilleryError('MODEL_INVALID', `Cannot read ${jsonPath}: ${(error as Error).message}`, {
      file: jsonPath,
      expected: 'per-channel quantized weights (quantized-weights.json)',
    });
  }
  if (
    file.format !== 1 ||
    file.scheme !== 'symmetric' ||
    file.storage !== 'int8' ||
    !Array.isArray(file.weights)
  ) {
    throw invalid(jsonPath, 'format 1, symmetric scheme, int8 storage and a weights list', {
      format: file.format,
      scheme: file.scheme,
      storage: file.storage,
    });
  }
  if (!Number.isInteger(file.bits) || file.bits < 2 || file.bits > 8) {
    throw invalid(jsonPath, 'bits between 2 and 8', file.bits);
  }
  const binPath = join(dir, QUANTIZED_WEIGHTS_BIN);
  let bytes: Buffer;
  try {
    bytes = readFileSync(binPath);
  } catch (error) {
    throw new DistilleryError('MODEL_INVALID', `Cannot read ${binPath}: ${(error as Error).message}`, {
      file: binPath,
    });
  }
  const all = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limit = symmetricLimit(file.bits);
  const weights = new Map<string, PerChannelWeight>();
  for (const entry of file.weights) {
    const count = Array.isArray(entry.shape) ? entry.shape.reduce((a, b) => a * b, 1) : NaN;
    if (
      !Number.isInteger(count) ||
      !Number.isInteger(entry.channels) ||
      entry.channels < 1 ||
      count % entry.channels !== 0 ||
      !Array.isArray(entry.scales) ||
      entry.scales.length !== entry.channels ||
      !entry.scales.every((scale) => Number.isFinite(scale) && scale > 0) ||
      !Number.isInteger(entry.offset) ||
      entry.offset < 0 ||
      entry.offset + count > all.length
    ) {
      throw invalid(
        jsonPath,
        'entries with a shape, channels dividing it, one positive scale per channel and values inside quantized-weights.bin',
        entry.name,
      );
    }
    const values = all.slice(entry.offset, entry.offset + count);
    for (const q of values) {
      if (q < -limit || q > limit) throw invalid(jsonPath, `values of ${entry.name} within ±${limit}`, q);
    }
    weights.set(entry.name, {
      name: entry.name,
      shape: entry.shape,
      channels: entry.channels,
      bits: file.bits,
      scales: Float32Array.from(entry.scales),
      values,
    });
  }
  return weights;
}
