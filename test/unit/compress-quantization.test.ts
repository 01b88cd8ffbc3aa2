/**
 * Quantization helpers against TensorFlow.js's own manifest decoder (tf.io.decodeWeights, what
 * stock loaders run): affine uint8 / uint16 error bounds, zero kept exact, float16 rounding.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  affineDequantize,
  affineQuantize,
  fromFloat16Bits,
  toFloat16,
  toFloat16Bits,
} from '../../main/worker/compress/quantization';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function values(count: number): Float32Array {
  return Float32Array.from(
    { length: count },
    (_, i) => Math.sin(i * 12.9898) * 0.37 + (i % 7 === 0 ? 0 : 0.05),
  );
}

/** Decodes one weight the way tf.loadLayersModel does. */
function decodeWithTfjs(
  bytes: Uint8Array,
  shape: number[],
  quantization: tf.io.WeightsManifestEntry['quantization'],
): Float32Array {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const decoded = tf.io.decodeWeights(buffer, [
    { name: 'w', shape, dtype: 'float32', ...(quantization ? { quantization } : {}) },
  ]);
  const out = decoded.w!.dataSync() as Float32Array;
  decoded.w!.dispose();
  return Float32Array.from(out);
}

describe('affine quantization (per tensor)', () => {
  for (const bits of [8, 16] as const) {
    it(`uint${bits}: tfjs dequantizes to our values, error ≤ one step, zero exact`, () => {
      const w = values(5000);
      const { quantized, scale, min } = affineQuantize(w, bits);
      const range = Math.max(0, ...w) - Math.min(0, ...w);
      expect(scale).toBeCloseTo(range / (2 ** bits - 1), 10);
      const ours = affineDequantize(quantized, scale, min);
      const bytes = new Uint8Array(quantized.buffer, quantized.byteOffset, quantized.byteLength);
      const theirs = decodeWithTfjs(bytes, [5000], { dtype: bits === 8 ? 'uint8' : 'uint16', scale, min });
      expect(Array.from(theirs)).toEqual(Array.from(ours));
      let maxError = 0;
      w.forEach((v, i) => (maxError = Math.max(maxError, Math.abs(v - theirs[i]!))));
      expect(maxError).toBeLessThanOrEqual(scale * 1.0001);
      // Exact zeros (pruned weights) stay exactly zero.
      w.forEach((v, i) => {
        if (v === 0) expect(theirs[i]).toBe(0);
      });
    });
  }

  it('without the zero nudge, error ≤ half a step (the plain formula of PAPERS.md)', () => {
    const w = values(2000).map((v) => v + 1); // all positive: the nudge would widen the range
    const { quantized, scale, min } = affineQuantize(w, 8, false);
    expect(min).toBeCloseTo(Math.min(...w), 6);
    expect(scale).toBeCloseTo((Math.max(...w) - Math.min(...w)) / 255, 10);
    const restored = affineDequantize(quantized, scale, min);
    w.forEach((v, i) => expect(Math.abs(v - restored[i]!)).toBeLessThanOrEqual(scale / 2 + 1e-6));
  });

  it('a constant tensor round-trips exactly', () => {
    const zeros = new Float32Array(10);
    const q = affineQuantize(zeros, 8);
    expect(Array.from(affineDequantize(q.quantized, q.scale, q.min))).toEqual(Array.from(zeros));
    const sevens = new Float32Array(4).fill(7);
    const q7 = affineQuantize(sevens, 8, false);
    expect(Array.from(affineDequantize(q7.quantized, q7.scale, q7.min))).toEqual([7, 7, 7, 7]);
  });
});

describe('float16', () => {
  it('matches IEEE half precision on known values (normal, subnormal, overflow, ties to even)', () => {
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(-2)).toBe(0xc000);
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(1e6)).toBe(0x7c00);
    expect(toFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(toFloat16Bits(2 ** -26)).toBe(0x0000);
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // halfway: ties to even
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toFloat16Bits(0.1)).toBe(0x2e66);
    expect(fromFloat16Bits(0x2e66)).toBeCloseTo(0.0999755859375, 12);
  });

  it('tfjs decodes our encoding to the nearest half-precision value', () => {
    const w = values(3000).map((v, i) => v * 10 ** ((i % 9) - 4));
    const bits = toFloat16(w);
    const decoded = decodeWithTfjs(new Uint8Array(bits.buffer), [3000], { dtype: 'float16' });
    decoded.forEach((v, i) => {
      expect(v).toBe(Math.fround(fromFloat16Bits(bits[i]!)));
      const original = w[i]!;
      // Relative error of half precision: 2^-11 for normal values, absolute 2^-25 for subnormals.
      expect(Math.abs(v - original)).toBeLessThanOrEqual(
        Math.max(Math.abs(original) * 2 ** -11, 2 ** -25) * 1.0001,
      );
    });
  });
});
