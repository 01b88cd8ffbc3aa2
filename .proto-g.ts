import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { installWasmKernelFixes } from './main/worker/kernels/index';
setWasmPaths('/work/main/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
await tf.setBackend('wasm');
installWasmKernelFixes();
const [xs, ws, s, p] = JSON.parse(process.argv[2]!);
for (const be of ['cpu', 'wasm']) {
  await tf.setBackend(be);
  const x = tf.randomNormal(xs) as tf.Tensor4D, w = tf.randomNormal(ws) as tf.Tensor4D;
  const y = tf.conv2d(x, w, s, p);
  console.log(be, 'fwd', y.shape, tf.sum(y).dataSync()[0]);
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, p)))([x, w]);
  console.log(be, 'grad', g.map(t => t.shape));
}
