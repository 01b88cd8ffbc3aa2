/**
 * Builds an ONNX GraphProto as the plain object protobufjs encodes (onnx-proto.ts): nodes in
 * topological order, initializers as little-endian `raw_data`, unique value names. Values carry
 * their logical (TensorFlow.js, channels-last) shape with a symbolic batch dimension, and whether a
 * rank-4 value is held channels-first in the graph (ONNX's Conv and pooling are NCHW).
 */
import { ONNX_ATTRIBUTE, ONNX_DTYPE } from './onnx-proto';

/** Name of the symbolic batch dimension of every graph input and output. */
export const BATCH_DIMENSION = 'batch';

/** A tensor of the graph. */
export interface GraphValue {
  name: string;
  /** Logical channels-last shape; null for the batch dimension. */
  shape: Array<number | null>;
  /** Rank-4 values are held NCHW inside the graph (converted at the graph's inputs and outputs). */
  channelsFirst: boolean;
}

export type Attribute =
  | { name: string; type: typeof ONNX_ATTRIBUTE.int; i: number }
  | { name: string; type: typeof ONNX_ATTRIBUTE.ints; ints: number[] }
  | { name: string; type: typeof ONNX_ATTRIBUTE.float; f: number }
  | { name: string; type: typeof ONNX_ATTRIBUTE.floats; floats: number[] }
  | { name: string; type: typeof ONNX_ATTRIBUTE.string; s: Uint8Array };

/** Attribute constructors. */
export const attribute = {
  int: (name: string, i: number): Attribute => ({ name, type: ONNX_ATTRIBUTE.int, i }),
  ints: (name: string, ints: number[]): Attribute => ({ name, type: ONNX_ATTRIBUTE.ints, ints }),
  float: (name: string, f: number): Attribute => ({ name, type: ONNX_ATTRIBUTE.float, f }),
  floats: (name: string, floats: number[]): Attribute => ({ name, type: ONNX_ATTRIBUTE.floats, floats }),
  string: (name: string, s: string): Attribute => ({
    name,
    type: ONNX_ATTRIBUTE.string,
    s: Buffer.from(s, 'utf8'),
  }),
};

interface NodeObject {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute: Attribute[];
}

interface TensorObject {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}

interface ValueInfoObject {
  name: string;
  type: {
    tensorType: { elemType: number; shape: { dim: Array<{ dimValue: number } | { dimParam: string }> } };
  };
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  // Copies, so that a later change to the source array cannot alter the encoded model.
  return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

function int64Bytes(values: number[]): Uint8Array {
  const out = new BigInt64Array(values.length);
  values.forEach((value, i) => (out[i] = BigInt(value)));
  return bytesOf(out);
}

/** Shape as a ValueInfo's dims: null → the symbolic batch dimension. */
function dims(shape: Array<number | null>): Array<{ dimValue: number } | { dimParam: string }> {
  return shape.map((d) => (d === null ? { dimParam: BATCH_DIMENSION } : { dimValue: d }));
}

/** Collects nodes and initializers; hands out unique names. */
export class OnnxGraphBuilder {
  private readonly nodes: NodeObject[] = [];
  private readonly initializers: TensorObject[] = [];
  private readonly inputs: ValueInfoObject[] = [];
  private readonly outputs: ValueInfoObject[] = [];
  private readonly used = new Set<string>();
  /** Number of initializer values per element type, for the export's summary. */
  readonly initializerBytes = { float: 0, int8: 0, other: 0 };

  /** Keeps `name` for a later `node(…, { exact: true })` (graph inputs and outputs). */
  reserve(name: string): void {
    this.used.add(name);
  }

  /** `base`, or `base_2`, `base_3`… when taken. */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 2; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Declares a float32 graph input (a name reserved before). */
  addInput(name: string, shape: Array<number | null>): string {
    this.inputs.push({
      name,
      type: { tensorType: { elemType: ONNX_DTYPE.float, shape: { dim: dims(shape) } } },
    });
    return name;
  }

  /** Declares a float32 graph output (an existing value). */
  addOutput(name: string, shape: Array<number | null>): void {
    this.outputs.push({
      name,
      type: { tensorType: { elemType: ONNX_DTYPE.float, shape: { dim: dims(shape) } } },
    });
  }

  /** A float32 initializer. */
  floats(base: string, shape: number[], values: Float32Array | number[]): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    this.initializerBytes.float += data.byteLength;
    return this.initializer(base, shape, ONNX_DTYPE.float, bytesOf(data));
  }

  /** An int8 initializer. */
  int8s(base: string, shape: number[], values: Int8Array): string {
    this.initializerBytes.int8 += values.byteLength;
    return this.initializer(base, shape, ONNX_DTYPE.int8, bytesOf(values));
  }

  /** A 1-D int64 initializer (shapes, pads, axes). */
  int64s(base: string, values: number[]): string {
    this.initializerBytes.other += values.length * 8;
    return this.initializer(base, [values.length], ONNX_DTYPE.int64, int64Bytes(values));
  }

  private initializer(base: string, shape: number[], dataType: number, rawData: Uint8Array): string {
    const name = this.uniqueName(base);
    this.initializers.push({ name, dims: shape, dataType, rawData });
    return name;
  }

  /**
   * Adds a node with one output; returns the output's name: `outputName` made unique, or with
   * `exact` a name reserved before.
   */
  node(
    opType: string,
    inputs: string[],
    outputName: string,
    attributes: Attribute[] = [],
    options: { exact?: boolean } = {},
  ): string {
    const output = options.exact ? outputName : this.uniqueName(outputName);
    this.nodes.push({
      name: this.uniqueName(`${output}/${opType}`),
      opType,
      input: inputs,
      output: [output],
      attribute: attributes,
    });
    return output;
  }

  /** The GraphProto object. */
  build(name: string, docString: string): Record<string, unknown> {
    return {
      name,
      docString,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    };
  }

  /** Op types used, in first-use order (for the summary and tests). */
  opTypes(): string[] {
    return [...new Set(this.nodes.map((node) => node.opType))];
  }
}
