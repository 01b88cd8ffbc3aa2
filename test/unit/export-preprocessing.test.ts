/** What an export says a consumer must do to raw input (main/export/preprocessing.ts). */
import { describe, expect, it } from 'vitest';
import { preprocessingOfDataset, preprocessingOfModel } from '../../main/export/preprocessing';

describe('preprocessingOfDataset', () => {
  it('images stored as uint8 pixels are divided by 255, NHWC', () => {
    const result = preprocessingOfDataset({
      inputShape: [28, 28, 1],
      classNames: ['0', '1'],
      image: true,
      splits: { train: { xDtype: 'uint8' }, test: { xDtype: 'uint8' } },
    });
    expect(result).toEqual({
      source: 'dataset',
      inputShape: [28, 28, 1],
      layout: 'NHWC',
      dtype: 'float32',
      scaling: 'divide-by-255',
      classNames: ['0', '1'],
      formula: 'x = pixel / 255 (0…1), float32 [batch, height, width, channels], row-major',
    });
  });

  it('a standardised CSV gives its training statistics and feature names', () => {
    const result = preprocessingOfDataset({
      inputShape: [2],
      classNames: ['a', 'b'],
      image: false,
      splits: { train: { xDtype: 'float32' } },
      artifactMeta: { featureNames: ['height', 'width'], standardization: { mean: [1.5, 2], std: [0.5, 1] } },
    });
    expect(result).toMatchObject({
      layout: 'features',
      scaling: 'standardize',
      mean: [1.5, 2],
      std: [0.5, 1],
      featureNames: ['height', 'width'],
      classNames: ['a', 'b'],
    });
    expect(result.formula).toBe(
      'x[i] = (value[i] − mean[i]) / std[i] for each feature i, float32 [batch, features]',
    );
  });

  it('a CSV read without standardisation goes in as it is', () => {
    const result = preprocessingOfDataset({
      inputShape: [3],
      classNames: ['a', 'b'],
      image: false,
      splits: { train: { xDtype: 'float32' } },
      artifactMeta: { featureNames: ['x', 'y', 'z'] },
    });
    expect(result.scaling).toBe('none');
    expect(result.mean).toBeUndefined();
    expect(result.featureNames).toEqual(['x', 'y', 'z']);
  });
});

describe('preprocessingOfModel', () => {
  it('returns what training recorded', () => {
    const recorded = preprocessingOfDataset({
      inputShape: [4],
      classNames: ['a', 'b', 'c'],
      image: false,
      splits: { train: { xDtype: 'float32' } },
      artifactMeta: { standardization: { mean: [0, 0, 0, 0], std: [1, 1, 1, 1] } },
    });
    expect(preprocessingOfModel({ inputShape: [4], preprocessing: recorded })).toBe(recorded);
  });

  it('falls back on the input shape, and says so', () => {
    expect(preprocessingOfModel({ inputShape: [16, 16, 3], classNames: ['cat', 'dog'] })).toMatchObject({
      source: 'input-shape',
      layout: 'NHWC',
      scaling: 'divide-by-255',
      classNames: ['cat', 'dog'],
    });
    expect(preprocessingOfModel(undefined, [8])).toMatchObject({
      source: 'input-shape',
      inputShape: [8],
      layout: 'features',
      scaling: 'none',
      classNames: [],
    });
    // A malformed record is not trusted.
    expect(preprocessingOfModel({ inputShape: [8], preprocessing: { scaling: 'x' } }).source).toBe(
      'input-shape',
    );
  });
});
