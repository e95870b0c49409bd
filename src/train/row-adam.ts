/**
 * Lazy Adam for an embedding table: only the rows a step touched are updated (TensorFlow
 * Addons' LazyAdam and PyTorch's SparseAdam do the same). For the touched rows the update is
 * exactly TF.js's `tf.train.adam` (same bias correction from the global step, epsilon = the
 * backend's epsilon); untouched rows keep their value and moments, where dense Adam decays the
 * moments of every row and keeps moving a row by its momentum between visits. So it is a
 * different optimizer for rare items (their effective learning rate differs), chosen for
 * catalogues where dense Adam's O(items · D) per step does not fit. Step time depends on the
 * rows touched, not on the table size; the moments are two arrays of the table's size,
 * allocated on the first step. With the native addon loaded the rows go to its `adam_rows`
 * (OpenMP over rows), which does this loop's double arithmetic and gives the same bits.
 */
import * as tf from '@tensorflow/tfjs-core';
import { updateInPlace } from '../backend/memory.js';
import { nativeAddon, type NativeAddon } from '../backend/native.js';
import type { RowGradients } from '../ops/embedding.js';

export class RowSparseAdam {
  private m: Float32Array | null = null;
  private v: Float32Array | null = null;
  private step = 0;
  private readonly epsilon: number;
  private readonly kernel: NativeAddon['adam_rows'] | null;

  /** `options.native`: true requires the native kernel, false uses the loop; default: native where loaded. */
  constructor(
    private readonly table: tf.Variable<tf.Rank.R2>,
    private readonly learningRate: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    epsilon?: number,
    options: { native?: boolean } = {},
  ) {
    this.epsilon = epsilon ?? tf.backend().epsilon();
    this.kernel = options.native === false ? null : (nativeAddon()?.adam_rows ?? null);
    if (options.native === true && !this.kernel) throw new Error('RowSparseAdam: native: true, but the native addon (with adam_rows) is not loaded');
  }

  /** Hyperparameters, for checking a saved state against them. */
  get settings(): { learningRate: number; beta1: number; beta2: number; epsilon: number } {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }

  /** Steps taken and the table's moments (copies; null before the first step). */
  exportState(): { step: number; m: Float32Array | null; v: Float32Array | null } {
    return { step: this.step, m: this.m?.slice() ?? null, v: this.v?.slice() ?? null };
  }

  /** Restores `exportState`'s output (copied); the arrays must have the table's size. */
  restoreState(state: { step: number; m: Float32Array | null; v: Float32Array | null }): void {
    const size = this.table.size;
    if ((state.m && state.m.length !== size) || (state.v && state.v.length !== size)) {
      throw new Error(`RowSparseAdam.restoreState: moments of ${state.m?.length ?? state.v?.length} values, the table has ${size}`);
    }
    this.step = state.step;
    this.m = state.m ? Float32Array.from(state.m) : null;
    this.v = state.v ? Float32Array.from(state.v) : null;
  }

  apply(grad: RowGradients): void {
    const [rows, dim] = this.table.shape;
    if (grad.dim !== dim) throw new Error(`RowSparseAdam: gradient rows have dim ${grad.dim}, the table ${dim}`);
    if (!this.m || !this.v) {
      this.m = new Float32Array(rows * dim);
      this.v = new Float32Array(rows * dim);
    }
    this.step++;
    const { beta1: b1, beta2: b2, epsilon: eps, learningRate: lr } = this;
    const c1 = 1 - b1 ** this.step;
    const c2 = 1 - b2 ** this.step;
    const m = this.m;
    const v = this.v;
    const kernel = this.kernel;
    if (kernel) {
      const [acc1, acc2] = [b1 ** this.step, b2 ** this.step];
      updateInPlace(this.table, (values) => kernel(values, grad.values, grad.indices, m, v, lr, b1, b2, eps, acc1, acc2));
      return;
    }
    updateInPlace(this.table, (values) => {
      for (let k = 0; k < grad.indices.length; k++) {
        const base = grad.indices[k] * dim;
        const src = k * dim;
        for (let d = 0; d < dim; d++) {
          const g = grad.values[src + d];
          const i = base + d;
          m[i] = b1 * m[i] + (1 - b1) * g;
          v[i] = b2 * v[i] + (1 - b2) * g * g;
          values[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
        }
      }
    });
  }
}
