import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { installWasmKernelFixes } from './main/worker/kernels/index';
setWasmPaths('/work/main/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
await tf.setBackend('wasm');
installWasmKernelFixes();
function rel(a: Float32Array, b: Float32Array) { let d=0,n=0; for (let i=0;i<a.length;i++){d+=(a[i]!-b[i]!)**2;n+=b[i]!**2;} return Math.sqrt(d)/Math.max(Math.sqrt(n),1e-30); }
async function grads(backend: string, xs: number[], ws: number[], xShape: number[], wShape: number[], strides: number|[number,number], pad: any, dil: number|[number,number] = 1) {
  await tf.setBackend(backend);
  const x = tf.tensor(xs, xShape) as tf.Tensor4D, w = tf.tensor(ws, wShape) as tf.Tensor4D;
  const f = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.conv2d(a, b, strides, pad, 'NHWC', dil).square().sum();
  const [gx, gw] = tf.grads(f as any)([x, w]);
  const r = [gx!.dataSync().slice(), gw!.dataSync().slice()] as Float32Array[];
  tf.dispose([x,w,gx,gw]);
  return r;
}
const cases: any[] = [
  [[2,7,9,3],[3,3,3,4],1,'valid'], [[2,7,9,3],[3,3,3,4],1,'same'], [[2,7,9,3],[3,3,3,4],2,'same'], [[2,7,9,3],[3,3,3,4],2,'valid'],
  [[2,8,8,1],[5,5,1,2],3,'same'], [[2,8,8,1],[2,3,1,2],[2,3],'valid'], [[1,6,7,2],[3,3,2,3],1,2], [[1,6,7,2],[3,3,2,3],2,[[0,0],[1,4],[0,2],[0,0]]],
  [[1,9,9,2],[3,3,2,3],1,'same',2], [[1,9,9,2],[3,3,2,3],1,'valid',[2,1]], [[1,6,7,2],[2,2,2,3],1,5],
];
for (const [xs, ws, s, p, d] of cases) {
  const xv = Array.from({length: xs.reduce((a:number,b:number)=>a*b)}, () => Math.random()-0.5);
  const wv = Array.from({length: ws.reduce((a:number,b:number)=>a*b)}, () => Math.random()-0.5);
  const cpu = await grads('cpu', xv, wv, xs, ws, s, p, d ?? 1);
  const wasm = await grads('wasm', xv, wv, xs, ws, s, p, d ?? 1);
  console.log(JSON.stringify([xs, ws, s, p, d]), rel(wasm[0]!, cpu[0]!).toExponential(2), rel(wasm[1]!, cpu[1]!).toExponential(2));
}
