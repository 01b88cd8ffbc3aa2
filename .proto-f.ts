import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
setWasmPaths('/work/main/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
await tf.setBackend('wasm');
function rel(a: tf.Tensor, b: tf.Tensor) { return (tf.norm(tf.sub(a, b)).dataSync()[0]! / tf.norm(b).dataSync()[0]!).toExponential(1); }
for (const [batch, m, k, n] of [[1,3,4,5],[2,3,4,5],[1,128,784,300],[1,3,4,8],[1,3,4,16],[1,5,4,32],[1,128,300,100],[1,128,100,10]]) {
  const a = tf.randomNormal([batch!, m!, k!]) as tf.Tensor3D, b = tf.randomNormal([batch!, k!, n!]) as tf.Tensor3D, bias = tf.randomNormal([n!]);
  const ref = tf.add(tf.matMul(a, b), bias);
  const out: string[] = [];
  for (const act of ['linear', 'relu'] as const) {
    out.push(act + ' bias ' + rel(tf.fused.matMul({ a, b, bias, activation: act }), act === 'relu' ? tf.relu(ref) : ref));
    out.push(act + ' nobias ' + rel(tf.fused.matMul({ a, b, activation: act }), act === 'relu' ? tf.relu(tf.matMul(a, b)) : tf.matMul(a, b)));
  }
  console.log([batch, m, k, n].join('x'), out.join(' | '));
}
