import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { installWasmKernelFixes, uninstallWasmKernelFixes } from './main/worker/kernels/index';
setWasmPaths('/work/main/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
await tf.setBackend('wasm');
function time(label: string, f: () => tf.Tensor) { for (let i=0;i<2;i++) f().dispose(); const t=performance.now(); const n=5; for (let i=0;i<n;i++) { const r=f(); r.dataSync(); r.dispose(); } console.log(label, ((performance.now()-t)/n).toFixed(1), 'ms'); }
const dy = tf.randomNormal([128, 11, 11, 64]) as tf.Tensor4D, w = tf.randomNormal([3,3,32,64]) as tf.Tensor4D, x = tf.randomNormal([128,13,13,32]) as tf.Tensor4D;
time('stock backpropInput', () => tf.conv2dTranspose(dy, w, [128,13,13,32], 1, 'valid'));
installWasmKernelFixes();
time('fixed backpropInput', () => tf.conv2dTranspose(dy, w, [128,13,13,32], 1, 'valid'));
time('fixed backpropFilter', () => tf.grad((ww: tf.Tensor4D) => tf.conv2d(x, ww, 1, 'valid').mul(dy).sum())(w));
time('forward conv', () => tf.conv2d(x, w, 1, 'valid'));
const dy1 = tf.randomNormal([128, 26, 26, 32]) as tf.Tensor4D, w1 = tf.randomNormal([3,3,1,32]) as tf.Tensor4D, x1 = tf.randomNormal([128,28,28,1]) as tf.Tensor4D;
time('fixed backpropFilter layer1', () => tf.grad((ww: tf.Tensor4D) => tf.conv2d(x1, ww, 1, 'valid').mul(dy1).sum())(w1));
time('forward conv layer1', () => tf.conv2d(x1, w1, 1, 'valid'));
uninstallWasmKernelFixes();
time('stock backpropInput again', () => tf.conv2dTranspose(dy, w, [128,13,13,32], 1, 'valid'));
