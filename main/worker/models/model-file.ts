/**
 * Models travel between tasks, and into the registry, as TensorFlow.js layers-format directories:
 * `model.json` (topology + weights manifest) and `weights.bin`, plus `distillery.json` with what
 * downstream ops need to know without loading the graph.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';

/** Directory, inside a task directory, that a task's output model is saved to. */
export const MODEL_DIR = 'model';
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const MODEL_META = 'distillery.json';

/** What downstream ops and the registry need to know about a model. */
export interface ModelMeta {
  format: 1;
  /** Port type the model travels on. */
  kind: 'classifier' | 'diffusion';
  /** Architecture name (`mlp`, `cnn`, …) and the params that built it. */
  architecture: string;
  architectureParams: Record<string, unknown>;
  inputShape: number[];
  numClasses: number;
  classNames: string[];
  /** Whether the model was trained (false for a freshly initialised model node). */
  trained: boolean;
  [key: string]: unknown;
}

export interface ModelFileOptions {
  generatedBy?: string;
  convertedBy?: string | null;
}

/** An IOHandler that writes the layers format to a directory with plain fs. */
export function directorySaveHandler(dir: string, options: ModelFileOptions = {}): tf.io.IOHandler {
  return {
    save: async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      mkdirSync(dir, { recursive: true });
      const weightData = artifacts.weightData
        ? tf.io.CompositeArrayBuffer.join(artifacts.weightData)
        : new ArrayBuffer(0);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? 'layers-model',
        generatedBy: options.generatedBy ?? artifacts.generatedBy ?? 'distillery',
        convertedBy: options.convertedBy ?? artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      writeFileSync(join(dir, WEIGHTS_BIN), Buffer.from(weightData));
      writeFileSync(join(dir, MODEL_JSON), JSON.stringify(modelJson));
      return {
        modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts),
      };
    },
  };
}

/** An IOHandler that reads a layers-format directory written by any tfjs writer. */
export function directoryLoadHandler(dir: string): tf.io.IOHandler {
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const jsonPath = join(dir, MODEL_JSON);
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(readFileSync(jsonPath, 'utf8')) as tf.io.ModelJSON;
      } catch (error) {
        throw new DistilleryError('MODEL_INVALID', `Cannot read ${jsonPath}: ${(error as Error).message}`, {
          file: jsonPath,
        });
      }
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          for (const path of group.paths) {
            const bytes = readFileSync(join(dir, path));
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
          }
          specs.push(...group.weights);
        }
        return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
      });
    },
  };
}

export function readModelMeta(dir: string): ModelMeta {
  const path = join(dir, MODEL_META);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ModelMeta;
  } catch (error) {
    throw new DistilleryError('MODEL_INVALID', `Cannot read ${path}: ${(error as Error).message}`, {
      file: path,
    });
  }
}

/** Saves a model with its meta; returns the directory. */
export async function saveModel(model: tf.LayersModel, dir: string, meta: ModelMeta): Promise<string> {
  await model.save(directorySaveHandler(dir));
  writeFileSync(join(dir, MODEL_META), JSON.stringify(meta, null, 2));
  return dir;
}

export async function loadModel(dir: string): Promise<{ model: tf.LayersModel; meta: ModelMeta }> {
  const meta = readModelMeta(dir);
  const model = await tf.loadLayersModel(directoryLoadHandler(dir));
  return { model, meta };
}
