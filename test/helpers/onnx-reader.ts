/**
 * Independent readers of exported ONNX files for the tests: ONNX Runtime (onnxruntime-node, used
 * directly, not through the product's wrapper) and Debian's python3-onnx (`onnx.checker` with the
 * full check, then the model's header, metadata and graph as JSON). python3-onnx lives in
 * `/usr/bin/python3`, which may differ from the `python3` on PATH; `.ci/run` installs it.
 */
import { spawnSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { mnistSlice } from './train-fixtures';

export const PYTHON_WITH_ONNX = '/usr/bin/python3';

let available: boolean | undefined;

/** Whether /usr/bin/python3 can import onnx (cached). */
export function pythonOnnxAvailable(): boolean {
  if (available === undefined) {
    const result = spawnSync(PYTHON_WITH_ONNX, ['-c', 'import onnx'], { encoding: 'utf8' });
    available = result.status === 0;
  }
  return available;
}

export const PYTHON_ONNX_MISSING = `${PYTHON_WITH_ONNX} cannot import onnx (install Debian's python3-onnx, as .ci/run does)`;

/** What python3-onnx reads from a file that passed `onnx.checker.check_model(..., full_check=True)`. */
export interface CheckedOnnxModel {
  onnxVersion: string;
  irVersion: number;
  opsets: Record<string, number>;
  producerName: string;
  producerVersion: string;
  docString: string;
  metadata: Record<string, string>;
  inputs: Array<{ name: string; dims: Array<number | string> }>;
  outputs: Array<{ name: string; dims: Array<number | string> }>;
  opTypes: string[];
  /** DequantizeLinear nodes: weight initializer name, its dtype, its scale values and axis. */
  dequantize: Array<{ input: string; dtype: string; scales: number[]; axis: number | null }>;
}

const SCRIPT = `
import json, sys
import onnx
from onnx import numpy_helper
path = sys.argv[1]
onnx.checker.check_model(path, full_check=True)
m = onnx.load(path)
inits = {t.name: t for t in m.graph.initializer}
def dims(v):
    return [d.dim_param if d.HasField('dim_param') else d.dim_value for d in v.type.tensor_type.shape.dim]
dq = []
for n in m.graph.node:
    if n.op_type == 'DequantizeLinear':
        x = inits.get(n.input[0])
        s = inits.get(n.input[1])
        axis = [a.i for a in n.attribute if a.name == 'axis']
        dq.append({'input': n.input[0], 'dtype': str(numpy_helper.to_array(x).dtype) if x is not None else '',
                   'scales': numpy_helper.to_array(s).astype(float).ravel().tolist() if s is not None else [],
                   'axis': axis[0] if axis else None})
print(json.dumps({
  'onnxVersion': onnx.__version__,
  'irVersion': m.ir_version,
  'opsets': {o.domain: o.version for o in m.opset_import},
  'producerName': m.producer_name,
  'producerVersion': m.producer_version,
  'docString': m.doc_string,
  'metadata': {p.key: p.value for p in m.metadata_props},
  'inputs': [{'name': i.name, 'dims': dims(i)} for i in m.graph.input],
  'outputs': [{'name': o.name, 'dims': dims(o)} for o in m.graph.output],
  'opTypes': sorted({n.op_type for n in m.graph.node}),
  'dequantize': dq,
}))
`;

/** Runs the full ONNX checker on `path` and returns what python3-onnx reads; throws with its message. */
export function checkWithPythonOnnx(path: string): CheckedOnnxModel {
  const result = spawnSync(PYTHON_WITH_ONNX, ['-c', SCRIPT, path], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) {
    throw new Error(`onnx.checker refused ${path}:\n${result.stderr || result.stdout}`);
  }
  return JSON.parse(result.stdout) as CheckedOnnxModel;
}

/** `count` real MNIST test images (t10k, from `start`) as NHWC float32 pixels / 255, and their labels. */
export function mnistTestInputs(
  count: number,
  start = 0,
): { x: Float32Array; y: Int32Array; shape: number[] } {
  const slice = mnistSlice('t10k', start, count);
  return { x: Float32Array.from(slice.x, (v) => v / 255), y: slice.y, shape: [count, 28, 28, 1] };
}

/** Runs model.onnx in ONNX Runtime (CPU) on named float32 inputs; returns the first output. */
export async function runOnnxRuntime(
  model: string | Uint8Array,
  feeds: Record<string, { data: Float32Array; shape: number[] }>,
): Promise<{
  output: Float32Array;
  outputShape: readonly number[];
  inputNames: readonly string[];
  outputNames: readonly string[];
}> {
  const session =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model)
      : await ort.InferenceSession.create(model);
  try {
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, feed] of Object.entries(feeds))
      tensors[name] = new ort.Tensor('float32', feed.data, feed.shape);
    const results = await session.run(tensors);
    const first = results[session.outputNames[0]!]!;
    return {
      output: Float32Array.from(first.data as Float32Array),
      outputShape: first.dims,
      inputNames: session.inputNames,
      outputNames: session.outputNames,
    };
  } finally {
    await session.release();
  }
}

/** max |a − b| over two equally long arrays. */
export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Number of rows of [n, classes] probabilities whose argmax equals the label. */
export function correctCount(
  probabilities: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) {
      if (probabilities[i * classes + c]! > probabilities[i * classes + best]!) best = c;
    }
    if (best === labels[i]) correct++;
  }
  return correct;
}
