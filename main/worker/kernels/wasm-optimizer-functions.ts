/**
 * The fused optimizer steps as element-wise SIMD functions: Adam (with its decay variants), Lion
 * and momentum, each computing what optimizers.ts computes, operation for operation.
 */
import type { Local } from './wasm-assembler';
import { elementwise } from './wasm-lanes';

/** Adam's decay variants: none, coupled L2 (added to g), decoupled (AdamW, added to the step). */
export type DecayMode = 'none' | 'coupled' | 'decoupled';

/**
 * adam(θ, g, m, v, θ', m', v', n, β1, 1−β1, β2, 1−β2, 1−β1^t, 1−β2^t, ε, η, λ): Adam.update of
 * optimizers.ts, element by element.
 */
export function adamFunction(decay: DecayMode): number[] {
  return elementwise(7, 9, (lane, index, temporaries) => {
    const [theta, grad, m, v, thetaOut, mOut, vOut] = [0, 1, 2, 3, 4, 5, 6] as const;
    const [beta1, oneMinusBeta1, beta2, oneMinusBeta2, correction1, correction2, epsilon, rate, lambda] = [
      8, 9, 10, 11, 12, 13, 14, 15, 16,
    ] as const;
    const [th, g, m1, v1, step] = temporaries(5) as [Local, Local, Local, Local, Local];
    lane.set(th, () => lane.load(theta, index));
    lane.set(g, () => lane.load(grad, index));
    if (decay === 'coupled') {
      lane.set(g, () =>
        lane.add(
          () => lane.get(g),
          () =>
            lane.mul(
              () => lane.get(th),
              () => lane.constant(lambda),
            ),
        ),
      );
    }
    lane.set(m1, () =>
      lane.add(
        () =>
          lane.mul(
            () => lane.load(m, index),
            () => lane.constant(beta1),
          ),
        () =>
          lane.mul(
            () => lane.get(g),
            () => lane.constant(oneMinusBeta1),
          ),
      ),
    );
    lane.set(v1, () =>
      lane.add(
        () =>
          lane.mul(
            () => lane.load(v, index),
            () => lane.constant(beta2),
          ),
        () =>
          lane.mul(
            () =>
              lane.mul(
                () => lane.get(g),
                () => lane.get(g),
              ),
            () => lane.constant(oneMinusBeta2),
          ),
      ),
    );
    lane.store(mOut, index, () => lane.get(m1));
    lane.store(vOut, index, () => lane.get(v1));
    lane.set(step, () =>
      lane.div(
        () =>
          lane.div(
            () => lane.get(m1),
            () => lane.constant(correction1),
          ),
        () =>
          lane.add(
            () =>
              lane.sqrt(() =>
                lane.div(
                  () => lane.get(v1),
                  () => lane.constant(correction2),
                ),
              ),
            () => lane.constant(epsilon),
          ),
      ),
    );
    if (decay === 'decoupled') {
      lane.set(step, () =>
        lane.add(
          () => lane.get(step),
          () =>
            lane.mul(
              () => lane.get(th),
              () => lane.constant(lambda),
            ),
        ),
      );
    }
    lane.store(thetaOut, index, () =>
      lane.sub(
        () => lane.get(th),
        () =>
          lane.mul(
            () => lane.get(step),
            () => lane.constant(rate),
          ),
      ),
    );
  });
}

/** lion(θ, g, m, θ', m', n, β1, 1−β1, β2, 1−β2, η, λ): Lion.update, element by element. */
export function lionFunction(decayed: boolean): number[] {
  return elementwise(5, 6, (lane, index, temporaries) => {
    const [theta, grad, m, thetaOut, mOut] = [0, 1, 2, 3, 4] as const;
    const [beta1, oneMinusBeta1, beta2, oneMinusBeta2, rate, lambda] = [6, 7, 8, 9, 10, 11] as const;
    const [th, g, mi, step, scratch] = temporaries(5) as [Local, Local, Local, Local, Local];
    lane.set(th, () => lane.load(theta, index));
    lane.set(g, () => lane.load(grad, index));
    lane.set(mi, () => lane.load(m, index));
    lane.set(step, () =>
      lane.sign(
        () =>
          lane.add(
            () =>
              lane.mul(
                () => lane.get(mi),
                () => lane.constant(beta1),
              ),
            () =>
              lane.mul(
                () => lane.get(g),
                () => lane.constant(oneMinusBeta1),
              ),
          ),
        scratch,
      ),
    );
    if (decayed) {
      lane.set(step, () =>
        lane.add(
          () => lane.get(step),
          () =>
            lane.mul(
              () => lane.get(th),
              () => lane.constant(lambda),
            ),
        ),
      );
    }
    lane.store(thetaOut, index, () =>
      lane.sub(
        () => lane.get(th),
        () =>
          lane.mul(
            () => lane.get(step),
            () => lane.constant(rate),
          ),
      ),
    );
    lane.store(mOut, index, () =>
      lane.add(
        () =>
          lane.mul(
            () => lane.get(mi),
            () => lane.constant(beta2),
          ),
        () =>
          lane.mul(
            () => lane.get(g),
            () => lane.constant(oneMinusBeta2),
          ),
      ),
    );
  });
}

/** momentum(θ, g, v, θ', v', n, μ, η, λ): Momentum.update, element by element. */
export function momentumFunction(coupled: boolean): number[] {
  return elementwise(5, 3, (lane, index, temporaries) => {
    const [theta, grad, velocity, thetaOut, velocityOut] = [0, 1, 2, 3, 4] as const;
    const [momentum, rate, lambda] = [6, 7, 8] as const;
    const [th, g, v1] = temporaries(3) as [Local, Local, Local];
    lane.set(th, () => lane.load(theta, index));
    lane.set(g, () => lane.load(grad, index));
    if (coupled) {
      lane.set(g, () =>
        lane.add(
          () => lane.get(g),
          () =>
            lane.mul(
              () => lane.get(th),
              () => lane.constant(lambda),
            ),
        ),
      );
    }
    lane.set(v1, () =>
      lane.add(
        () =>
          lane.mul(
            () => lane.load(velocity, index),
            () => lane.constant(momentum),
          ),
        () => lane.get(g),
      ),
    );
    lane.store(velocityOut, index, () => lane.get(v1));
    lane.store(thetaOut, index, () =>
      lane.sub(
        () => lane.get(th),
        () =>
          lane.mul(
            () => lane.get(v1),
            () => lane.constant(rate),
          ),
      ),
    );
  });
}
