/**
 * SHA-256 in plain TypeScript, so that pure layers (fingerprints in main/pipeline) can hash
 * without Node's crypto. Planning hashes twice per task, so a 100,000-node pipeline hashes 200,000
 * times: the rounds are written in 32-bit integer arithmetic, with no allocation per block.
 */
// Int32: the rounds run in 32-bit integer arithmetic (`| 0`), where V8 keeps values unboxed.
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/** The message schedule, reused by every call: hashing is synchronous, so one is enough. */
const W = new Int32Array(64);
const ENCODER = new TextEncoder();

/** SHA-256 of `text` as UTF-8, as 64 lowercase hex digits. */
export function sha256Hex(text: string): string {
  const bytes = ENCODER.encode(text);
  const length = bytes.length;
  const padded = new Uint8Array(Math.ceil((length + 9) / 64) * 64);
  padded.set(bytes);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(length / 0x20000000));
  view.setUint32(padded.length - 4, (length * 8) >>> 0);
  let h0 = 0x6a09e667 | 0;
  let h1 = 0xbb67ae85 | 0;
  let h2 = 0x3c6ef372 | 0;
  let h3 = 0xa54ff53a | 0;
  let h4 = 0x510e527f | 0;
  let h5 = 0x9b05688c | 0;
  let h6 = 0x1f83d9ab | 0;
  let h7 = 0x5be0cd19 | 0;
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) W[i] = view.getInt32(offset + i * 4);
    for (let i = 16; i < 64; i++) {
      const x = W[i - 15]!;
      const y = W[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    let f = h5;
    let g = h6;
    let h = h7;
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + s1 + ch + K[i]! + W[i]!) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + s0 + maj) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  return (
    hexWord(h0) +
    hexWord(h1) +
    hexWord(h2) +
    hexWord(h3) +
    hexWord(h4) +
    hexWord(h5) +
    hexWord(h6) +
    hexWord(h7)
  );
}

/** Two hex digits per byte value, looked up rather than formatted. */
const HEX_BYTE = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

function hexWord(word: number): string {
  return (
    HEX_BYTE[(word >>> 24) & 0xff]! +
    HEX_BYTE[(word >>> 16) & 0xff]! +
    HEX_BYTE[(word >>> 8) & 0xff]! +
    HEX_BYTE[word & 0xff]!
  );
}

/** A container being written by {@link canonicalJson}: its entries are written one by one. */
interface Frame {
  /** The array, or the object's values with undefined ones left out, in key order. */
  values: unknown[];
  /** The object's keys, JSON-quoted, in the order of `values`; undefined for an array. */
  keys: string[] | undefined;
  next: number;
}

/** Keys JSON writes as they are, between quotes: no escaping needed. */
const PLAIN_KEY = /^[A-Za-z0-9_$.-]*$/;

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * JSON with object keys sorted at every depth, so equal values hash equally. Iterative (an explicit
 * stack of the containers being written), so no nesting depth can exhaust the call stack.
 */
export function canonicalJson(value: unknown): string {
  let out = '';
  const stack: Frame[] = [];
  /** Writes a primitive, or opens a container and returns its frame. */
  const open = (item: unknown): Frame | undefined => {
    if (Array.isArray(item)) {
      out += '[';
      return { values: item, keys: undefined, next: 0 };
    }
    if (item && typeof item === 'object') {
      out += '{';
      const record = item as Record<string, unknown>;
      const names = Object.keys(record).sort(compareKeys);
      const values: unknown[] = [];
      const keys: string[] = [];
      for (const key of names) {
        const entry = record[key];
        if (entry === undefined) continue;
        values.push(entry);
        keys.push(PLAIN_KEY.test(key) ? `"${key}"` : JSON.stringify(key));
      }
      return { values, keys, next: 0 };
    }
    out += JSON.stringify(item) ?? 'null';
    return undefined;
  };
  const root = open(value);
  if (root) stack.push(root);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.next === frame.values.length) {
      out += frame.keys ? '}' : ']';
      stack.pop();
      continue;
    }
    const index = frame.next++;
    if (index > 0) out += ',';
    if (frame.keys) out += `${frame.keys[index]!}:`;
    const child = open(frame.values[index]);
    if (child) stack.push(child);
  }
  return out;
}
