/**
 * Post-training weight quantization written in the TensorFlow.js weights-manifest format, so that
 * a stock `tf.loadLayersModel` loads and dequantizes it:
 *
 *   uint8 / uint16  {"dtype": "uint8", "scale": s, "min": m}   w' = q·s + m   (affine)
 *   float16         {"dtype": "float16"}                        IEEE half precision
 *
 * Granularity is per tensor, because that is all the format can say: a manifest entry holds one
 * `scale` and one `min` for one named weight (tfjs-core io/types.ts, WeightsManifestEntry), and a
 * layer's weight cannot be assembled from several entries. Per-channel integers, which ONNX can
 * express, are written beside the model by the quantize op (per-channel.ts,
 * export/quantized-weights.ts); this file only writes the tfjs manifest.
 *
 * Affine range: scale = (max − min)/(2^bits − 1), q = round((w − min)/scale). With `nudgeZero`
 * (the default, and what the tfjs converter does) the range is first widened to include 0 and
 * shifted so that 0 is exactly representable: pruned weights then stay exactly zero after
 * dequantization, which keeps a pruned-then-quantized model sparse.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import { MODEL_JSON, MODEL_META, WEIGHTS_BIN } from '../models/model-file';
import type { QuantizationDtype } from '../../nodes/quantize';

export const BYTES_PER_QUANTIZED_VALUE: Record<QuantizationDtype, number> = {
  uint8: 1,
  uint16: 2,
  float16: 2,
};

export interface AffineQuantized {
  quantized: Uint8Array | Uint16Array;
  scale: number;
  min: number;
}

/** Affine quantization of `values` to `bits` (8 or 16) per tensor. */
export function affineQuantize(values: Float32Array, bits: 8 | 16, nudgeZero = true): AffineQuantized {
  const levels = 2 ** bits - 1;
  let low = Infinity;
  let high = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < low) low = v;
    if (v > high) high = v;
  }
  if (values.length === 0) {
    low = 0;
    high = 0;
  }
  if (nudgeZero) {
    low = Math.min(0, low);
    high = Math.max(0, high);
  }
  let scale = (high - low) / levels;
  let min = low;
  if (!(scale > 0)) {
    // A constant tensor: every value is `min` (q = 0).
    scale = 1;
  } else if (nudgeZero) {
    const zeroPoint = Math.min(levels, Math.max(0, Math.round(-low / scale)));
    // Written as −zeroPoint·scale so that q = zeroPoint dequantizes to exactly 0.
    min = -(zeroPoint * scale);
  }
  const quantized = bits === 8 ? new Uint8Array(values.length) : new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const q = Math.round((values[i]! - min) / scale);
    quantized[i] = q < 0 ? 0 : q > levels ? levels : q;
  }
  return { quantized, scale, min };
}

/** What tfjs's loader computes: Float32(q·scale + min). */
export function affineDequantize(
  quantized: Uint8Array | Uint16Array,
  scale: number,
  min: number,
): Float32Array {
  const out = new Float32Array(quantized.length);
  for (let i = 0; i < quantized.length; i++) out[i] = quantized[i]! * scale + min;
  return out;
}

const float32 = new Float32Array(1);
const float32Bits = new Uint32Array(float32.buffer);

/** IEEE 754 half-precision bits of a number, rounded to nearest even. */
export function toFloat16Bits(value: number): number {
  float32[0] = value;
  const x = float32Bits[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent32 = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent32 === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const exponent = exponent32 - 127 + 15;
  if (exponent >= 0x1f) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = 14 - exponent;
    let half = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (exponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** Half-precision encoding of every value. */
export function toFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toFloat16Bits(values[i]!);
  return out;
}

/** The value a half-precision bit pattern stands for. */
export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** A manifest entry as the layers format writes it. */
interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: QuantizationDtype; scale?: number; min?: number };
}

interface ModelJson {
  modelTopology: unknown;
  weightsManifest: Array<{ paths: string[]; weights: WeightSpec[] }>;
  [key: string]: unknown;
}

/** What quantizing one weight did. */
export interface QuantizedWeightReport {
  name: string;
  shape: number[];
  /** `float32` weights are quantized; others (int32) are copied as they are. */
  quantized: boolean;
  scale?: number;
  min?: number;
  /** max |w − w'| over the tensor. */
  maxError: number;
}

export interface QuantizationReport {
  dtype: QuantizationDtype;
  granularity: 'per-tensor';
  nudgeZero: boolean;
  /** Bytes of the weights before (as stored in the source directory) and after. */
  bytesBefore: number;
  bytesAfter: number;
  /** max |w − w'| over every quantized weight. */
  maxWeightError: number;
  /** Mean |w − w'| over every quantized value. */
  meanAbsError: number;
  weights: QuantizedWeightReport[];
}

function readModelJson(dir: string): ModelJson {
  const path = join(dir, MODEL_JSON);
  try {
    const json = JSON.parse(readFileSync(path, 'utf8')) as ModelJson;
    if (!Array.isArray(json.weightsManifest)) throw new Error('no weightsManifest');
    return json;
  } catch (error) {
    throw new DistilleryError('MODEL_INVALID', `Cannot read ${path}: ${(error as Error).message}`, {
      file: path,
      expected: 'a TensorFlow.js layers-format model.json',
    });
  }
}

/** Decoded (dequantized, float) values of every weight of a model directory, by manifest entry. */
export function readWeightValues(
  dir: string,
): Array<{ spec: WeightSpec; values: Float32Array | Int32Array }> {
  const json = readModelJson(dir);
  const specs = json.weightsManifest.flatMap((group) => group.weights);
  const buffers = json.weightsManifest.flatMap((group) =>
    group.paths.map((path) => {
      const bytes = readFileSync(join(dir, path));
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    }),
  );
  const named = tf.io.decodeWeights(
    tf.io.concatenateArrayBuffers(buffers),
    specs as tf.io.WeightsManifestEntry[],
  );
  const result = specs.map((spec) => {
    const tensor = named[spec.name];
    if (!tensor)
      throw new DistilleryError('MODEL_INVALID', `Weight ${spec.name} missing in ${dir}`, { file: dir });
    const data = tensor.dataSync();
    return {
      spec,
      values: data instanceof Int32Array ? Int32Array.from(data) : Float32Array.from(data as Float32Array),
    };
  });
  tf.dispose(Object.values(named));
  return result;
}

/**
 * Bytes per stored value of each weight of a model directory, by manifest name: 1 or 2 for
 * quantized weights, 4 for float32 / int32. Empty when model.json cannot be read.
 */
export function readStoredWidths(dir: string): Map<string, number> {
  const widths = new Map<string, number>();
  try {
    for (const group of readModelJson(dir).weightsManifest) {
      for (const spec of group.weights) {
        widths.set(spec.name, spec.quantization ? BYTES_PER_QUANTIZED_VALUE[spec.quantization.dtype] : 4);
      }
    }
  } catch {
    // Unreadable here means unreadable for the loader too, which reports it.
  }
  return widths;
}

function storedBytes(spec: WeightSpec): number {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  if (spec.quantization) return count * BYTES_PER_QUANTIZED_VALUE[spec.quantization.dtype];
  return count * (spec.dtype === 'float32' || spec.dtype === 'int32' ? 4 : 1);
}

/**
 * Writes a quantized copy of the layers-format model in `sourceDir` to `outDir` (model.json,
 * weights.bin, and distillery.json with the quantization recorded, plus `options.summary`). A
 * source that is already quantized is decoded first.
 */
export function quantizeModelDirectory(
  sourceDir: string,
  outDir: string,
  dtype: QuantizationDtype,
  options: { nudgeZero?: boolean; summary?: Record<string, unknown> } = {},
): QuantizationReport {
  const nudgeZero = options.nudgeZero ?? true;
  const json = readModelJson(sourceDir);
  const weights = readWeightValues(sourceDir);
  const chunks: Uint8Array[] = [];
  const specs: WeightSpec[] = [];
  const reports: QuantizedWeightReport[] = [];
  let bytesBefore = 0;
  let errorSum = 0;
  let errorCount = 0;
  let maxWeightError = 0;
  for (const { spec, values } of weights) {
    bytesBefore += storedBytes(spec);
    const base: WeightSpec = { name: spec.name, shape: spec.shape, dtype: spec.dtype };
    if (!(values instanceof Float32Array) || spec.dtype !== 'float32') {
      chunks.push(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      specs.push(base);
      reports.push({ name: spec.name, shape: spec.shape, quantized: false, maxError: 0 });
      continue;
    }
    let restored: Float32Array;
    let report: QuantizedWeightReport;
    if (dtype === 'float16') {
      const bits = toFloat16(values);
      chunks.push(new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength));
      specs.push({ ...base, quantization: { dtype } });
      restored = Float32Array.from(bits, fromFloat16Bits);
      report = { name: spec.name, shape: spec.shape, quantized: true, maxError: 0 };
    } else {
      const { quantized, scale, min } = affineQuantize(values, dtype === 'uint8' ? 8 : 16, nudgeZero);
      chunks.push(new Uint8Array(quantized.buffer, quantized.byteOffset, quantized.byteLength));
      specs.push({ ...base, quantization: { dtype, scale, min } });
      restored = affineDequantize(quantized, scale, min);
      report = { name: spec.name, shape: spec.shape, quantized: true, scale, min, maxError: 0 };
    }
    for (let i = 0; i < values.length; i++) {
      const error = Math.abs(values[i]! - restored[i]!);
      if (error > report.maxError) report.maxError = error;
      errorSum += error;
    }
    errorCount += values.length;
    maxWeightError = Math.max(maxWeightError, report.maxError);
    reports.push(report);
  }
  const bytesAfter = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  const bin = new Uint8Array(bytesAfter);
  let offset = 0;
  for (const chunk of chunks) {
    bin.set(chunk, offset);
    offset += chunk.byteLength;
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, WEIGHTS_BIN), bin);
  const out: ModelJson = { ...json, weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: specs }] };
  writeFileSync(join(outDir, MODEL_JSON), JSON.stringify(out));
  const report: QuantizationReport = {
    dtype,
    granularity: 'per-tensor',
    nudgeZero,
    bytesBefore,
    bytesAfter,
    maxWeightError,
    meanAbsError: errorCount > 0 ? errorSum / errorCount : 0,
    weights: reports,
  };
  const metaPath = join(sourceDir, MODEL_META);
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Record<string, unknown>;
    const summary = {
      dtype,
      granularity: report.granularity,
      nudgeZero,
      bytesBefore,
      bytesAfter,
      maxWeightError,
      meanAbsError: report.meanAbsError,
      ...options.summary,
    };
    writeFileSync(join(outDir, MODEL_META), JSON.stringify({ ...meta, quantization: summary }, null, 2));
  }
  return report;
}
