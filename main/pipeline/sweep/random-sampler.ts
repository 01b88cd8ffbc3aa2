/**
 * Random search: every active param of trial `index` drawn from its domain by a generator seeded
 * with (seed, index, param key). Each param has its own stream, so adding a param to the space, or
 * a condition switching one off, leaves the other params' draws unchanged.
 */
import { hashString, mixSeed, Rng, SALT_RANDOM } from './random';
import type { Sampler } from './sampler';
import { drawFromDomain, type SearchSpace, type SpaceParam, type TrialParams } from './space';

/** The generator random search uses for one param of one trial. */
export function randomStream(seed: number, index: number, key: string): Rng {
  return new Rng(mixSeed(seed, SALT_RANDOM, index, hashString(key)));
}

/** One param of trial `index` as random search draws it. */
export function randomValue(seed: number, index: number, param: SpaceParam) {
  return drawFromDomain(param.domain, randomStream(seed, index, param.key));
}

/** Trial `index`'s configuration under random search; TPE's startup trials are these too. */
export function randomConfiguration(space: SearchSpace, seed: number, index: number): TrialParams {
  return space.complete({}, (param) => randomValue(seed, index, param));
}

export class RandomSampler implements Sampler {
  readonly algorithm = 'random';
  readonly size = Infinity;

  constructor(
    private readonly space: SearchSpace,
    private readonly seed: number,
  ) {}

  propose(index: number): TrialParams {
    return randomConfiguration(this.space, this.seed, index);
  }
}
