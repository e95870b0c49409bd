/**
 * Dense Adam with TF.js's numbers and none of its temporaries: `tf.train.adam` runs about ten
 * element-wise ops per variable per step (each a pass over memory and a temporary); this updates
 * each variable in one pass (on wasm into one new tensor, see applyGradients; elsewhere in place),
 * with the moments in Float32Arrays, through the native
 * addon's `adam` where it is loaded and a JavaScript loop of the same float32 operations
 * otherwise. Both reproduce tfjs-core's adam_optimizer.ts op for op (m and v first, bias
 * correction by the float32 products accBeta = beta^t updated after each step, epsilon added to
 * the square root, the backend's epsilon by default), so a step gives the same bits as
 * `tf.train.adam` on the cpu and wasm backends, and getWeights/setWeights use its format.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFloats, tensorFilledBy, updateInPlace } from '../backend/memory.js';
import { nativeAddon, type NativeAddon } from '../backend/native.js';

const f = Math.fround;

/** tfjs-core's NamedTensor (not exported from its index). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** The float32 constants of one step, as TF.js's graph holds them. */
export interface AdamCoefficients {
  b1: number;
  b2: number;
  oneMinusB1: number;
  oneMinusB2: number;
  /** 1 − accBeta1, 1 − accBeta2 (float32 subtraction of float32 values). */
  c1: number;
  c2: number;
  eps: number;
  negLr: number;
}

export function adamCoefficients(lr: number, beta1: number, beta2: number, epsilon: number, accBeta1: number, accBeta2: number): AdamCoefficients {
  // TF.js makes each JS number a float32 scalar; `1 - beta` is computed in double before that.
  return {
    b1: f(beta1),
    b2: f(beta2),
    oneMinusB1: f(1 - beta1),
    oneMinusB2: f(1 - beta2),
    c1: f(1 - f(accBeta1)),
    c2: f(1 - f(accBeta2)),
    eps: f(epsilon),
    negLr: f(-lr),
  };
}

/**
 * Adam on `n` elements: param, m, v, out from `p0`, grad from `g0`; the new values go to `out`
 * (which may be `param`). Every operation is rounded to float32 as TF.js's kernels round it (a
 * double result of float32 operands, rounded once, is the float32 result), in native/optim.c's order.
 */
export function adamSpan(
  out: Float32Array,
  param: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  p0: number,
  g0: number,
  n: number,
  k: AdamCoefficients,
): void {
  const { b1, b2, oneMinusB1, oneMinusB2, c1, c2, eps, negLr } = k;
  for (let i = 0; i < n; i++) {
    const j = p0 + i;
    const g = grad[g0 + i];
    const mi = f(f(b1 * m[j]) + f(g * oneMinusB1));
    const vi = f(f(b2 * v[j]) + f(f(g * g) * oneMinusB2));
    m[j] = mi;
    v[j] = vi;
    const den = f(f(Math.sqrt(f(vi / c2))) + eps);
    out[j] = param[j] + f(f(f(mi / c1) / den) * negLr);
  }
}

/** One variable's Adam moments. */
export interface Moments {
  name: string;
  shape: number[];
  m: Float32Array;
  v: Float32Array;
}

export interface FusedAdamOptions {
  /** Use the native kernel (true: required), the JavaScript loop (false), or native where loaded (default). */
  native?: boolean;
}

/** `tf.train.adam(learningRate, beta1, beta2, epsilon)`, updated in place (see the module comment). */
export class FusedAdam extends tf.Optimizer {
  static get className(): string {
    // The same serialised name as TF.js's Adam: same config and weights.
    return 'Adam';
  }

  readonly epsilon: number;
  // beta^t of the next step as float32 products, like TF.js's accBeta variables.
  private accBeta1: number;
  private accBeta2: number;
  // First-seen order = getWeights order (TF.js's accumulatedFirstMoment order).
  private readonly moments = new Map<string, Moments>();
  private readonly addon: NativeAddon | null;

  constructor(
    readonly learningRate: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    epsilon: number | null = null,
    options: FusedAdamOptions = {},
  ) {
    super();
    this.epsilon = epsilon ?? tf.backend().epsilon();
    this.accBeta1 = f(beta1);
    this.accBeta2 = f(beta2);
    this.addon = options.native === false ? null : nativeAddon();
    if (options.native === true && !this.addon) throw new Error('FusedAdam: native: true, but the native addon (with adam_into) is not loaded');
  }

  /** Whether steps run the native kernel. */
  get isNative(): boolean {
    return this.addon !== null;
  }

  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries = Array.isArray(variableGradients)
      ? variableGradients.map(({ name, tensor }) => [name, tensor] as const)
      : Object.entries(variableGradients).map(([name, tensor]) => [name, tensor] as const);
    const k = adamCoefficients(this.learningRate, this.beta1, this.beta2, this.epsilon, this.accBeta1, this.accBeta2);
    const h = [this.learningRate, this.beta1, this.beta2, this.epsilon, this.accBeta1, this.accBeta2] as const;
    for (const [name, grad] of entries) {
      const variable = tf.engine().registeredVariables[name];
      if (!variable) throw new Error(`FusedAdam: no variable named '${name}'`);
      // Moments exist from a variable's first step even without a gradient, as in TF.js.
      let state = this.moments.get(name);
      if (!state) {
        state = { name, shape: variable.shape, m: new Float32Array(variable.size), v: new Float32Array(variable.size) };
        this.moments.set(name, state);
      }
      if (grad == null) continue;
      if (grad.size !== variable.size) throw new Error(`FusedAdam: gradient of '${name}' has ${grad.size} values, the variable ${variable.size}`);
      const { m, v } = state;
      if (tf.getBackend() === 'wasm') {
        // A new tensor, not an in-place write: XNNPACK matmuls pack a weight once per tensor id
        // and reuse the packed copy while the id lives, so they would keep computing with the
        // old values. Assigning a new tensor frees the old one and its packed copy, as TF.js's
        // own Adam does. (The cpu backend caches nothing: in place is safe there.)
        const addon = this.addon;
        const out = tensorFilledBy(variable.shape, (next) => {
          const g = readFloats(grad);
          const old = readFloats(variable);
          if (addon) addon.adam_into(next, old, g, m, v, ...h);
          else adamSpan(next, old, g, m, v, 0, 0, old.length, k);
        });
        variable.assign(out);
        out.dispose();
        continue;
      }
      const g = readFloats(grad);
      const addon = this.addon;
      updateInPlace(variable, (p) => {
        if (addon) addon.adam(p, g, m, v, ...h);
        else adamSpan(p, p, g, m, v, 0, 0, p.length, k);
      });
    }
    this.accBeta1 = f(this.accBeta1 * f(this.beta1));
    this.accBeta2 = f(this.accBeta2 * f(this.beta2));
    this.incrementIterations();
  }

  /** TF.js's Adam format: [iter, every `<name>/m`, every `<name>/v`]; the caller owns the tensors. */
  override async getWeights(): Promise<NamedTensor[]> {
    const all = [...this.moments.values()];
    return [
      await this.saveIterations(),
      ...all.map((s) => ({ name: `${s.name}/m`, tensor: tf.tensor(s.m.slice(), s.shape, 'float32') })),
      ...all.map((s) => ({ name: `${s.name}/v`, tensor: tf.tensor(s.v.slice(), s.shape, 'float32') })),
    ];
  }

  /** Restores getWeights' output (of this class or of `tf.train.adam`); the tensors stay the caller's. */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    // TF.js sets accBeta = beta^(iterations + 1) with a float32 pow.
    this.accBeta1 = f(f(this.beta1) ** (this.iterations + 1));
    this.accBeta2 = f(f(this.beta2) ** (this.iterations + 1));
    const half = rest.length / 2;
    this.moments.clear();
    for (let i = 0; i < half; i++) {
      const first = rest[i];
      const second = rest[half + i];
      const name = first.name.replace(/\/m$/, '');
      this.moments.set(name, {
        name,
        shape: first.tensor.shape,
        m: (first.tensor.dataSync() as Float32Array).slice(),
        v: (second.tensor.dataSync() as Float32Array).slice(),
      });
    }
  }

  /**
   * The exact state (copies): steps taken, the float32 accBeta products and every variable's
   * moments by variable name. `restoreState` of it continues with the same bits, where
   * setWeights recomputes accBeta by a power (TF.js's format) and may differ in the last bit.
   */
  exportState(): { step: number; accBeta1: number; accBeta2: number; moments: Moments[] } {
    const moments = [...this.moments.values()].map((s) => ({ name: s.name, shape: s.shape.slice(), m: s.m.slice(), v: s.v.slice() }));
    return { step: this.iterations, accBeta1: this.accBeta1, accBeta2: this.accBeta2, moments };
  }

  /** Restores `exportState`'s output (the arrays are copied); variables not in it start at zero moments. */
  restoreState(state: { step: number; accBeta1: number; accBeta2: number; moments: readonly Moments[] }): void {
    this.iterations_ = state.step;
    this.accBeta1 = f(state.accBeta1);
    this.accBeta2 = f(state.accBeta2);
    this.moments.clear();
    for (const s of state.moments) this.moments.set(s.name, { name: s.name, shape: s.shape.slice(), m: Float32Array.from(s.m), v: Float32Array.from(s.v) });
  }

  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }

  override dispose(): void {
    this.moments.clear();
  }
}
