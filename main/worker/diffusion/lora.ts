/**
 * LoRA (Hu et al.; PAPERS.md "LoRA") for the kernels of a stock tfjs layers model: W' = W + (α/r)·ΔW
 * with ΔW = (B·A)ᵀ reshaped to the kernel's shape, A ∈ R^{r×fanIn} drawn uniformly in ±1/√fanIn
 * (the reference implementation's Kaiming init), B ∈ R^{fanOut×r} zero, so training starts from the
 * base model exactly. For a Dense kernel [in, out] fanIn = in; for a Conv2D kernel [kh, kw, in, out]
 * fanIn = kh·kw·in (the adapter is a kh×kw conv to r channels followed by a 1×1 conv to out), so a
 * rank-r adapter adds r·(fanIn + fanOut) parameters per layer.
 *
 * How the adapted model runs without custom layers: tfjs-layers' Dense and Conv2D read their
 * kernel through `this.kernel.read()` in `call` (tfjs-layers 4.22, layers/core.js and
 * layers/convolutional.js). `withAdapters` swaps each target layer's `kernel` for an object whose
 * `read()` returns W + (α/r)·ΔW computed in the caller's tf scope, runs the forward pass, and puts
 * the original LayerVariable back. Gradients therefore flow to A and B (tf.variableGrads sees the
 * ops), the base weights stay frozen, and the saved model stays a stock layers model. `merge`
 * writes W + (α/r)·ΔW into the kernels for export, after which the adapters are spent.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DistilleryError } from '../../base/errors';
import type { NamedArrays } from '../train/optimizers';
import { mixSeed } from '../train/rng';
import type { LoraTargets } from '../../nodes/diffusion-params';

export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Which kernels get adapters: every Conv2D and Dense, or only one kind. */
  targets: LoraTargets;
}

export const ADAPTERS_DIR = 'adapters';
const ADAPTERS_JSON = 'adapters.json';
const ADAPTERS_BIN = 'adapters.bin';

interface KernelHolder {
  kernel: { read(): tf.Tensor } | null;
}

interface AdapterEntry {
  layer: tf.layers.Layer;
  kind: 'conv' | 'dense';
  kernelShape: number[];
  fanIn: number;
  fanOut: number;
  a: tf.Variable;
  b: tf.Variable;
}

function holder(layer: tf.layers.Layer): KernelHolder {
  // Dense and Conv2D keep their kernel LayerVariable on `kernel` (see the file comment).
  return layer as unknown as KernelHolder;
}

/** Rank-r adapters on a model's Conv2D / Dense kernels. */
export class LoraAdapters {
  readonly scale: number;
  private readonly entries: AdapterEntry[];
  private active = false;

  private constructor(
    readonly config: LoraConfig,
    entries: AdapterEntry[],
  ) {
    this.entries = entries;
    this.scale = config.alpha / config.rank;
  }

  /** Adds adapters to every targeted layer that has a kernel. Same seed → same A. */
  static create(model: tf.LayersModel, config: LoraConfig, seed: number): LoraAdapters {
    if (!Number.isInteger(config.rank) || config.rank < 1) {
      throw new DistilleryError('PARAM_INVALID', `LoRA rank must be a positive integer, got ${config.rank}`, {
        param: 'loraRank',
        expected: 'an integer ≥ 1',
        received: config.rank,
      });
    }
    const entries: AdapterEntry[] = [];
    for (const layer of model.layers) {
      const className = layer.getClassName();
      const kind = className === 'Conv2D' ? 'conv' : className === 'Dense' ? 'dense' : undefined;
      if (!kind || (config.targets !== 'all' && config.targets !== kind)) continue;
      const kernel = holder(layer).kernel;
      if (!kernel) continue;
      const kernelShape = [...kernel.read().shape];
      const fanOut = kernelShape.at(-1)!;
      const fanIn = kernelShape.slice(0, -1).reduce((x, y) => x * y, 1);
      const bound = 1 / Math.sqrt(fanIn);
      const index = entries.length;
      const a = tf.variable(
        tf.randomUniform([config.rank, fanIn], -bound, bound, 'float32', mixSeed(seed, index)),
      );
      const b = tf.variable(tf.zeros([fanOut, config.rank]));
      entries.push({ layer, kind, kernelShape, fanIn, fanOut, a, b });
    }
    if (entries.length === 0) {
      throw new DistilleryError(
        'MODEL_INVALID',
        `The model has no ${config.targets === 'all' ? 'Conv2D or Dense' : config.targets} kernels to adapt`,
        {
          param: 'loraTargets',
          received: config.targets,
        },
      );
    }
    return new LoraAdapters(config, entries);
  }

  /** A and B of every adapter, in a stable order (the optimiser keys its slots by position). */
  get variables(): tf.Variable[] {
    return this.entries.flatMap((entry) => [entry.a, entry.b]);
  }

  /** Σ r·(fanIn + fanOut) over the adapted layers. */
  get parameterCount(): number {
    return this.entries.reduce((sum, entry) => sum + this.config.rank * (entry.fanIn + entry.fanOut), 0);
  }

  /** Names of the adapted layers. */
  get layerNames(): string[] {
    return this.entries.map((entry) => entry.layer.name);
  }

  /** (α/r)·ΔW in the kernel's shape; inside tf.tidy. */
  private delta(entry: AdapterEntry): tf.Tensor {
    return tf.reshape(tf.mul(tf.matMul(entry.a, entry.b, true, true), this.scale), entry.kernelShape);
  }

  /**
   * Runs `fn` (a forward pass) with every adapted kernel read as W + (α/r)·ΔW. Call inside tf.tidy
   * (the adapted kernels are created in the caller's scope) and keep `fn` synchronous.
   */
  withAdapters<T>(fn: () => T): T {
    if (this.active) return fn();
    const originals = this.entries.map((entry) => holder(entry.layer).kernel!);
    this.active = true;
    try {
      this.entries.forEach((entry, i) => {
        const adapted = tf.add(originals[i]!.read(), this.delta(entry));
        holder(entry.layer).kernel = { read: () => adapted };
      });
      return fn();
    } finally {
      this.entries.forEach((entry, i) => (holder(entry.layer).kernel = originals[i]!));
      this.active = false;
    }
  }

  /** Writes W + (α/r)·ΔW into the base kernels (for export); the adapters must not be used after. */
  merge(): void {
    for (const entry of this.entries) {
      const kernel = holder(entry.layer).kernel as unknown as tf.LayerVariable;
      const merged = tf.tidy(() => tf.add(kernel.read(), this.delta(entry)));
      kernel.write(merged);
      merged.dispose();
    }
  }

  /**
   * Σ‖(α/r)·ΔW‖² and Σ‖W‖² over the adapted kernels: the adapted model's weight drift from its base
   * is √(delta / base).
   */
  squaredNorms(): { delta: number; base: number } {
    return tf.tidy(() => {
      let delta = 0;
      let base = 0;
      for (const entry of this.entries) {
        delta += tf.sum(tf.square(this.delta(entry))).dataSync()[0]!;
        base += tf.sum(tf.square(holder(entry.layer).kernel!.read())).dataSync()[0]!;
      }
      return { delta, base };
    });
  }

  /** Adapter arrays keyed `lora/<i>/A|B`, for checkpoints. */
  state(): NamedArrays {
    const arrays: NamedArrays = {};
    this.entries.forEach((entry, i) => {
      arrays[`lora/${i}/A`] = {
        shape: [...entry.a.shape],
        values: Float32Array.from(entry.a.dataSync() as Float32Array),
      };
      arrays[`lora/${i}/B`] = {
        shape: [...entry.b.shape],
        values: Float32Array.from(entry.b.dataSync() as Float32Array),
      };
    });
    return arrays;
  }

  /** Puts back arrays from `state()`; `file` names the source in errors. */
  load(arrays: NamedArrays, file: string): void {
    this.entries.forEach((entry, i) => {
      for (const [key, variable] of [
        [`lora/${i}/A`, entry.a],
        [`lora/${i}/B`, entry.b],
      ] as const) {
        const array = arrays[key];
        if (!array || !tf.util.arraysEqual(array.shape, variable.shape)) {
          throw new DistilleryError(
            'CHECKPOINT_INVALID',
            `${file}: adapter ${key} is missing or has the wrong shape`,
            {
              file,
              expected: `[${variable.shape.join(', ')}]`,
              received: array ? `[${array.shape.join(', ')}]` : 'nothing',
            },
          );
        }
        variable.assign(tf.tensor(array.values, array.shape, 'float32'));
      }
    });
  }

  /** Writes the adapters (not merged) as `adapters.json` + `adapters.bin` in `dir`. */
  save(dir: string, extra: Record<string, unknown> = {}): string {
    mkdirSync(dir, { recursive: true });
    const layers: Array<Record<string, unknown>> = [];
    const chunks: Float32Array[] = [];
    let offset = 0;
    for (const entry of this.entries) {
      const a = entry.a.dataSync() as Float32Array;
      const b = entry.b.dataSync() as Float32Array;
      layers.push({
        layer: entry.layer.name,
        kind: entry.kind,
        kernelShape: entry.kernelShape,
        A: { shape: entry.a.shape, offset },
        B: { shape: entry.b.shape, offset: offset + a.byteLength },
      });
      chunks.push(a, b);
      offset += a.byteLength + b.byteLength;
    }
    const bin = new Uint8Array(offset);
    let at = 0;
    for (const chunk of chunks) {
      bin.set(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength), at);
      at += chunk.byteLength;
    }
    writeFileSync(join(dir, ADAPTERS_BIN), bin);
    writeFileSync(
      join(dir, ADAPTERS_JSON),
      JSON.stringify(
        {
          format: 1,
          ...this.config,
          scale: this.scale,
          formula:
            "kernel' = kernel + scale * reshape(transpose(B @ A), kernelShape); A [rank, fanIn], B [fanOut, rank], float32 little-endian",
          parameterCount: this.parameterCount,
          weights: ADAPTERS_BIN,
          layers,
          ...extra,
        },
        null,
        2,
      ),
    );
    return dir;
  }

  /** Reads adapters written by `save` into this set (same model, same config). */
  loadFile(dir: string): void {
    const json = JSON.parse(readFileSync(join(dir, ADAPTERS_JSON), 'utf8')) as {
      layers: Array<{
        layer: string;
        A: { shape: number[]; offset: number };
        B: { shape: number[]; offset: number };
      }>;
    };
    const bytes = readFileSync(join(dir, ADAPTERS_BIN));
    const buffer = new ArrayBuffer(bytes.byteLength);
    new Uint8Array(buffer).set(bytes);
    const arrays: NamedArrays = {};
    json.layers.forEach((layer, i) => {
      for (const part of ['A', 'B'] as const) {
        const { shape, offset } = layer[part];
        arrays[`lora/${i}/${part}`] = {
          shape,
          values: new Float32Array(buffer, offset, shape[0]! * shape[1]!),
        };
      }
    });
    this.load(arrays, join(dir, ADAPTERS_JSON));
  }

  dispose(): void {
    for (const entry of this.entries) {
      entry.a.dispose();
      entry.b.dispose();
    }
  }
}
