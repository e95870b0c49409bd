/**
 * The official GRU4Rec's optimiser (IndexedAdagradM), used by session-parallel training with
 * `optimizer: 'adagrad'`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { updateInPlace } from '../backend/memory.js';
import { RowGradientCapture, type RowGradients } from '../ops/embedding.js';

export interface StepOptimizer {
  minimize(f: () => tf.Scalar, returnCost: true, varList: tf.Variable[]): tf.Scalar | null;
  dispose(): void;
}

/**
 * The official GRU4Rec's update rule (IndexedAdagradM):
 *   acc += g²;  v = μ·v − lr · g / √(acc + ε);  θ += v     (μ = 0: plain Adagrad, ε = 1e-6)
 * The item table (`sparse`) is updated row-sparsely, as the official sparse embedding update:
 * its gradient is captured as (rows touched, their gradients) (see RowGradientCapture) and
 * only those rows change (accumulator, momentum and value), in place; step cost does not
 * depend on the item count. Other weights are updated densely.
 */
export class AdagradMomentum implements StepOptimizer {
  private readonly acc = new Map<string, tf.Variable>();
  private readonly mom = new Map<string, tf.Variable>();
  private table: { acc: Float32Array; mom: Float32Array | null } | null = null;
  private readonly capture: RowGradientCapture | null;
  constructor(
    private readonly lr: number,
    private readonly momentum: number,
    private readonly sparse: tf.Variable<tf.Rank.R2> | null = null,
    private readonly eps = 1e-6,
  ) {
    this.capture = sparse ? new RowGradientCapture(sparse) : null;
  }

  minimize(f: () => tf.Scalar, _returnCost: true, varList: tf.Variable[]): tf.Scalar {
    const dense = varList.filter((v) => v !== this.sparse);
    let value: tf.Scalar;
    let grads: tf.NamedTensorMap;
    if (this.capture && dense.length < varList.length) {
      const r = this.capture.gradients(f, dense);
      value = r.value;
      grads = r.grads;
      this.sparseUpdate(r.rows);
    } else {
      ({ value, grads } = tf.variableGrads(f, dense));
    }
    for (const v of dense) {
      const g = grads[v.name];
      if (!g) continue;
      tf.tidy(() => {
        let acc = this.acc.get(v.name);
        if (!acc) this.acc.set(v.name, (acc = tf.variable(tf.zerosLike(v), false)));
        acc.assign(tf.add(acc, tf.square(g)));
        const step = tf.div(tf.mul(g, -this.lr), tf.sqrt(tf.add(acc, this.eps)));
        if (this.momentum > 0) {
          let m = this.mom.get(v.name);
          if (!m) this.mom.set(v.name, (m = tf.variable(tf.zerosLike(v), false)));
          m.assign(tf.add(tf.mul(m, this.momentum), step));
          v.assign(tf.add(v, m));
        } else {
          v.assign(tf.add(v, step));
        }
      });
    }
    tf.dispose(Object.values(grads));
    return value;
  }

  private sparseUpdate(rows: RowGradients): void {
    const v = this.sparse!;
    const [n, dim] = v.shape;
    if (!this.table) this.table = { acc: new Float32Array(n * dim), mom: this.momentum > 0 ? new Float32Array(n * dim) : null };
    const { acc, mom } = this.table;
    updateInPlace(v, (param) => {
      for (let k = 0; k < rows.indices.length; k++) {
        const base = rows.indices[k] * dim;
        const src = k * dim;
        for (let d = 0; d < dim; d++) {
          const gi = rows.values[src + d];
          const i = base + d;
          acc[i] += gi * gi;
          const step = (-this.lr * gi) / Math.sqrt(acc[i] + this.eps);
          if (mom) {
            mom[i] = this.momentum * mom[i] + step;
            param[i] += mom[i];
          } else {
            param[i] += step;
          }
        }
      }
    });
  }

  dispose(): void {
    for (const v of [...this.acc.values(), ...this.mom.values()]) v.dispose();
    this.capture?.dispose();
  }
}
