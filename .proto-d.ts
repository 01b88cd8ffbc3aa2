import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { installWasmKernelFixes } from './main/worker/kernels/index';
setWasmPaths('/work/main/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
await tf.setBackend('wasm');
installWasmKernelFixes();
const m = tf.sequential({ layers: [
  tf.layers.conv2d({ inputShape: [28,28,1], filters: 32, kernelSize: 3, activation: 'relu' }),
  tf.layers.maxPooling2d({ poolSize: 2 }),
  tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
  tf.layers.maxPooling2d({ poolSize: 2 }),
  tf.layers.flatten(), tf.layers.dense({ units: 128, activation: 'relu' }), tf.layers.dense({ units: 10 })]});
const opt = tf.train.adam(1e-3);
const x = tf.randomNormal([128,28,28,1]); const y = tf.oneHot(tf.randomUniform([128],0,10,'int32') as tf.Tensor1D, 10);
const step = () => { const l = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, m.apply(x) as tf.Tensor) as tf.Scalar, true); l!.dataSync(); l!.dispose(); };
for (let i=0;i<2;i++) step();
const prof = await tf.profile(() => { step(); });
const agg = new Map<string, number>();
for (const k of prof.kernels) agg.set(k.name, (agg.get(k.name) ?? 0) + (k.kernelTimeMs as number));
console.log([...agg].sort((a,b)=>b[1]-a[1]).slice(0,15));
let t = performance.now(); for (let i=0;i<5;i++) step(); const dt=(performance.now()-t)/5; console.log('ms/step', dt.toFixed(1), 'samples/s', (128000/dt).toFixed(0));
