/**
 * What an export says about the model it holds, and reading that back from a folder, so that an
 * export never silently replaces a different model (out-dir.ts decides). Every export records its
 * model's identity: the registry version id when the model is a registered version, and a content
 * hash that does not depend on how the files are laid out (the tfjs export's shards, the ONNX
 * encoding): sha256 over the topology, the weight specs and the weight bytes.
 *
 * - tfjs: `distillery.json` beside model.json carries `export: ExportRecord`. An export written
 *   before records existed is still recognised: its model.json and shards are hashed the same way.
 * - ONNX: `model.onnx` carries the record as the `export` metadata prop (JSON).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExportFormat } from '../nodes/export';
import { decodeModelProto } from './onnx-proto';

/** Which model an export holds. */
export interface ModelIdentity {
  /** Registry version id, when the model is a registered version. */
  versionId: string | null;
  /** `sha256:<hex>` of the topology, weight specs and weight bytes (modelContentHash). */
  contentHash: string;
  /** "mnist-mlp/fit v2" when the exporter knows it; for messages only. */
  label: string | null;
}

/** The record an export carries (distillery.json `export`, the ONNX `export` metadata prop). */
export interface ExportRecord extends ModelIdentity {
  format: ExportFormat;
}

/** An export found in a folder: its format and, when it could be read, its model. */
export interface HeldExport {
  format: ExportFormat;
  /** The file that holds it (relative to the folder). */
  file: string;
  identity: ModelIdentity | null;
}

/** What a folder holds, for the overwrite rule. */
export interface FolderContents {
  /** Entries of the folder (files and sub-folders), sorted. */
  entries: string[];
  exports: HeldExport[];
}

const MODEL_JSON = 'model.json';
const MODEL_META = 'distillery.json';
const ONNX_FILE = 'model.onnx';

interface ManifestGroup {
  paths?: unknown;
  weights?: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * sha256 of a layers-format model: its topology, its weight specs (name, shape, dtype,
 * quantization; not the shard paths) and its weight bytes in manifest order. The same for a model
 * directory and for its tfjs export however the export is sharded. Undefined when the directory
 * holds no readable layers model.
 */
export async function modelContentHash(dir: string): Promise<string | undefined> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(json) || !Array.isArray(json.weightsManifest)) return undefined;
  const hash = createHash('sha256');
  hash.update(JSON.stringify(json.modelTopology ?? null));
  hash.update('\n');
  const specs: unknown[] = [];
  const files: string[] = [];
  for (const group of json.weightsManifest as ManifestGroup[]) {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) return undefined;
    specs.push(...(group.weights as unknown[]));
    files.push(...(group.paths as string[]));
  }
  hash.update(JSON.stringify(specs));
  hash.update('\n');
  for (const file of files) {
    try {
      hash.update(await readFile(join(dir, file)));
    } catch {
      return undefined;
    }
  }
  return `sha256:${hash.digest('hex')}`;
}

/** The identity of the model in `modelDir`, as an exporter records it. */
export async function identityOf(
  modelDir: string,
  known: { versionId?: string | undefined; label?: string | undefined },
): Promise<ModelIdentity> {
  const contentHash = await modelContentHash(modelDir);
  return {
    versionId: known.versionId ?? null,
    // A model directory an exporter has just read is always hashable; '' never matches another.
    contentHash: contentHash ?? '',
    label: known.label ?? null,
  };
}

function identityFromRecord(value: unknown): ModelIdentity | null {
  if (!isRecord(value) || typeof value.contentHash !== 'string') return null;
  return {
    versionId: typeof value.versionId === 'string' ? value.versionId : null,
    contentHash: value.contentHash,
    label: typeof value.label === 'string' ? value.label : null,
  };
}

async function tfjsExportIn(dir: string, entries: string[]): Promise<HeldExport | undefined> {
  if (!entries.includes(MODEL_JSON)) return undefined;
  if (entries.includes(MODEL_META)) {
    try {
      const meta: unknown = JSON.parse(await readFile(join(dir, MODEL_META), 'utf8'));
      const identity = identityFromRecord(isRecord(meta) ? meta.export : undefined);
      if (identity) return { format: 'tfjs', file: MODEL_JSON, identity };
    } catch {
      // An unreadable distillery.json: fall back on the model files themselves.
    }
  }
  const contentHash = await modelContentHash(dir);
  return {
    format: 'tfjs',
    file: MODEL_JSON,
    identity: contentHash ? { versionId: null, contentHash, label: null } : null,
  };
}

async function onnxExportIn(dir: string, entries: string[]): Promise<HeldExport | undefined> {
  if (!entries.includes(ONNX_FILE)) return undefined;
  try {
    const decoded = decodeModelProto(await readFile(join(dir, ONNX_FILE))) as {
      metadataProps?: Array<{ key?: string; value?: string }>;
    };
    const prop = decoded.metadataProps?.find((entry) => entry.key === 'export');
    const identity = prop?.value ? identityFromRecord(JSON.parse(prop.value)) : null;
    return { format: 'onnx', file: ONNX_FILE, identity };
  } catch {
    return { format: 'onnx', file: ONNX_FILE, identity: null };
  }
}

/** The entries of `dir` and the exports among them; a missing folder holds nothing. */
export async function readFolderContents(dir: string): Promise<FolderContents> {
  let entries: string[];
  try {
    entries = (await readdir(dir)).sort();
  } catch {
    return { entries: [], exports: [] };
  }
  const exports: HeldExport[] = [];
  for (const held of [await tfjsExportIn(dir, entries), await onnxExportIn(dir, entries)]) {
    if (held) exports.push(held);
  }
  return { entries, exports };
}

/** Whether two identities name the same model: the same version id, or the same content. */
export function sameModel(a: ModelIdentity, b: ModelIdentity): boolean {
  if (a.versionId !== null && a.versionId === b.versionId) return true;
  return a.contentHash !== '' && a.contentHash === b.contentHash;
}

/** "mnist-mlp/fit v2 (mv_abc123)", "version mv_abc123" or "content sha256:1a2b3c4d…". */
export function describeIdentity(identity: ModelIdentity): string {
  const hash = identity.contentHash ? `content ${identity.contentHash.slice(0, 15)}…` : 'unknown content';
  if (identity.label && identity.versionId) return `${identity.label} (${identity.versionId})`;
  if (identity.label) return `${identity.label} (${hash})`;
  if (identity.versionId) return `version ${identity.versionId}`;
  return hash;
}
