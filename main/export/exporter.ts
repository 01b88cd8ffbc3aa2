/**
 * Exporters turn a model directory (worker/models/model-file.ts: TensorFlow.js layers format plus
 * `distillery.json`) into files another runtime loads. One file per format; each registers here.
 * Exporters are plain fs code, so the main process can export without loading tfjs.
 */
import { DistilleryError } from '../base/errors';
import { onnxExporter } from './onnx';
import { tfjsLayersExporter } from './tfjs-layers';
import type { Exporter } from './types';

const registry = new Map<string, Exporter>();

/** Adds an exporter; a second one for the same format is refused. */
export function registerExporter(exporter: Exporter): void {
  if (registry.has(exporter.format))
    throw new Error(`Exporter for format "${exporter.format}" is already registered`);
  registry.set(exporter.format, exporter);
}

registerExporter(tfjsLayersExporter);
registerExporter(onnxExporter);

/** Every registered format with its title, in registration order (system.info, the Export dialog). */
export function listExporters(): Array<Pick<Exporter, 'format' | 'title'>> {
  return [...registry.values()].map(({ format, title }) => ({ format, title }));
}

/** The exporter of `format`; EXPORT_FORMAT_UNKNOWN listing the known formats otherwise. */
export function getExporter(format: string): Exporter {
  const exporter = registry.get(format);
  if (!exporter) {
    const known = [...registry.keys()];
    throw new DistilleryError(
      'EXPORT_FORMAT_UNKNOWN',
      `Unknown export format ${JSON.stringify(format)}; known formats: ${known.join(', ')}`,
      { param: 'format', expected: known.join(' | '), received: format },
    );
  }
  return exporter;
}
