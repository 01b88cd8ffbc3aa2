/**
 * Symmetric per-channel integer quantization (compress/per-channel.ts) against values worked out
 * by hand, and the quantized-weights files the ONNX export reads (export/quantized-weights.ts):
 * round trip, and a clear MODEL_INVALID for every way they can be inconsistent.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DistilleryError } from '../../main/base/errors';
import {
  QUANTIZED_WEIGHTS_JSON,
  readQuantizedWeights,
  writeQuantizedWeights,
} from '../../main/export/quantized-weights';
import {
  dequantizePerChannel,
  perChannelScales,
  quantizePerChannel,
  roundHalfToEven,
} from '../../main/worker/compress/per-channel';
import { makeTempDir } from '../helpers/tmp';

const tmp = makeTempDir('distillery-per-channel-');
afterAll(() => tmp.cleanup());

/** A Dense kernel [3 inputs, 2 units]: channel 0 is the first column, channel 1 the second. */
const KERNEL = Float32Array.from([0.5, -2.0, 1.27, 0.25, -0.3, 1.1]);

describe('per-channel symmetric quantization', () => {
  it('rounds half to even, as tf.round and QuantizeLinear do', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(roundHalfToEven)).toEqual([
      0, 2, 2, 0, -2, -2, 2, 3,
    ]);
  });

  it('8 bits: scale = max |w| of the channel / 127, q = round(w / scale)', () => {
    const weight = quantizePerChannel('hidden_1/kernel', KERNEL, [3, 2], 1, 8);
    expect(weight.channels).toBe(2);
    // Channel 0: max |w| = 1.27 → 0.01; channel 1: max |w| = 2 → 2/127.
    expect(weight.scales[0]).toBeCloseTo(0.01, 9);
    expect(weight.scales[1]).toBeCloseTo(2 / 127, 9);
    expect(weight.scales[0]).toBe(Math.fround(Math.fround(1.27) / 127));
    // 0.5/0.01 = 50, 1.27/0.01 = 127, −0.3/0.01 = −30; −2/(2/127) = −127, 0.25·63.5 = 15.875 → 16, 1.1·63.5 = 69.85 → 70.
    expect(Array.from(weight.values)).toEqual([50, -127, 127, 16, -30, 70]);
  });

  it('4 bits: scale = max |w| / 7, values in [−7, 7] (stored one per int8)', () => {
    const weight = quantizePerChannel('hidden_1/kernel', KERNEL, [3, 2], 1, 4);
    expect(weight.scales[0]).toBeCloseTo(1.27 / 7, 7);
    expect(weight.scales[1]).toBeCloseTo(2 / 7, 7);
    // 0.5/0.1814 = 2.76 → 3, 1.27 → 7, −0.3/0.1814 = −1.65 → −2; −2 → −7, 0.25/0.2857 = 0.875 → 1, 1.1/0.2857 = 3.85 → 4.
    expect(Array.from(weight.values)).toEqual([3, -7, 7, 1, -2, 4]);
    const restored = dequantizePerChannel(weight);
    expect(restored[1]).toBeCloseTo(-2, 6);
    expect(restored[3]).toBeCloseTo(2 / 7, 6);
    expect(restored[5]).toBeCloseTo(8 / 7, 6);
    expect(restored[0]).toBeCloseTo((3 * 1.27) / 7, 6);
  });

  it('gives each output channel of a depthwise kernel (input channel × multiplier) its own scale', () => {
    // [1, 1, 2 inputs, 2 multiplier]: four channels of one value each.
    const weight = quantizePerChannel(
      'dw/depthwise_kernel',
      Float32Array.from([0.4, -0.2, 0.8, 1.6]),
      [1, 1, 2, 2],
      2,
      8,
    );
    expect(weight.channels).toBe(4);
    expect(Array.from(weight.scales)).toEqual(
      [0.4, 0.2, 0.8, 1.6].map((v) => Math.fround(Math.fround(v) / 127)),
    );
    expect(Array.from(weight.values)).toEqual([127, -127, 127, 127]);
  });

  it('keeps zeros exact and gives a channel of zeros scale 1', () => {
    const weight = quantizePerChannel('k', Float32Array.from([0, 1, 0, -0.5]), [2, 2], 1, 8);
    expect(Array.from(weight.scales)).toEqual([1, Math.fround(1 / 127)]);
    expect(Array.from(dequantizePerChannel(weight))).toEqual([
      0,
      1,
      0,
      Math.fround(-64 * Math.fround(1 / 127)),
    ]);
    expect(Array.from(perChannelScales(Float32Array.from([0, 0, 0, 0]), 2, 4))).toEqual([1, 1]);
  });

  it('dequantization error is at most half a step of its channel', () => {
    const values = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 16)) * 0.01);
    for (const bits of [8, 4]) {
      const weight = quantizePerChannel('k', values, [256, 16], 1, bits);
      const restored = dequantizePerChannel(weight);
      values.forEach((v, i) => {
        expect(Math.abs(v - restored[i]!)).toBeLessThanOrEqual(weight.scales[i % 16]! / 2 + 1e-7);
      });
    }
  });
});

describe('quantized-weights files', () => {
  it('round-trip integers, scales and shapes', () => {
    const dir = join(tmp.dir, 'round-trip');
    const a = quantizePerChannel('hidden_1/kernel', KERNEL, [3, 2], 1, 4);
    const b = quantizePerChannel('output/kernel', Float32Array.from([0.1, -0.2, 0.3, 0.4]), [2, 2], 1, 4);
    mkdirSync(dir, { recursive: true });
    writeQuantizedWeights(dir, 4, [a, b]);
    const read = readQuantizedWeights(dir)!;
    expect([...read.keys()]).toEqual(['hidden_1/kernel', 'output/kernel']);
    for (const weight of [a, b]) {
      const back = read.get(weight.name)!;
      expect(back).toMatchObject({ shape: weight.shape, channels: weight.channels, bits: 4 });
      expect(Array.from(back.values)).toEqual(Array.from(weight.values));
      expect(Array.from(back.scales)).toEqual(Array.from(weight.scales));
    }
    const json = JSON.parse(readFileSync(join(dir, QUANTIZED_WEIGHTS_JSON), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(json).toMatchObject({
      format: 1,
      scheme: 'symmetric',
      granularity: 'per-channel',
      bits: 4,
      storage: 'int8',
    });
    expect(readQuantizedWeights(join(tmp.dir, 'nothing-here'))).toBeUndefined();
  });

  it('refuses inconsistent files with MODEL_INVALID naming the file', () => {
    const dir = join(tmp.dir, 'corrupt');
    mkdirSync(dir, { recursive: true });
    writeQuantizedWeights(dir, 4, [quantizePerChannel('k', KERNEL, [3, 2], 1, 4)]);
    const path = join(dir, QUANTIZED_WEIGHTS_JSON);
    const good = readFileSync(path, 'utf8');
    const refused = (
      edit: (file: Record<string, unknown> & { weights: Array<Record<string, unknown>> }) => void,
    ) => {
      const file = JSON.parse(good) as Record<string, unknown> & { weights: Array<Record<string, unknown>> };
      edit(file);
      writeFileSync(path, JSON.stringify(file));
      let error: unknown;
      try {
        readQuantizedWeights(dir);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(DistilleryError);
      expect((error as DistilleryError).code).toBe('MODEL_INVALID');
      expect((error as DistilleryError).details.file).toBe(path);
      return error as DistilleryError;
    };
    refused((file) => (file.weights[0]!.scales = [1]));
    refused((file) => (file.weights[0]!.scales = [1, -1]));
    refused((file) => (file.weights[0]!.offset = 4));
    refused((file) => (file.bits = 12));
    refused((file) => (file.storage = 'int4'));
    // Values beyond ±7 cannot be 4-bit integers.
    const outOfRange = refused((file) => (file.bits = 2));
    expect(outOfRange.message).toContain('±1');
    writeFileSync(path, '{');
    expect(() => readQuantizedWeights(dir)).toThrow(/Cannot read/);
  });
});
