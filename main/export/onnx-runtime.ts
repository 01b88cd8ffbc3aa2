/**
 * Runs an exported model.onnx in ONNX Runtime (onnxruntime-node, CPU execution provider): what a
 * deployment gets, used by `evaluate` (runtime `onnxruntime` / `both`), the tests and the
 * benchmarks. The native module is imported on first use, so nothing that never scores an ONNX
 * model pays for loading it.
 */
import type * as OnnxRuntime from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-node';

export interface OnnxRuntimeOptions {
  /**
   * Threads of one operator. Default 1: single-example latency is then comparable with tfjs-wasm,
   * which is single-threaded under Node, and workers running in parallel do not fight over cores.
   */
  threads?: number;
  /**
   * Fold each DequantizeLinear of a constant weight into a float initializer once, at load
   * (`session.disable_quant_qdq`). ONNX Runtime keeps them by default so that QDQ groups can fuse
   * into int8 kernels; a weight-only QDQ model (float activations) has nothing to fuse, and would
   * otherwise dequantize every weight on every run (about 7× slower for LeNet-300-100).
   */
  foldWeightDequantization?: boolean;
}

/** One input of a run: float32 values and their shape. */
export interface OnnxFeed {
  data: Float32Array;
  shape: number[];
}

/** An ONNX Runtime session over one model; call `release()` when done. */
export class OnnxRuntimeModel {
  private constructor(
    private readonly session: InferenceSession,
    private readonly ort: typeof OnnxRuntime,
  ) {}

  /** Opens model.onnx bytes (or a path) with every graph optimisation on. */
  static async load(model: Uint8Array | string, options: OnnxRuntimeOptions = {}): Promise<OnnxRuntimeModel> {
    const ort = await import('onnxruntime-node');
    const sessionOptions: InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      ...(options.foldWeightDequantization ? { extra: { session: { disable_quant_qdq: '1' } } } : {}),
    };
    const session =
      typeof model === 'string'
        ? await ort.InferenceSession.create(model, sessionOptions)
        : await ort.InferenceSession.create(model, sessionOptions);
    return new OnnxRuntimeModel(session, ort);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs the graph on named inputs; returns every output as float32 values. */
  async run(feeds: Record<string, OnnxFeed>): Promise<Record<string, Float32Array>> {
    const tensors: Record<string, InstanceType<typeof this.ort.Tensor>> = {};
    for (const [name, feed] of Object.entries(feeds)) {
      tensors[name] = new this.ort.Tensor('float32', feed.data, feed.shape);
    }
    const results = await this.session.run(tensors);
    const out: Record<string, Float32Array> = {};
    for (const [name, tensor] of Object.entries(results)) out[name] = tensor.data as Float32Array;
    return out;
  }

  /** Runs a one-input, one-output model (a classifier): [n, ...shape] in, the first output's values out. */
  async predict(data: Float32Array, shape: number[]): Promise<Float32Array> {
    const input = this.session.inputNames[0]!;
    const output = this.session.outputNames[0]!;
    const results = await this.run({ [input]: { data, shape } });
    return results[output]!;
  }

  /** Frees the native session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}
