import { defineNodeType, port } from './define';
import { exportNode } from './export';

/** Writes a diffusion model (U-Net + its sampler description) to a folder. */
export const diffusionExportNode = defineNodeType({
  type: 'diffusion.export',
  version: 1,
  title: 'Export diffusion',
  category: 'export',
  help: 'Writes the U-Net as a TensorFlow.js layers model (model.json + weight shards) plus diffusion.json with the noise schedule and sampler defaults, enough for a third party to sample it.',
  inputs: { model: port('diffusion-model') },
  outputs: {},
  // outDir lies outside the run folder: a reused export is checked against the files it wrote there.
  effects: { external: ['outDir'] },
  params: exportNode.params,
});
