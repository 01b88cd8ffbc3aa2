/** What every exporter (one file per format, registered in exporter.ts) implements. */
import type { ExportFormat } from '../nodes/export';

export interface ExportOptions {
  /** Largest weight file, for formats that shard their weights. */
  shardSizeBytes?: number;
  /** Where the model came from, in words (lineage-summary.ts); formats with a description field record it. */
  lineage?: string;
  /** Registry version id of the model, when it is a registered version (recorded in the export). */
  versionId?: string;
  /** The model in words ("mnist-mlp/fit v2"), recorded in the export and named in refusals. */
  modelLabel?: string;
  /** Replace what the output folder holds even when it is not an export of this model. */
  force?: boolean;
  /** How the caller's user forces the export ("--force"), for the refusal's message (out-dir.ts). */
  forceHint?: string;
  [option: string]: unknown;
}

export interface ExportResult {
  /** Files written, relative to the output directory, in writing order. */
  files: string[];
}

/** Force hint when the caller names none. */
export const DEFAULT_FORCE_HINT = 'force the export';

export interface Exporter {
  /** Stable name used by the CLI, the API and the export node (`tfjs`, `onnx`, …). */
  format: ExportFormat;
  title: string;
  /** Writes the model directory `modelDir` (worker/models/model-file.ts) into `outDir`. */
  export(modelDir: string, outDir: string, options?: ExportOptions): Promise<ExportResult>;
}
