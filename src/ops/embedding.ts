/**
 * Embedding lookup as one op with JavaScript kernels for both directions.
 *
 * TF.js differentiates `gather` through UnsortedSegmentSum, which the wasm backend does not
 * register at all (training fails) and the cpu backend implements with a loop over every
 * segment (cost grows with items x batch). The wasm gather itself is slow too (about 10 ms
 * for 5,120 rows of 64). Here the forward pass copies rows and the backward pass scatter-adds
 * them, each touching every looked-up row once, reading the table in place where the backend
 * allows it (src/backend/memory.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFloats, readInts, tensorFilledBy } from '../backend/memory.js';
import { nativeAddon } from '../backend/native.js';
import { SeqrecError } from '../errors.js';

/** Adds row i of `dy` ([n, dim]) into row indices[i] of `out` ([rows, dim]), which it zeroes first. */
export function scatterAddRows(out: Float32Array, dy: Float32Array, indices: Int32Array, dim: number): void {
  out.fill(0);
  for (let i = 0; i < indices.length; i++) {
    const src = i * dim;
    const dst = indices[i] * dim;
    for (let d = 0; d < dim; d++) out[dst + d] += dy[src + d];
  }
}

/** Copies rows `indices` of a [rows, dim] table into `out` ([indices.length, dim]). */
export function gatherRows(out: Float32Array, table: Float32Array, indices: Int32Array, rows: number, dim: number): void {
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    if (!(r >= 0 && r < rows)) throw new RangeError(`embedding index ${r} is out of range [0, ${rows})`);
    const src = r * dim;
    const dst = i * dim;
    for (let d = 0; d < dim; d++) out[dst + d] = table[src + d];
  }
}

/** The [indices.length, dim] tensor of rows `indices` of `table` (native/embedding.c where loaded). */
function gatheredTensor(table: tf.Tensor2D, indices: Int32Array): tf.Tensor2D {
  const [rows, dim] = table.shape;
  const addon = nativeAddon();
  return tensorFilledBy([indices.length, dim], (out) =>
    addon ? addon.gather_rows(out, readFloats(table), indices, dim) : gatherRows(out, readFloats(table), indices, rows, dim),
  );
}

/** The [rows, dim] gradient of a lookup of `indices`: row-sums of `dy` per index. */
function scatteredTensor(dy: tf.Tensor, indices: Int32Array, rows: number, dim: number): tf.Tensor2D {
  const addon = nativeAddon();
  return tensorFilledBy([rows, dim], (out) =>
    addon ? addon.scatter_add_rows(out, readFloats(dy), indices, dim) : scatterAddRows(out, readFloats(dy), indices, dim),
  );
}

/**
 * Looks up rows of `table` ([rows, dim]) for `indices` (int32, any shape); the result has shape
 * [...indices.shape, dim].
 */
export function embeddingLookup(table: tf.Tensor2D, indices: tf.Tensor): tf.Tensor {
  const [rows, dim] = table.shape;
  const idx = readInts(indices).slice();
  if (activeCapture?.covers(table)) return activeCapture.lookup(idx, indices.shape);
  const lookup = tf.customGrad(((t: tf.Tensor2D) => {
    const value = gatheredTensor(t, idx);
    const gradFunc = (dy: tf.Tensor) => [scatteredTensor(dy, idx, rows, dim)];
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return tf.reshape(lookup(table) as tf.Tensor2D, [...indices.shape, dim]);
}

// ---------------------------------------------------------------------------------------------
// Row-sparse gradients for one table.
//
// TF.js wants a gradient of the table's full shape, [rows, dim], for every step: at a million
// items that is 256 MB of zeros written, scanned and updated by the optimizer each step, even
// though a sampled loss touches a few thousand rows. Inside `RowGradientCapture.gradients`
// lookups of the captured table hang off a scalar "anchor" variable instead of the table: the
// backward pass then records (row indices, row gradients) pairs and hands TF.js a scalar zero.
// The caller updates the table's rows itself (src/train/row-adam.ts). It lives in src/ops
// because both the models and the losses look rows up through it.

/** The summed gradient of the rows a step touched: `values` is [indices.length, dim]. */
export interface RowGradients {
  /** Distinct row indices, ascending. */
  indices: Int32Array;
  values: Float32Array;
  dim: number;
}

let activeCapture: RowGradientCapture | null = null;
let anchorCounter = 0;

export class RowGradientCapture {
  private readonly anchor: tf.Variable;
  private records: { indices: Int32Array; grads: Float32Array }[] = [];
  private readonly guards = new WeakSet<tf.Tensor>();

  constructor(readonly table: tf.Variable<tf.Rank.R2>) {
    // In a tidy: the scalar the variable is made from would otherwise outlive it.
    this.anchor = tf.tidy(() => tf.variable(tf.scalar(0), true, `seqrec/row-gradient-anchor/${anchorCounter++}`));
  }

  /**
   * Value and gradients of `f` w.r.t. `variables` (which must not include the table), plus the
   * table's row-sparse gradient. A dense use of the table inside `f` whose gradient is needed
   * (e.g. full-softmax logits against every item) is an error, not a silently frozen table.
   */
  gradients(f: () => tf.Scalar, variables: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap; rows: RowGradients } {
    if (variables.includes(this.table)) throw new Error('RowGradientCapture: the captured table must not be among the dense variables');
    if (activeCapture) throw new Error('RowGradientCapture: captures do not nest');
    this.records = [];
    // The lookup op reports its rows to the capture that is running (one at a time).
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    activeCapture = this;
    let result: { value: tf.Scalar; grads: tf.NamedTensorMap };
    try {
      result = tf.variableGrads(f, [...variables, this.anchor]);
    } finally {
      activeCapture = null;
    }
    const { [this.anchor.name]: anchorGrad, ...grads } = result.grads;
    anchorGrad?.dispose();
    const rows = mergeRows(this.records, this.table.shape[1]);
    this.records = [];
    return { value: result.value, grads, rows };
  }

  /** Stands in for the table where a loss receives it whole (see `tableForLoss`). */
  guard(table: tf.Tensor2D): tf.Tensor2D {
    const anchor = this.anchor;
    const op = tf.customGrad((() => ({
      value: tf.clone(table),
      gradFunc: (): never => {
        throw new SeqrecError(
          'invalid_config',
          "this loss scores the whole item table, which row-sparse item gradients cannot train; use a sampled loss or itemGradients: 'dense'",
          { field: 'itemGradients' },
        );
      },
    })) as unknown as Parameters<typeof tf.customGrad>[0]);
    const guarded = op(anchor) as tf.Tensor2D;
    this.guards.add(guarded);
    return guarded;
  }

  /** Whether `t` is the captured table or a guarded stand-in for it. */
  covers(t: tf.Tensor): boolean {
    return t.dataId === this.table.dataId || this.guards.has(t);
  }

  /** Rows `idx` of the table, their gradient recorded instead of handed to TF.js. */
  lookup(idx: Int32Array, shape: number[]): tf.Tensor {
    const dim = this.table.shape[1];
    const op = tf.customGrad(((a: tf.Tensor) => {
      const value = gatheredTensor(this.table, idx);
      const gradFunc = (dy: tf.Tensor) => {
        this.records.push({ indices: idx, grads: readFloats(dy).slice() });
        return [tf.zerosLike(a)];
      };
      return { value, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return tf.reshape(op(this.anchor) as tf.Tensor2D, [...shape, dim]);
  }

  dispose(): void {
    this.anchor.dispose();
  }
}

/** Whether `t` is a table (or a loss's stand-in for one) whose gradient is being captured row by row. */
export function isRowCaptured(t: tf.Tensor): boolean {
  return activeCapture?.covers(t) ?? false;
}

/**
 * The table as a loss should receive it: itself normally, a guarded stand-in while its row
 * gradients are being captured (so a dense use fails loudly instead of training nothing).
 */
export function tableForLoss(table: tf.Tensor2D): tf.Tensor2D {
  return activeCapture?.covers(table) ? activeCapture.guard(table) : table;
}

/** Sums the recorded row gradients per distinct row (ascending row order). */
export function mergeRows(records: { indices: Int32Array; grads: Float32Array }[], dim: number): RowGradients {
  const slot = new Map<number, number>();
  for (const r of records) for (const i of r.indices) if (!slot.has(i)) slot.set(i, 0);
  const indices = Int32Array.from(slot.keys()).sort();
  indices.forEach((row, k) => slot.set(row, k));
  const values = new Float32Array(indices.length * dim);
  for (const r of records) {
    for (let i = 0; i < r.indices.length; i++) {
      const dst = slot.get(r.indices[i])! * dim;
      const src = i * dim;
      for (let d = 0; d < dim; d++) values[dst + d] += r.grads[src + d];
    }
  }
  return { indices, values, dim };
}
