/** What every exporter (one file per format, registered in exporter.ts) implements. */
import type { ExportFormat } from '../nodes/export';

export interface ExportOptions {
  /** Largest weight file, for formats that shard their weights. */
  shardSizeBytes?: number;
  /** Where the model came from, in words (lineage-summary.ts); formats with a description field record it. */
  lineage?: string;
  [option: string]: unknown;
}

export interface ExportResult {
  /** Files written, relative to the output directory, in writing order. */
  files: string[];
}

export interface Exporter {
  /** Stable name used by the CLI, the API and the export node (`tfjs`, `onnx`, …). */
  format: ExportFormat;
  title: string;
  /** Writes the model directory `modelDir` (worker/models/model-file.ts) into `outDir`. */
  export(modelDir: string, outDir: string, options?: ExportOptions): Promise<ExportResult>;
}
