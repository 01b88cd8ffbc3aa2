/**
 * The sizes a dataset loader accepts. Each is checked against what a file's header or structure
 * claims before the memory for it is allocated, so a small hostile file (a PNG whose header claims
 * 20000×20000 pixels, a CSV label of 100000000, a gzip bomb) is refused in milliseconds instead of
 * exhausting the worker. The README's node list states them for users.
 */
import { DistilleryError } from '../../base/errors';

/** Most classes a dataset may have (a label column or folder count above it is refused). */
export const MAX_CLASSES = 10_000;

/** Most pixels (width × height) of one PNG or JPEG image: 16 Mpixel, e.g. 4096 × 4096. */
export const MAX_IMAGE_PIXELS = 4096 * 4096;

/** Most bytes of one data file, after gunzipping, and of a split's examples in memory: 1 GiB. */
export const MAX_DATA_BYTES = 1024 * 1024 * 1024;

/**
 * Most fields of a CSV file. Parsing holds every field as a string (about 60 bytes each), so this
 * bounds the parse to about 1.3 GB however small the fields are.
 */
export const MAX_CSV_CELLS = 20_000_000;

/** Formats a byte count for messages: "1 GiB", "512 MiB", "37 bytes". */
export function formatBytes(bytes: number): string {
  const units = ['GiB', 'MiB', 'KiB'] as const;
  for (const [i, unit] of units.entries()) {
    const size = 1024 ** (units.length - i);
    if (bytes >= size) {
      const value = bytes / size;
      return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
    }
  }
  return `${bytes} bytes`;
}

/** Formats a count with thousands separators, as messages quote limits: "10,000". */
export function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}

/** DATASET_INVALID for a file whose (claimed) size is above a limit. */
export function tooLarge(file: string, what: string, limit: string, received: string): DistilleryError {
  return new DistilleryError('DATASET_INVALID', `${file}: ${what} is above the limit of ${limit}`, {
    file,
    expected: `at most ${limit}`,
    received,
  });
}
