/**
 * PNG encoding (pngjs) of single images and of sample grids. Grey images are written as 8-bit
 * greyscale PNGs (colour type 0), colour ones as 8-bit RGB, both with pngjs' default compression
 * (deflate level 9, filter chosen per row), so the encoded size of an image is a deterministic
 * function of its pixels: the compressibility rewards rely on that.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PNG } from 'pngjs';

/** Values in [0, 1] → bytes (rounded, clamped). */
export function toBytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(values[i]! * 255)));
  return out;
}

/** Encodes one HWC image of bytes (1 or 3 channels) as a PNG file's bytes. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: number): Buffer {
  if (channels !== 1 && channels !== 3)
    throw new RangeError(`PNG images need 1 or 3 channels, got ${channels}`);
  if (pixels.length !== width * height * channels) {
    throw new RangeError(
      `expected ${width * height * channels} bytes for ${width}×${height}×${channels}, got ${pixels.length}`,
    );
  }
  const colorType = channels === 1 ? 0 : 2;
  const png = new PNG({
    width,
    height,
    colorType,
    inputColorType: colorType,
    inputHasAlpha: false,
    bitDepth: 8,
  });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
}

export interface GridOptions {
  /** Images per row; 0 = about √n. */
  columns?: number;
  /** Nearest-neighbour magnification of each image (default 2). */
  scale?: number;
  /** Pixels between images (default 1, drawn mid-grey). */
  padding?: number;
}

/**
 * Lays `count` HWC images (values in [0, 1]) out in a grid; returns the grid's bytes and size.
 */
export function gridImage(
  images: ArrayLike<number>,
  count: number,
  shape: readonly [number, number, number],
  options: GridOptions = {},
): { pixels: Uint8Array; width: number; height: number; channels: number } {
  const [h, w, c] = shape;
  const scale = Math.max(1, Math.floor(options.scale ?? 2));
  const padding = Math.max(0, Math.floor(options.padding ?? 1));
  const columns = Math.max(1, Math.min(count, options.columns || Math.ceil(Math.sqrt(count))));
  const rows = Math.max(1, Math.ceil(count / columns));
  const cellW = w * scale + padding;
  const cellH = h * scale + padding;
  const width = columns * cellW + padding;
  const height = rows * cellH + padding;
  const pixels = new Uint8Array(width * height * c).fill(128);
  for (let n = 0; n < count; n++) {
    const top = padding + Math.floor(n / columns) * cellH;
    const left = padding + (n % columns) * cellW;
    for (let y = 0; y < h * scale; y++) {
      for (let x = 0; x < w * scale; x++) {
        const source = ((n * h + Math.floor(y / scale)) * w + Math.floor(x / scale)) * c;
        const target = ((top + y) * width + left + x) * c;
        for (let k = 0; k < c; k++)
          pixels[target + k] = Math.max(0, Math.min(255, Math.round(images[source + k]! * 255)));
      }
    }
  }
  return { pixels, width, height, channels: c };
}

/** Writes a grid of images (values in [0, 1]) as a PNG file; returns the path. */
export function writeSampleGrid(
  path: string,
  images: ArrayLike<number>,
  count: number,
  shape: readonly [number, number, number],
  options: GridOptions = {},
): string {
  const grid = gridImage(images, count, shape, options);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodePng(grid.pixels, grid.width, grid.height, grid.channels));
  return path;
}
