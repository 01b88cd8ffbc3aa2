/**
 * The sample gallery (`pipelines.samples`): every `*.distillery.json` in resources/pipelines/, in
 * the order of resources/pipelines/index.json, each with the title, the measured run time and the
 * Debian packages the index gives it (samples the index does not list come last, by name). The
 * index is data, not code, so a sample's figures change with the file that holds them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { PipelineDoc, SampleEntry } from '../../preload/contract';
import { PIPELINE_FILE_SUFFIX } from '../pipeline/pipeline-file';

/** The gallery's order and figures. */
export const SAMPLE_INDEX = 'index.json';

interface IndexEntry {
  file: string;
  title?: string;
  expectedSeconds?: number | null;
  requires?: Array<{ debian: string; path: string }>;
}

function readIndex(dir: string): IndexEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(join(dir, SAMPLE_INDEX), 'utf8'));
  } catch {
    // Without an index the samples are listed by name, untitled and untimed.
    return [];
  }
  const samples = (value as { samples?: unknown } | null)?.samples;
  if (!Array.isArray(samples)) return [];
  return samples.filter(
    (entry): entry is IndexEntry =>
      typeof entry === 'object' && entry !== null && typeof (entry as IndexEntry).file === 'string',
  );
}

/** The samples of `dir` in gallery order; `read` loads and validates one pipeline file. */
export function listSampleFiles(dir: string, read: (path: string) => PipelineDoc): SampleEntry[] {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((file) => file.endsWith(PIPELINE_FILE_SUFFIX))
      .sort();
  } catch {
    return [];
  }
  const index = readIndex(dir);
  const rank = (file: string) => {
    const at = index.findIndex((entry) => entry.file === file);
    return at < 0 ? index.length : at;
  };
  files.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return files.map((file) => {
    const path = join(dir, file);
    const name = basename(file, PIPELINE_FILE_SUFFIX);
    const entry = index.find((candidate) => candidate.file === file);
    const seconds = entry?.expectedSeconds;
    return {
      name,
      file: path,
      doc: read(path),
      title: entry?.title ?? name,
      expectedSeconds: typeof seconds === 'number' && Number.isFinite(seconds) ? seconds : null,
      requires: (entry?.requires ?? []).map((need) => ({
        debian: need.debian,
        installed: existsSync(need.path),
      })),
    };
  });
}
