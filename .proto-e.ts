import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { installWasmKernelFixes } from './main/worker/kernels/index';
import { conv2dFilterGradient, convolutionInfo } from './main/worker/kernels/conv2d-gradient';
setWasmPaths('/work/main/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
await tf.setBackend('wasm');
installWasmKernelFixes();
function time(label: string, f: () => tf.Tensor) { for (let i=0;i<2;i++) f().dispose(); const t=performance.now(); const n=5; for (let i=0;i<n;i++) { const r=f(); r.dataSync(); r.dispose(); } console.log(label, ((performance.now()-t)/n).toFixed(1), 'ms'); }
function im2colGrad(x: tf.Tensor4D, dy: tf.Tensor4D, k: number) { return tf.tidy(() => {
  const [n, , , ci] = x.shape; const [, ho, wo, co] = dy.shape;
  const cols: tf.Tensor[] = [];
  for (let i=0;i<k;i++) for (let j=0;j<k;j++) cols.push(tf.slice(x, [0,i,j,0], [n,ho,wo,ci]));
  const patches = tf.reshape(tf.concat(cols, 3), [n*ho*wo, k*k*ci]);
  const g = tf.matMul(tf.transpose(patches), tf.reshape(dy, [n*ho*wo, co]));
  return tf.reshape(g, [k,k,ci,co]);
});}
function perTap(x: tf.Tensor4D, dy: tf.Tensor4D, k: number) { return tf.tidy(() => {
  const [n, , , ci] = x.shape; const [, ho, wo, co] = dy.shape;
  const dyf = tf.reshape(dy, [n*ho*wo, co]);
  const taps: tf.Tensor[] = [];
  for (let i=0;i<k;i++) for (let j=0;j<k;j++) taps.push(tf.matMul(tf.transpose(tf.reshape(tf.slice(x, [0,i,j,0], [n,ho,wo,ci]), [n*ho*wo, ci])), dyf));
  return tf.reshape(tf.stack(taps), [k,k,ci,co]);
});}
for (const [xs, co] of [[[128,28,28,1],32],[[128,13,13,32],64],[[64,32,32,16],32]] as [number[],number][]) {
  const x = tf.randomNormal(xs) as tf.Tensor4D; const dy = tf.randomNormal([xs[0]!, xs[1]!-2, xs[2]!-2, co]) as tf.Tensor4D;
  const info = convolutionInfo(x.shape, [3,3,xs[3]!,co], 1, 1, 'valid');
  console.log(xs, co);
  time(' conv formulation', () => conv2dFilterGradient(x, dy, info));
  time(' im2col matmul', () => im2colGrad(x, dy, 3));
  time(' per-tap matmul', () => perTap(x, dy, 3));
  const a = conv2dFilterGradient(x, dy, info), b = im2colGrad(x, dy, 3);
  console.log(' diff', tf.norm(tf.sub(a,b)).dataSync()[0]! / tf.norm(b).dataSync()[0]!);
}
