/**
 * A task's fingerprint: hash of its node type + version, its resolved params, its seed and its
 * inputs' fingerprints. Two tasks with the same fingerprint compute the same result, so the runner
 * reuses a finished one instead of running again. Editor layout (`ui`) never enters it.
 */
import { canonicalJson, sha256Hex } from '../base/hash';

export interface FingerprintInput {
  type: string;
  version: number;
  params: Record<string, unknown>;
  seed: number;
  /** Input port → fingerprint of the upstream task and the output port it reads. */
  inputs: Record<string, { fingerprint: string; port: string }>;
  /**
   * Many-link port → the same for each link, in edge order: the order is part of the result (a
   * merge's first model gives the architecture and the weights follow the links).
   */
  inputLists?: Record<string, Array<{ fingerprint: string; port: string }>>;
}

export function taskFingerprint(input: FingerprintInput): string {
  const { inputLists, ...rest } = input;
  // Only a task that has linked lists hashes them, so every other fingerprint stays what it was.
  const lists = inputLists && Object.keys(inputLists).length > 0 ? { inputLists } : {};
  return sha256Hex(canonicalJson({ v: 1, ...rest, ...lists }));
}

/** A task's seed: derived from the run seed and the node id, so sibling tasks draw differently. */
export function taskSeed(runSeed: number, nodeId: string): number {
  return parseInt(sha256Hex(`${runSeed}:${nodeId}`).slice(0, 8), 16);
}
