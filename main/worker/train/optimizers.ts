/**
 * Optimisers written here rather than taken from `tf.train.*`, for two reasons: their whole state
 * (moments, step count) can be read out and put back, so a resumed run continues bit for bit; and
 * AdamW and Lion follow their papers exactly (tfjs has neither).
 *
 * Weight decay: `adamw` and `lion` decay θ directly (decoupled, θ ← θ − η·λ·θ as part of the
 * update). `sgd`, `momentum` and `adam` have no decoupled form; for them a `weightDecay` > 0 is
 * applied as the classic coupled L2 term added to the gradient (g ← g + λ·θ), which for Adam is
 * NOT the same as AdamW — pick `adamw` for that. A `weightDecay` of 0 leaves the gradient untouched.
 *
 * Momentum, Adam, AdamW and Lion run as one fused kernel per variable where the backend has it
 * (kernels/fused-optimizer.ts, same bits as the op-by-op form written out below).
 */
import * as tf from '@tensorflow/tfjs';
import type { OptimizerName } from '../../nodes/shared-params';
import {
  FUSED_KERNELS,
  hasFusedKernel,
  installFusedOptimizerKernels,
  runFusedUpdate,
} from '../kernels/fused-optimizer';

/** Adam's ε. 1e-8 as in Kingma & Ba, Loshchilov & Hutter and PyTorch (Keras and tf.train use 1e-7). */
export const ADAM_EPSILON = 1e-8;

/** One array of plain numbers with its shape, as saved in checkpoints. */
export interface NamedArray {
  shape: number[];
  values: Float32Array | Int32Array;
}

export type NamedArrays = Record<string, NamedArray>;

/** Everything an optimiser needs to continue exactly where it stopped. */
export interface OptimizerState {
  name: OptimizerName;
  /** Steps taken so far (Adam's t). */
  iterations: number;
  /** Slot arrays keyed `<slot>/<index of the variable in the list given to apply()>`. */
  slots: NamedArrays;
}

export interface Optimizer {
  readonly name: OptimizerName;
  /**
   * One update of `vars` (in place, with `Variable.assign`) from `grads` (same order and shapes) at
   * learning rate `lr`. Slots are keyed by position, so always pass the same list in the same order.
   */
  apply(vars: tf.Variable[], grads: tf.Tensor[], lr: number): void;
  state(): OptimizerState;
  load(state: OptimizerState): void;
  dispose(): void;
}

export interface OptimizerConfig {
  name: OptimizerName;
  /** `momentum`: μ (default 0.9). */
  momentum?: number;
  /** `adam`/`adamw`/`lion`: β1 (default 0.9). */
  beta1?: number;
  /** `adam`/`adamw`: β2 (default 0.999); `lion`: β2 (default 0.99). */
  beta2?: number;
  /** `adam`/`adamw`: ε (default 1e-8). */
  epsilon?: number;
  /** λ: decoupled for `adamw`/`lion`, coupled L2 for the others (default 0). */
  weightDecay?: number;
}

/** Shared bookkeeping: lazily created slot variables, step count, state in and out. */
abstract class SlotOptimizer implements Optimizer {
  private iterationCount = 0;
  /** slot name → one variable per trainable variable. */
  private slots = new Map<string, tf.Variable[]>();

  protected constructor(
    readonly name: OptimizerName,
    private readonly slotNames: readonly string[],
  ) {}

  /** θ ← update(θ, g, slots) for one variable; runs inside tf.tidy. `t` is the 1-based step. */
  protected abstract update(
    variable: tf.Variable,
    grad: tf.Tensor,
    lr: number,
    t: number,
    slots: tf.Variable[],
  ): void;

  apply(vars: tf.Variable[], grads: tf.Tensor[], lr: number): void {
    if (vars.length !== grads.length) {
      throw new Error(`${this.name}: ${vars.length} variables but ${grads.length} gradients`);
    }
    this.ensureSlots(vars);
    this.iterationCount += 1;
    const t = this.iterationCount;
    tf.tidy(() => {
      vars.forEach((variable, i) => {
        const slots = this.slotNames.map((slot) => this.slots.get(slot)![i]!);
        this.update(variable, grads[i]!, lr, t, slots);
      });
    });
  }

  private ensureSlots(vars: tf.Variable[]): void {
    for (const slot of this.slotNames) {
      const existing = this.slots.get(slot);
      if (!existing) {
        this.slots.set(
          slot,
          vars.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false))),
        );
        continue;
      }
      if (existing.length !== vars.length) {
        throw new Error(`${this.name}: state holds ${existing.length} variables, got ${vars.length}`);
      }
      existing.forEach((s, i) => {
        const shape = vars[i]!.shape;
        if (!tf.util.arraysEqual(s.shape, shape)) {
          throw new Error(
            `${this.name}: slot ${slot}/${i} has shape [${s.shape.join(', ')}], variable has [${shape.join(', ')}]`,
          );
        }
      });
    }
  }

  state(): OptimizerState {
    const slots: NamedArrays = {};
    for (const [slot, vars] of this.slots) {
      vars.forEach((v, i) => {
        slots[`${slot}/${i}`] = { shape: [...v.shape], values: Float32Array.from(v.dataSync()) };
      });
    }
    return { name: this.name, iterations: this.iterationCount, slots };
  }

  load(state: OptimizerState): void {
    if (state.name !== this.name) {
      throw new Error(`Optimizer state is for ${state.name}, not ${this.name}`);
    }
    const next = new Map<string, tf.Variable[]>();
    for (const slot of this.slotNames) {
      const list: tf.Variable[] = [];
      for (let i = 0; ; i++) {
        const array = state.slots[`${slot}/${i}`];
        if (!array) break;
        list.push(tf.tidy(() => tf.variable(tf.tensor(array.values, array.shape, 'float32'), false)));
      }
      if (list.length > 0) next.set(slot, list);
    }
    this.disposeSlots();
    this.slots = next;
    this.iterationCount = state.iterations;
  }

  private disposeSlots(): void {
    for (const vars of this.slots.values()) for (const v of vars) v.dispose();
    this.slots.clear();
  }

  dispose(): void {
    this.disposeSlots();
  }
}

/** g + λ·θ when λ > 0 (coupled L2), else g itself. */
function withCoupledDecay(grad: tf.Tensor, variable: tf.Variable, weightDecay: number): tf.Tensor {
  return weightDecay > 0 ? tf.add(grad, tf.mul(variable, weightDecay)) : grad;
}

/** θ ← θ − η·(g + λθ). */
class Sgd extends SlotOptimizer {
  constructor(private readonly weightDecay: number) {
    super('sgd', []);
  }

  protected update(variable: tf.Variable, grad: tf.Tensor, lr: number): void {
    variable.assign(tf.sub(variable, tf.mul(withCoupledDecay(grad, variable, this.weightDecay), lr)));
  }
}

/**
 * Heavy ball in the PyTorch form: v ← μ·v + g; θ ← θ − η·v. (Keras' form v ← μ·v − η·g folds η
 * into v, which differs once the schedule changes η.)
 */
class Momentum extends SlotOptimizer {
  constructor(
    private readonly momentum: number,
    private readonly weightDecay: number,
  ) {
    super('momentum', ['velocity']);
  }

  protected update(
    variable: tf.Variable,
    grad: tf.Tensor,
    lr: number,
    _t: number,
    [velocity]: tf.Variable[],
  ): void {
    if (hasFusedKernel(FUSED_KERNELS.momentum)) {
      const [theta, v] = runFusedUpdate(
        FUSED_KERNELS.momentum,
        { variable, grad, velocity: velocity! },
        { momentum: this.momentum, weightDecay: this.weightDecay, learningRate: lr },
      );
      velocity!.assign(v!);
      variable.assign(theta!);
      return;
    }
    const g = withCoupledDecay(grad, variable, this.weightDecay);
    const v = tf.add(tf.mul(velocity!, this.momentum), g);
    velocity!.assign(v);
    variable.assign(tf.sub(variable, tf.mul(v, lr)));
  }
}

/**
 * Adam with bias correction: m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; m̂ = m/(1−β1^t);
 * v̂ = v/(1−β2^t); θ ← θ − η·m̂/(√v̂ + ε). `decoupled` makes it AdamW:
 * θ ← θ − η·(m̂/(√v̂ + ε) + λ·θ); otherwise λ is coupled L2 on g.
 */
class Adam extends SlotOptimizer {
  constructor(
    private readonly beta1: number,
    private readonly beta2: number,
    private readonly epsilon: number,
    private readonly weightDecay: number,
    private readonly decoupled: boolean,
  ) {
    super(decoupled ? 'adamw' : 'adam', ['m', 'v']);
  }

  protected update(
    variable: tf.Variable,
    grad: tf.Tensor,
    lr: number,
    t: number,
    [m, v]: tf.Variable[],
  ): void {
    if (hasFusedKernel(FUSED_KERNELS.adam)) {
      const [theta, m1, v1] = runFusedUpdate(
        FUSED_KERNELS.adam,
        { variable, grad, m: m!, v: v! },
        {
          beta1: this.beta1,
          beta2: this.beta2,
          epsilon: this.epsilon,
          weightDecay: this.weightDecay,
          decoupled: this.decoupled,
          learningRate: lr,
          t,
        },
      );
      m!.assign(m1!);
      v!.assign(v1!);
      variable.assign(theta!);
      return;
    }
    const g = this.decoupled ? grad : withCoupledDecay(grad, variable, this.weightDecay);
    const m1 = tf.add(tf.mul(m!, this.beta1), tf.mul(g, 1 - this.beta1));
    const v1 = tf.add(tf.mul(v!, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
    m!.assign(m1);
    v!.assign(v1);
    const mHat = tf.div(m1, 1 - Math.pow(this.beta1, t));
    const vHat = tf.div(v1, 1 - Math.pow(this.beta2, t));
    let step = tf.div(mHat, tf.add(tf.sqrt(vHat), this.epsilon));
    if (this.decoupled && this.weightDecay > 0) step = tf.add(step, tf.mul(variable, this.weightDecay));
    variable.assign(tf.sub(variable, tf.mul(step, lr)));
  }
}

/** Lion: c = β1·m + (1−β1)·g; θ ← θ − η·(sign(c) + λ·θ); m ← β2·m + (1−β2)·g. */
class Lion extends SlotOptimizer {
  constructor(
    private readonly beta1: number,
    private readonly beta2: number,
    private readonly weightDecay: number,
  ) {
    super('lion', ['m']);
  }

  protected update(variable: tf.Variable, grad: tf.Tensor, lr: number, _t: number, [m]: tf.Variable[]): void {
    if (hasFusedKernel(FUSED_KERNELS.lion)) {
      const [theta, m1] = runFusedUpdate(
        FUSED_KERNELS.lion,
        { variable, grad, m: m! },
        { beta1: this.beta1, beta2: this.beta2, weightDecay: this.weightDecay, learningRate: lr },
      );
      m!.assign(m1!);
      variable.assign(theta!);
      return;
    }
    const c = tf.add(tf.mul(m!, this.beta1), tf.mul(grad, 1 - this.beta1));
    let step = tf.sign(c);
    if (this.weightDecay > 0) step = tf.add(step, tf.mul(variable, this.weightDecay));
    variable.assign(tf.sub(variable, tf.mul(step, lr)));
    m!.assign(tf.add(tf.mul(m!, this.beta2), tf.mul(grad, 1 - this.beta2)));
  }
}

/** An optimiser by name; its fused kernels are registered on first use. */
export function createOptimizer(config: OptimizerConfig): Optimizer {
  installFusedOptimizerKernels();
  const weightDecay = config.weightDecay ?? 0;
  const beta1 = config.beta1 ?? 0.9;
  switch (config.name) {
    case 'sgd':
      return new Sgd(weightDecay);
    case 'momentum':
      return new Momentum(config.momentum ?? 0.9, weightDecay);
    case 'adam':
    case 'adamw':
      return new Adam(
        beta1,
        config.beta2 ?? 0.999,
        config.epsilon ?? ADAM_EPSILON,
        weightDecay,
        config.name === 'adamw',
      );
    case 'lion':
      return new Lion(beta1, config.beta2 ?? 0.99, weightDecay);
  }
}
