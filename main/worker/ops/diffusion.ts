/**
 * Diffusion ops (node types in main/nodes/model-unet.ts and diffusion-*.ts), one a file:
 * - `model-unet` (model-unet.ts): builds an untrained class-conditional U-Net sized for an image
 *   dataset;
 * - `diffusion-train` (diffusion-train.ts): DDPM training (ε-prediction MSE) with the shared training
 *   loop, EMA weights, sample grids streamed while it trains;
 * - `diffusion-finetune` (diffusion-finetune.ts): the same objective continued on other data, all
 *   weights or LoRA adapters (merged into the saved model; the adapters are kept separately in
 *   `<taskDir>/adapters`);
 * - `diffusion-sample` (diffusion-sample.ts): DDPM / DDIM sampling with guidance to a PNG grid and a
 *   dataset of images;
 * - `diffusion-evaluate` (diffusion-evaluate.ts): reward statistics and classifier scores of fresh
 *   samples;
 * - `diffusion-ddpo` (ddpo.ts): reinforcement-learning fine-tuning on a reward.
 * Models travel as tfjs layers directories with kind `diffusion` (diffusion/model-io.ts); what the ops
 * share is in diffusion/op-support.ts. This module gathers the ops for their importers.
 */
export { diffusionEvaluateOp, EVALUATION_FILE } from './diffusion-evaluate';
export { diffusionFinetuneOp } from './diffusion-finetune';
export { diffusionSampleOp } from './diffusion-sample';
export { diffusionTrainOp } from './diffusion-train';
export { modelUnetOp } from './model-unet';
