/**
 * PNG and JPEG decoding to RGBA pixels. Each file's header is walked first, so that a damaged
 * file is reported in its format's terms and an oversized one is refused before it is decoded.
 */
import * as zlib from 'node:zlib';
import { decode as decodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { DistilleryError, errors } from '../../base/errors';
import { readDataFile } from './idx';
import { formatCount, MAX_IMAGE_PIXELS, tooLarge } from './limits';

/** Decoded pixels, always 4 bytes (RGBA) per pixel. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

type ImageType = 'PNG' | 'JPEG';

/** DATASET_INVALID for a file that claims to be a PNG or JPEG but is not a valid one. */
function notValid(path: string, type: ImageType, reason: string, cause?: unknown): DistilleryError {
  return new DistilleryError(
    'DATASET_INVALID',
    `${path}: not a valid ${type} (${reason})`,
    { file: path, expected: `a valid ${type} image`, received: reason },
    cause === undefined ? undefined : { cause },
  );
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let crcTable: Uint32Array | undefined;

/** The CRC-32 that PNG chunks carry (ISO 3309, as in zlib), in JS where Node lacks zlib.crc32 (< 20.15). */
function crc32(bytes: Uint8Array): number {
  // A namespace lookup, not a named import: a missing named export of a built-in fails to link.
  if (typeof zlib.crc32 === 'function') return zlib.crc32(bytes);
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Channels per PNG colour type (grey, RGB, palette, grey + alpha, RGBA). */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

interface PngHeader {
  width: number;
  height: number;
  interlaced: boolean;
  bitsPerPixel: number;
  /** The IDAT chunks' data, in order. */
  data: Buffer[];
}

/**
 * Walks a PNG's chunks (length, type, data, CRC) up to IEND and returns what the IHDR says, so that
 * truncation and corruption are reported in PNG terms and the size can be checked before decoding.
 */
function pngHeader(path: string, bytes: Buffer): PngHeader {
  if (bytes.length < 8 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE)) {
    throw notValid(path, 'PNG', 'the 8-byte PNG signature is damaged');
  }
  let size: PngHeader | undefined;
  for (let offset = 8; ;) {
    if (offset + 8 > bytes.length) {
      throw notValid(path, 'PNG', `truncated: the file ends at byte ${bytes.length} without an IEND chunk`);
    }
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const end = offset + 12 + length;
    if (end > bytes.length) {
      throw notValid(
        path,
        'PNG',
        `truncated: chunk ${JSON.stringify(type)} at byte ${offset} needs ${length + 12} bytes, the file has ${bytes.length - offset} left`,
      );
    }
    if (crc32(bytes.subarray(offset + 4, end - 4)) !== bytes.readUInt32BE(end - 4)) {
      throw notValid(path, 'PNG', `chunk ${JSON.stringify(type)} at byte ${offset} fails its CRC check`);
    }
    if (size === undefined) {
      if (type !== 'IHDR' || length !== 13) {
        throw notValid(path, 'PNG', `the first chunk is ${JSON.stringify(type)}, not a 13-byte IHDR`);
      }
      size = {
        width: bytes.readUInt32BE(offset + 8),
        height: bytes.readUInt32BE(offset + 12),
        bitsPerPixel: bytes[offset + 16]! * (PNG_CHANNELS[bytes[offset + 17]!] ?? 4),
        interlaced: bytes[offset + 20] === 1,
        data: [],
      };
      if (size.width === 0 || size.height === 0) {
        throw notValid(path, 'PNG', `the IHDR gives ${size.width}×${size.height} pixels`);
      }
    }
    if (type === 'IDAT') size.data.push(bytes.subarray(offset + 8, end - 4));
    if (type === 'IEND') return size;
    offset = end;
  }
}

/**
 * pngjs inflates an interlaced image's data without a bound (a non-interlaced one is bounded by
 * its size), so a tiny interlaced PNG could inflate to gigabytes: it is inflated here first, up to
 * twice the non-interlaced size (the seven Adam7 passes hold less than that), and refused beyond.
 */
function checkInterlacedData(path: string, header: PngHeader): void {
  if (!header.interlaced) return;
  const rowBytes = Math.ceil((header.width * header.bitsPerPixel) / 8) + 1;
  const bound = 2 * rowBytes * header.height + 64;
  try {
    zlib.inflateSync(Buffer.concat(header.data), { maxOutputLength: bound });
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE'
        ? `the interlaced image data inflates to more than the ${bound} bytes a ${header.width}×${header.height} image needs`
        : `the image data does not inflate (${(error as Error).message})`;
    throw notValid(path, 'PNG', reason, error);
  }
}

/** SOFn markers (frame headers, which hold the size), i.e. 0xC0..0xCF but DHT, JPG and DAC. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** Walks a JPEG's marker segments up to the frame header and returns its size. */
function jpegSize(path: string, bytes: Buffer): { width: number; height: number } {
  let offset = 2;
  while (offset + 2 <= bytes.length) {
    if (bytes[offset] !== 0xff) {
      throw notValid(
        path,
        'JPEG',
        `expected a marker at byte ${offset}, got 0x${bytes[offset]!.toString(16)}`,
      );
    }
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      offset += 2; // markers without a segment
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) {
      throw notValid(path, 'JPEG', `no frame header (SOF) before byte ${offset}`);
    }
    if (offset + 4 > bytes.length) break;
    const length = bytes.readUInt16BE(offset + 2);
    if (length < 2 || offset + 2 + length > bytes.length) {
      throw notValid(
        path,
        'JPEG',
        `truncated: the segment at byte ${offset} needs ${length + 2} bytes, the file has ${bytes.length - offset} left`,
      );
    }
    if (isStartOfFrame(marker)) {
      if (length < 8)
        throw notValid(path, 'JPEG', `the frame header at byte ${offset} is ${length} bytes long`);
      const height = bytes.readUInt16BE(offset + 5);
      const width = bytes.readUInt16BE(offset + 7);
      if (width === 0 || height === 0) {
        throw notValid(path, 'JPEG', `the frame header gives ${width}×${height} pixels`);
      }
      return { width, height };
    }
    offset += 2 + length;
  }
  throw notValid(
    path,
    'JPEG',
    `truncated: the file ends at byte ${bytes.length} before a frame header (SOF)`,
  );
}

/** Refuses an image whose header claims more than MAX_IMAGE_PIXELS, before anything is decoded. */
function checkImageSize(path: string, type: ImageType, size: { width: number; height: number }): void {
  const pixels = size.width * size.height;
  if (pixels > MAX_IMAGE_PIXELS) {
    throw tooLarge(
      path,
      `the ${type} size ${size.width}×${size.height} (${formatCount(pixels)} pixels)`,
      `${formatCount(MAX_IMAGE_PIXELS)} pixels (4096×4096)`,
      `${size.width}×${size.height}`,
    );
  }
}

/**
 * Decodes a PNG or JPEG file (chosen by its signature, not its name) to RGBA. The header is read
 * first: an image above MAX_IMAGE_PIXELS is refused before its pixels are allocated, and a
 * damaged file is reported as "not a valid PNG/JPEG (reason)" naming the file.
 */
export function decodeImage(path: string): RgbaImage {
  const bytes = readDataFile(path);
  const isPng = bytes.length >= 4 && bytes.readUInt32BE(0) === 0x89504e47;
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!isPng && !isJpeg) {
    throw errors.datasetInvalid(path, 'a PNG or JPEG image', 'an unknown file signature');
  }
  const type: ImageType = isPng ? 'PNG' : 'JPEG';
  const png = isPng ? pngHeader(path, bytes) : undefined;
  const size = png ?? jpegSize(path, bytes);
  checkImageSize(path, type, size);
  if (png) checkInterlacedData(path, png);
  let image: RgbaImage;
  try {
    if (isPng) {
      const png = PNG.sync.read(bytes);
      image = { width: png.width, height: png.height, data: png.data };
    } else {
      const jpeg = decodeJpeg(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      });
      image = { width: jpeg.width, height: jpeg.height, data: jpeg.data };
    }
  } catch (error) {
    throw notValid(path, type, error instanceof Error ? error.message : String(error), error);
  }
  if (
    image.width !== size.width ||
    image.height !== size.height ||
    image.data.length < size.width * size.height * 4
  ) {
    throw notValid(
      path,
      type,
      `decoded ${image.width}×${image.height} pixels, the header says ${size.width}×${size.height}`,
    );
  }
  return image;
}
