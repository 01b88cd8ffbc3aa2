/**
 * Exporters turn a model directory (worker/models/model-file.ts: TensorFlow.js layers format plus
 * `distillery.json`) into files another runtime loads. One file per format; each registers here.
 * Exporters are plain fs code, so the main process can export without loading tfjs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DistilleryError } from '../base/errors';
import { tfjsLayersExporter } from './tfjs-layers';

export interface ExportOptions {
  /** Largest weight file, for formats that shard their weights. */
  shardSizeBytes?: number;
  [option: string]: unknown;
}

export interface ExportResult {
  /** Files written, relative to the output directory, in writing order. */
  files: string[];
}

export interface Exporter {
  /** Stable name used by the CLI, the API and the export node (`tfjs`, `onnx`, …). */
  format: string;
  title: string;
  export(modelDir: string, outDir: string, options?: ExportOptions): Promise<ExportResult>;
}

let registry: Map<string, Exporter> | undefined;

// Built on first use: exporter files import helpers from this one, so a registry filled while
// this module is first evaluated would see them still uninitialised.
function exporters(): Map<string, Exporter> {
  if (!registry) {
    registry = new Map();
    registerExporter(tfjsLayersExporter);
  }
  return registry;
}

/** Adds an exporter; a second one for the same format is refused. */
export function registerExporter(exporter: Exporter): void {
  const map = registry ?? exporters();
  if (map.has(exporter.format))
    throw new Error(`Exporter for format "${exporter.format}" is already registered`);
  map.set(exporter.format, exporter);
}

export function listExporters(): Array<Pick<Exporter, 'format' | 'title'>> {
  return [...exporters().values()].map(({ format, title }) => ({ format, title }));
}

export function getExporter(format: string): Exporter {
  const exporter = exporters().get(format);
  if (!exporter) {
    const known = [...exporters().keys()];
    throw new DistilleryError(
      'EXPORT_FORMAT_UNKNOWN',
      `Unknown export format ${JSON.stringify(format)}; known formats: ${known.join(', ')}`,
      { param: 'format', expected: known.join(' | '), received: format },
    );
  }
  return exporter;
}

let cachedVersion: string | undefined;

/**
 * The product version from the package.json named `distillery`, found by walking up from this
 * file: works from the sources (tsx, vitest) and from a bundle placed anywhere below the app root.
 */
export function productVersion(): string {
  if (cachedVersion) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  const root = parse(dir).root;
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      try {
        const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'distillery' && typeof pkg.version === 'string') {
          cachedVersion = pkg.version;
          return pkg.version;
        }
      } catch {
        // Not ours or unreadable: keep walking up.
      }
    }
    if (dir === root) break;
    dir = dirname(dir);
  }
  cachedVersion = '0.0.0-unknown';
  return cachedVersion;
}

/** What exported files name as their producer, e.g. `Distillery 0.1.0`. */
export function producerName(): string {
  return `Distillery ${productVersion()}`;
}
