/**
 * DDPO's per-epoch data: the chains sampled in batches joined into one, and the advantages the
 * policy-gradient update weighs each chain by.
 */
import type { AdvantageNormalization } from '../../nodes/diffusion-ddpo';
import { summarize } from './rewards';
import type { SampleChain } from './samplers';

/**
 * Advantages from rewards: normalised over the batch, per conditioning class (classes with fewer
 * than two samples fall back to the batch statistics) or not at all; then clipped to ±clip.
 */
export function computeAdvantages(
  rewards: ArrayLike<number>,
  labels: ArrayLike<number>,
  mode: AdvantageNormalization,
  clip: number,
): Float32Array {
  const n = rewards.length;
  const out = new Float32Array(n);
  const all = summarize(rewards);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const key = mode === 'per-class' ? labels[i]! : 0;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  }
  for (const rows of groups.values()) {
    const stats = rows.length >= 2 ? summarize(rows.map((i) => rewards[i]!)) : all;
    for (const i of rows) {
      const value = mode === 'none' ? rewards[i]! : (rewards[i]! - stats.mean) / (stats.std + 1e-8);
      out[i] = Math.max(-clip, Math.min(clip, value));
    }
  }
  return out;
}

/** Concatenates chains sampled in batches (same plan) into one. */
export function concatChains(chains: SampleChain[]): SampleChain {
  const first = chains[0]!;
  const join32 = (parts: Float32Array[]): Float32Array => {
    const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  };
  return {
    plan: first.plan,
    labels: Int32Array.from(chains.flatMap((chain) => Array.from(chain.labels))),
    latents: first.latents.map((_, i) => join32(chains.map((chain) => chain.latents[i]!))),
    logProbs: first.logProbs.map((_, i) => join32(chains.map((chain) => chain.logProbs[i]!))),
  };
}
