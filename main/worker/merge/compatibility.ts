/**
 * Weights can only be merged between models of one architecture: the same layers, in the same
 * order, with the same weight shapes. The check compares every model with the first and names the
 * first layer or weight that differs, and where (which input, which link).
 */
import { DistilleryError } from '../../base/errors';

/** What the check compares of one layer. */
export interface LayerSignature {
  name: string;
  className: string;
  /** The layer's activation, when it has one (a relu and a tanh layer do not merge). */
  activation?: string;
}

/** One weight: its name (`hidden_1/kernel`) and shape. */
export interface WeightSignature {
  name: string;
  shape: readonly number[];
}

export interface ArchitectureSignature {
  /** Where the model came from, as messages name it: `models[2]`, `base`, `checkpoints[4]`. */
  label: string;
  /** The input port (for the error's details). */
  port: string;
  layers: readonly LayerSignature[];
  weights: readonly WeightSignature[];
}

const describeLayer = (layer: LayerSignature | undefined): string =>
  layer ? `${layer.className}${layer.activation ? ` (${layer.activation})` : ''}` : 'no layer';
const describeShape = (shape: readonly number[] | undefined): string =>
  shape ? `[${shape.join(', ')}]` : 'no weight';

/**
 * Throws INCOMPATIBLE_INPUTS naming the first layer (position, name, type) or weight (name, shape)
 * in which a model differs from the first one.
 */
export function checkSameArchitecture(nodeId: string, models: readonly ArchitectureSignature[]): void {
  const reference = models[0];
  if (!reference) return;
  for (const model of models.slice(1)) {
    const fail = (
      what: string,
      expected: string,
      received: string,
      place: Record<string, unknown>,
    ): never => {
      throw new DistilleryError(
        'INCOMPATIBLE_INPUTS',
        `Node "${nodeId}": ${model.label} has a different architecture from ${reference.label}: ${what}`,
        {
          nodeId,
          port: model.port,
          expected,
          received,
          model: model.label,
          reference: reference.label,
          ...place,
        },
      );
    };
    const layerCount = Math.max(reference.layers.length, model.layers.length);
    for (let i = 0; i < layerCount; i++) {
      const want = reference.layers[i];
      const got = model.layers[i];
      if (want?.className !== got?.className || want?.activation !== got?.activation) {
        const name = want?.name ?? got!.name;
        fail(
          `layer ${i + 1} ("${name}") is ${describeLayer(got)} in ${model.label}, ${describeLayer(want)} in ${reference.label}`,
          describeLayer(want),
          describeLayer(got),
          { layer: name, layerIndex: i },
        );
      }
    }
    const weightCount = Math.max(reference.weights.length, model.weights.length);
    for (let i = 0; i < weightCount; i++) {
      const want = reference.weights[i];
      const got = model.weights[i];
      const same =
        want &&
        got &&
        want.shape.length === got.shape.length &&
        want.shape.every((d, j) => d === got.shape[j]);
      if (!same) {
        const name = want?.name ?? got!.name;
        fail(
          `weight "${name}" has shape ${describeShape(got?.shape)} in ${model.label}, ${describeShape(want?.shape)} in ${reference.label}`,
          describeShape(want?.shape),
          describeShape(got?.shape),
          { layer: name.split('/')[0], weight: name },
        );
      }
    }
  }
}
