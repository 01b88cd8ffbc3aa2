/**
 * Architectures by name. A model node's op looks its architecture up here, so a new one (unet-lite,
 * …) plugs in by registering; names are declared once and a duplicate is refused loudly.
 */
import type * as tf from '@tensorflow/tfjs';
import { DistilleryError } from '../../base/errors';
import { buildCnn, parseCnnParams } from './cnn';
import { buildMlp, parseMlpParams } from './mlp';
import { buildUnet, parseUnetParams } from '../diffusion/unet';

/** What every architecture is built from besides its own params. */
export interface ArchitectureInput {
  inputShape: number[];
  numClasses: number;
  seed: number;
}

export interface Architecture<P extends object = object> {
  /** Stable name, recorded in model meta (`architecture`). */
  name: string;
  title: string;
  /** Whether the architecture needs image inputs ([h, w, c]). */
  imageOnly: boolean;
  /** Validates params and fills in defaults; errors carry `param`, `expected`, `received`. */
  parseParams(params: Record<string, unknown>): P;
  build(input: ArchitectureInput, params: P): tf.LayersModel;
}

/** Refuses duplicate names; lookups of unknown names list the known ones. */
export class ArchitectureRegistry {
  private readonly byName = new Map<string, Architecture>();

  register<P extends object>(architecture: Architecture<P>): void {
    if (this.byName.has(architecture.name)) {
      throw new Error(`Architecture "${architecture.name}" is already registered`);
    }
    this.byName.set(architecture.name, architecture);
  }

  get(name: string): Architecture {
    const architecture = this.byName.get(name);
    if (!architecture) {
      throw new DistilleryError('PARAM_INVALID_CHOICE', `Unknown architecture "${name}"`, {
        param: 'architecture',
        expected: this.names().join(' | '),
        received: name,
      });
    }
    return architecture;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }
}

export const mlpArchitecture: Architecture<ReturnType<typeof parseMlpParams>> = {
  name: 'mlp',
  title: 'Multi-layer perceptron',
  imageOnly: false,
  parseParams: parseMlpParams,
  build: (input, params) => buildMlp({ ...input, ...params }),
};

export const cnnArchitecture: Architecture<ReturnType<typeof parseCnnParams>> = {
  name: 'cnn',
  title: 'Convolutional network (LeNet-5 style)',
  imageOnly: true,
  parseParams: parseCnnParams,
  build: (input, params) => buildCnn({ ...input, ...params }),
};

/**
 * The denoising U-Net of diffusion models (diffusion/unet.ts). `numClasses` is the number of
 * conditioning classes (0 = unconditional); `imageSize` 0 takes the input's height.
 */
export const unetArchitecture: Architecture<ReturnType<typeof parseUnetParams>> = {
  name: 'unet',
  title: 'U-Net (denoising diffusion)',
  imageOnly: true,
  parseParams: parseUnetParams,
  build: (input, params) =>
    buildUnet({
      ...params,
      imageSize: params.imageSize || input.inputShape[0]!,
      channels: input.inputShape[2] ?? 1,
      numClasses: input.numClasses,
      seed: input.seed,
    }),
};

/** The worker's registry, holding every built-in architecture. */
export const architectures = new ArchitectureRegistry();
architectures.register(mlpArchitecture);
architectures.register(cnnArchitecture);
architectures.register(unetArchitecture);
