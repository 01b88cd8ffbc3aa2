/**
 * Runs the worker's registered ops in the test process the way the worker does: the fake context's
 * params are resolved against the node spec with `resolveParams` (the validator's own function, so
 * an omitted param gets the default a user gets), then handed to the op registered for that node
 * type. An invalid param is refused with the validator's issues, as a run would be.
 */
import { DistilleryError } from '../../main/base/errors';
import type { NodeSpec, ParamSpecs } from '../../main/nodes/define';
import { datasetCsvNode } from '../../main/nodes/dataset-csv';
import { datasetIdxNode } from '../../main/nodes/dataset-idx';
import { datasetImageFolderNode } from '../../main/nodes/dataset-image-folder';
import { datasetMnistNode } from '../../main/nodes/dataset-mnist';
import { diffusionDdpoNode } from '../../main/nodes/diffusion-ddpo';
import { diffusionEvaluateNode } from '../../main/nodes/diffusion-evaluate';
import { diffusionExportNode } from '../../main/nodes/diffusion-export';
import { diffusionFinetuneNode } from '../../main/nodes/diffusion-finetune';
import { diffusionSampleNode } from '../../main/nodes/diffusion-sample';
import { diffusionTrainNode } from '../../main/nodes/diffusion-train';
import { distillNode } from '../../main/nodes/distill';
import { evaluateNode } from '../../main/nodes/evaluate';
import { exportNode } from '../../main/nodes/export';
import { mergeNode } from '../../main/nodes/merge';
import { modelCnnNode } from '../../main/nodes/model-cnn';
import { modelMlpNode } from '../../main/nodes/model-mlp';
import { modelUnetNode } from '../../main/nodes/model-unet';
import { pruneNode } from '../../main/nodes/prune';
import { quantizeNode } from '../../main/nodes/quantize';
import { trainNode } from '../../main/nodes/train';
import { resolveParams } from '../../main/pipeline/params';
import type { OpSummary } from '../../main/worker/context';
import { getOp } from '../../main/worker/op-registry';
import '../../main/worker/ops/index';
import type { FakeOpContext } from './fake-op-context';

/** The params a node gets when the file gives `params` (defaults applied), or the issues thrown. */
export function resolvedParams<P extends ParamSpecs>(
  spec: NodeSpec<P>,
  params: Record<string, unknown> = {},
  nodeId = 'node-1',
) {
  const { params: resolved, issues } = resolveParams(nodeId, spec, params, '/params');
  if (issues.length > 0) {
    const first = issues[0]!;
    throw new DistilleryError(
      issues.length === 1 ? (first.code as 'PARAM_INVALID') : 'PARAM_INVALID',
      issues.map((issue) => issue.message).join('; '),
      {
        nodeId,
        ...(issues.length === 1
          ? { param: first.param, expected: first.expected, received: first.received }
          : { issues }),
      },
    );
  }
  return resolved;
}

/** Runs the op of `spec` on the context, with the context's params resolved against `spec`. */
export async function runOp(spec: NodeSpec, ctx: FakeOpContext): Promise<OpSummary> {
  return getOp(spec.type).run(ctx, resolvedParams(spec, ctx.params, ctx.nodeId));
}

/** One runner per node type, named after the op. */
const runner = (spec: NodeSpec) => (ctx: FakeOpContext) => runOp(spec, ctx);

export const datasetMnistOp = runner(datasetMnistNode);
export const datasetIdxOp = runner(datasetIdxNode);
export const datasetCsvOp = runner(datasetCsvNode);
export const datasetImageFolderOp = runner(datasetImageFolderNode);
export const modelMlpOp = runner(modelMlpNode);
export const modelCnnOp = runner(modelCnnNode);
export const modelUnetOp = runner(modelUnetNode);
export const trainOp = runner(trainNode);
export const distillOp = runner(distillNode);
export const pruneOp = runner(pruneNode);
export const quantizeOp = runner(quantizeNode);
export const mergeOp = runner(mergeNode);
export const evaluateOp = runner(evaluateNode);
export const exportOp = runner(exportNode);
export const diffusionTrainOp = runner(diffusionTrainNode);
export const diffusionFinetuneOp = runner(diffusionFinetuneNode);
export const diffusionDdpoOp = runner(diffusionDdpoNode);
export const diffusionSampleOp = runner(diffusionSampleNode);
export const diffusionEvaluateOp = runner(diffusionEvaluateNode);
export const diffusionExportOp = runner(diffusionExportNode);
