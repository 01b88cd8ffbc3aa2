/**
 * Draws the Distillery icon (a drop over a gradient tile) and writes the PNG sizes, an .ico and an
 * .icns that embed PNGs. Run with `npx tsx resources/icons/generate.ts`; the outputs are committed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';

const here = fileURLToPath(new URL('.', import.meta.url));

function draw(size: number): Buffer {
  const png = new PNG({ width: size, height: size });
  const radius = size * 0.22;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      // Rounded tile.
      const dx = Math.max(radius - x, 0, x - (size - 1 - radius));
      const dy = Math.max(radius - y, 0, y - (size - 1 - radius));
      const outside = Math.hypot(dx, dy) - radius;
      const tileAlpha = Math.max(0, Math.min(1, 0.5 - outside));
      const t = (x + y) / (2 * size);
      let r = 108 * (1 - t) + 35 * t;
      let g = 77 * (1 - t) + 166 * t;
      let b = 230 * (1 - t) + 213 * t;
      // Drop: a circle below joined to a point above.
      const u = (x - size / 2) / size;
      const v = (y - size * 0.58) / size;
      const circle = Math.hypot(u, v) - 0.2;
      const cone = v < 0 ? Math.abs(u) - (0.2 * (v + 0.38)) / 0.38 : 1;
      const inDrop = Math.min(circle, v > -0.38 ? cone : 1);
      const dropAlpha = Math.max(0, Math.min(1, 0.5 - inDrop * size));
      r = r * (1 - dropAlpha) + 255 * dropAlpha;
      g = g * (1 - dropAlpha) + 255 * dropAlpha;
      b = b * (1 - dropAlpha) + 255 * dropAlpha;
      png.data[i] = Math.round(r);
      png.data[i + 1] = Math.round(g);
      png.data[i + 2] = Math.round(b);
      png.data[i + 3] = Math.round(255 * tileAlpha);
    }
  }
  return PNG.sync.write(png);
}

const sizes = [16, 32, 48, 64, 128, 256, 512, 1024];
const pngs = new Map(sizes.map((size) => [size, draw(size)]));
for (const size of [16, 32, 48, 64, 128, 256, 512])
  writeFileSync(join(here, `${size}x${size}.png`), pngs.get(size)!);

// ICO with embedded PNGs (Windows Vista+).
const icoSizes = [16, 32, 48, 256];
const header = Buffer.alloc(6 + 16 * icoSizes.length);
header.writeUInt16LE(0, 0);
header.writeUInt16LE(1, 2);
header.writeUInt16LE(icoSizes.length, 4);
let offset = header.length;
icoSizes.forEach((size, index) => {
  const data = pngs.get(size)!;
  const entry = 6 + index * 16;
  header.writeUInt8(size === 256 ? 0 : size, entry);
  header.writeUInt8(size === 256 ? 0 : size, entry + 1);
  header.writeUInt16LE(1, entry + 4);
  header.writeUInt16LE(32, entry + 6);
  header.writeUInt32LE(data.length, entry + 8);
  header.writeUInt32LE(offset, entry + 12);
  offset += data.length;
});
writeFileSync(join(here, 'icon.ico'), Buffer.concat([header, ...icoSizes.map((s) => pngs.get(s)!)]));

// ICNS with PNG entries.
const icnsTypes: Array<[string, number]> = [
  ['ic07', 128],
  ['ic08', 256],
  ['ic09', 512],
  ['ic10', 1024],
];
const chunks = icnsTypes.map(([type, size]) => {
  const data = pngs.get(size)!;
  const chunk = Buffer.alloc(8);
  chunk.write(type, 0, 'ascii');
  chunk.writeUInt32BE(data.length + 8, 4);
  return Buffer.concat([chunk, data]);
});
const icnsHeader = Buffer.alloc(8);
icnsHeader.write('icns', 0, 'ascii');
icnsHeader.writeUInt32BE(8 + chunks.reduce((n, c) => n + c.length, 0), 4);
writeFileSync(join(here, 'icon.icns'), Buffer.concat([icnsHeader, ...chunks]));
