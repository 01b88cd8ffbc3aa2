/**
 * ONNX's own schema (`resources/onnx/onnx.proto`, vendored unchanged under Apache-2.0) loaded with
 * protobufjs at run time, so the .proto stays the single source of the wire format. Found by
 * walking up from this file: `resources/onnx/` of the source tree (tsx, vitest, `out/main` of a
 * development build), or `onnx/` in a packaged app's resources folder, where electron-builder's
 * `extraResources` puts it (also tried first via Electron's `process.resourcesPath`).
 */
import { existsSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** TensorProto.DataType values this exporter writes or reads. */
export const ONNX_DTYPE = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7 } as const;
/** AttributeProto.AttributeType values. */
export const ONNX_ATTRIBUTE = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

/** Where the schema lies relative to the repository root and to a packaged app's resources. */
const SOURCE_PATH = join('resources', 'onnx', 'onnx.proto');
const PACKAGED_PATH = join('onnx', 'onnx.proto');

let cachedType: protobuf.Type | undefined;

/** Candidate locations of onnx.proto, most specific first. */
function candidatePaths(): string[] {
  const candidates: string[] = [];
  // Electron sets resourcesPath in the main process and in processes it forks as Node.
  const resourcesPath = (process as NodeJS.Process & { resourcesPath?: string }).resourcesPath;
  if (resourcesPath) candidates.push(join(resourcesPath, PACKAGED_PATH));
  let dir = dirname(fileURLToPath(import.meta.url));
  const root = parse(dir).root;
  for (;;) {
    candidates.push(join(dir, SOURCE_PATH), join(dir, PACKAGED_PATH));
    if (dir === root) break;
    dir = dirname(dir);
  }
  return candidates;
}

/** The path of the vendored onnx.proto; throws naming every place looked at when it is missing. */
export function onnxProtoPath(): string {
  const candidates = candidatePaths();
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new Error(`ONNX schema onnx.proto not found; looked in: ${candidates.join(', ')}`);
  }
  return found;
}

/** `onnx.ModelProto` from the vendored schema (loaded once). */
export function modelProtoType(): protobuf.Type {
  if (!cachedType) cachedType = protobuf.loadSync(onnxProtoPath()).lookupType('onnx.ModelProto');
  return cachedType;
}

/** Encodes a ModelProto given as a plain object (protobufjs camelCase field names). */
export function encodeModelProto(model: Record<string, unknown>): Uint8Array {
  const type = modelProtoType();
  const problem = type.verify(model);
  if (problem) throw new Error(`Invalid ONNX ModelProto: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/** Decodes model.onnx bytes to a plain object (int64 as numbers, bytes as Buffers). */
export function decodeModelProto(bytes: Uint8Array): Record<string, unknown> {
  const type = modelProtoType();
  return type.toObject(type.decode(bytes), { longs: Number, bytes: Buffer, defaults: false });
}
