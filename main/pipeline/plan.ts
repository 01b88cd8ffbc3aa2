/** Turns a validated pipeline into tasks in dependency order, with seeds and fingerprints. */
import type { NodeParams } from '../nodes/define';
import type { Endpoint } from './graph';
import { taskFingerprint, taskSeed } from './fingerprint';
import type { ResolvedPipeline } from './validate';

export interface PlannedTask {
  nodeId: string;
  type: string;
  version: number;
  category: string;
  params: NodeParams;
  /** Params as the user wrote them: the "key params" shown on lineage edges. */
  explicitParams: Record<string, unknown>;
  seed: number;
  fingerprint: string;
  /** Input port → upstream node and its output port. */
  inputs: Record<string, Endpoint>;
  /** Many-link port → the upstream outputs linked to it, in edge order (absent when unlinked). */
  inputLists: Record<string, Endpoint[]>;
  /** Node ids this task waits for. */
  dependsOn: string[];
}

export function planPipeline(pipeline: ResolvedPipeline): PlannedTask[] {
  const byNode = new Map<string, PlannedTask>();
  for (const node of pipeline.nodes) {
    const inputFingerprints: Record<string, { fingerprint: string; port: string }> = {};
    for (const [port, from] of Object.entries(node.inputs)) {
      inputFingerprints[port] = { fingerprint: byNode.get(from.nodeId)!.fingerprint, port: from.port };
    }
    const listFingerprints: Record<string, Array<{ fingerprint: string; port: string }>> = {};
    for (const [port, links] of Object.entries(node.inputLists)) {
      listFingerprints[port] = links.map((from) => ({
        fingerprint: byNode.get(from.nodeId)!.fingerprint,
        port: from.port,
      }));
    }
    const seed = taskSeed(pipeline.doc.seed, node.id);
    const task: PlannedTask = {
      nodeId: node.id,
      type: node.type,
      version: node.spec.version,
      category: node.spec.category,
      params: node.params,
      explicitParams: node.explicitParams,
      seed,
      fingerprint: taskFingerprint({
        type: node.type,
        version: node.spec.version,
        params: node.params,
        seed,
        inputs: inputFingerprints,
        inputLists: listFingerprints,
      }),
      inputs: node.inputs,
      inputLists: node.inputLists,
      dependsOn: [
        ...new Set([
          ...Object.values(node.inputs).map((e) => e.nodeId),
          ...Object.values(node.inputLists).flatMap((links) => links.map((e) => e.nodeId)),
        ]),
      ],
    };
    byNode.set(node.id, task);
  }
  return [...byNode.values()];
}
