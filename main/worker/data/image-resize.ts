/** Decoded pixels converted to grey or RGB and resampled to a fixed size. */
import type { RgbaImage } from './image-decode';

export type ImageChannels = 1 | 3;

export interface ImageFormat {
  width: number;
  height: number;
  channels: ImageChannels;
}

/** One weight table per output coordinate along one axis: `taps[start[i] .. start[i+1])`. */
interface AxisTaps {
  start: Int32Array;
  index: Int32Array;
  weight: Float32Array;
}

/**
 * Resampling weights from `src` to `dst` samples: area averaging when shrinking (each output
 * sample is the mean of the input it covers, so detail is not aliased away), bilinear with
 * pixel-centre alignment when enlarging or keeping the size.
 */
function axisTaps(src: number, dst: number): AxisTaps {
  const scale = src / dst;
  const start = new Int32Array(dst + 1);
  const index: number[] = [];
  const weight: number[] = [];
  for (let i = 0; i < dst; i++) {
    start[i] = index.length;
    if (scale > 1) {
      const lo = i * scale;
      const hi = Math.min(src, (i + 1) * scale);
      for (let j = Math.floor(lo); j < Math.ceil(hi); j++) {
        const w = Math.min(hi, j + 1) - Math.max(lo, j);
        if (w > 1e-9) {
          index.push(j);
          weight.push(w / scale);
        }
      }
    } else {
      const x = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), src - 1);
      const x0 = Math.floor(x);
      const f = x - x0;
      index.push(x0);
      weight.push(1 - f);
      if (f > 0) {
        index.push(Math.min(x0 + 1, src - 1));
        weight.push(f);
      }
    }
  }
  start[dst] = index.length;
  return { start, index: Int32Array.from(index), weight: Float32Array.from(weight) };
}

/**
 * Converts RGBA pixels to grey (luma 0.299 R + 0.587 G + 0.114 B) or RGB, ignoring alpha, and
 * resizes them to `width × height`. Returns uint8 values in HWC order.
 */
export function toFormat(image: RgbaImage, format: ImageFormat): Uint8Array {
  const { width: sw, height: sh } = image;
  const { width: dw, height: dh, channels: c } = format;
  const source = new Float32Array(sw * sh * c);
  for (let p = 0; p < sw * sh; p++) {
    const r = image.data[p * 4]!;
    const g = image.data[p * 4 + 1]!;
    const b = image.data[p * 4 + 2]!;
    if (c === 1) {
      source[p] = 0.299 * r + 0.587 * g + 0.114 * b;
    } else {
      source[p * 3] = r;
      source[p * 3 + 1] = g;
      source[p * 3 + 2] = b;
    }
  }
  // Separable resampling: rows first (sh × dw), then columns (dh × dw).
  const across = axisTaps(sw, dw);
  const rows = new Float32Array(sh * dw * c);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < dw; x++) {
      for (let t = across.start[x]!; t < across.start[x + 1]!; t++) {
        const from = (y * sw + across.index[t]!) * c;
        const w = across.weight[t]!;
        const to = (y * dw + x) * c;
        for (let k = 0; k < c; k++) rows[to + k]! += w * source[from + k]!;
      }
    }
  }
  const down = axisTaps(sh, dh);
  const out = new Uint8Array(dh * dw * c);
  const line = dw * c;
  for (let y = 0; y < dh; y++) {
    for (let v = 0; v < line; v++) {
      let sum = 0;
      for (let t = down.start[y]!; t < down.start[y + 1]!; t++)
        sum += down.weight[t]! * rows[down.index[t]! * line + v]!;
      out[y * line + v] = Math.min(255, Math.max(0, Math.round(sum)));
    }
  }
  return out;
}
