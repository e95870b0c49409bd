/**
 * Taking Adam's state out of a training step and putting it back, for bundles that carry it
 * (src/bundle/optimizer-state.ts is the file format) and warm starts that continue it.
 *
 * Restoring into a model with more item rows than the saved one (a warm start on a grown
 * log): the moments of the old rows are copied exactly, those of the new rows start at zero
 * (as a fresh Adam starts every row), and the step count continues, so the new rows' first
 * updates use the continued bias correction: lr·(1 − β1)·√(1 − β2^t) / ((1 − β1^t)·√(1 − β2)),
 * which grows from a fresh Adam's lr towards ≈ 3·lr once t ≫ 1/(1 − β2). The state is not restored, and training starts a fresh
 * Adam, when it does not fit: another item-gradient mode (dense Adam vs row-wise Adam for the
 * item table), other β1, β2 or ε, or a weight whose moments have another shape. A different
 * learning rate does not prevent it (the moments do not depend on it).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { OptimizerState, WeightMoments } from '../bundle/optimizer-state.js';
import type { FusedAdam, Moments } from './fused-adam.js';
import type { RowSparseAdam } from './row-adam.js';

/** The optimizers of one Adam step: dense Adam, and row-wise Adam for the item table when sparse. */
export interface AdamParts {
  dense: FusedAdam;
  rows: { adam: RowSparseAdam; table: tf.Variable } | null;
}

/** What a warm start did with the parent's optimizer state. */
export type OptimizerRestore =
  | { restored: true; /** Adam's step count the fit continues from. */ step: number; note: string }
  | { restored: false; /** Why a fresh Adam starts. */ note: string };

type Named = readonly { name: string; variable: tf.Variable }[];

/** The state of `parts` with weights named by `named` (copies); `itemRows` is the model's. */
export function captureAdamState(parts: AdamParts, named: Named, itemRows: number): OptimizerState {
  const nameOf = new Map(named.map(({ name, variable }) => [variable.name, name]));
  const dense = parts.dense.exportState();
  const moments: WeightMoments[] = dense.moments.map((s) => {
    const weight = nameOf.get(s.name);
    if (weight === undefined) throw new Error(`captureAdamState: the optimizer has moments of '${s.name}', which is not one of the model's weights`);
    return { weight, shape: s.shape, m: s.m, v: s.v };
  });
  let rowWise: OptimizerState['rowWise'] = null;
  if (parts.rows) {
    const weight = nameOf.get(parts.rows.table.name)!;
    const r = parts.rows.adam.exportState();
    rowWise = { weight, step: r.step };
    if (r.m && r.v) moments.push({ weight, shape: parts.rows.table.shape.slice(), m: r.m, v: r.v });
  }
  return {
    optimizer: 'adam',
    itemGradients: parts.rows ? 'sparse' : 'dense',
    learningRate: parts.dense.learningRate,
    beta1: parts.dense.beta1,
    beta2: parts.dense.beta2,
    epsilon: parts.dense.epsilon,
    step: dense.step,
    accBeta1: dense.accBeta1,
    accBeta2: dense.accBeta2,
    itemRows,
    rowWise,
    moments,
  };
}

/** `values` laid into `shape` (same shape: copied; more item rows: the old rows, then zeros). */
function grown(values: Float32Array, shape: readonly number[]): Float32Array {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  out.set(values);
  return out;
}

/**
 * Puts `state` into `parts` for the model of `named` with `itemRows` rows (see the module
 * comment); returns what it did. Nothing is changed when it is not restored.
 */
export function restoreAdamState(parts: AdamParts, named: Named, itemRows: number, state: OptimizerState | null): OptimizerRestore {
  const fresh = (why: string): OptimizerRestore => ({ restored: false, note: `${why}: Adam starts afresh` });
  if (!state) return fresh('the parent was saved without optimizer state (saveOptimizerState / --save-optimizer)');
  const mode = parts.rows ? 'sparse' : 'dense';
  if (state.itemGradients !== mode) return fresh(`the parent's item table was trained with itemGradients '${state.itemGradients}', this fit uses '${mode}'`);
  const d = parts.dense;
  for (const key of ['beta1', 'beta2', 'epsilon'] as const) {
    if (state[key] !== d[key]) return fresh(`the parent's Adam has ${key} ${state[key]}, this one ${d[key]}`);
  }
  if (state.itemRows > itemRows) return fresh(`the parent has ${state.itemRows} item rows, this model ${itemRows}`);
  const own = new Map(named.map((w) => [w.name, w.variable]));
  const restored = new Map<string, { variable: tf.Variable; m: Float32Array; v: Float32Array }>();
  for (const w of state.moments) {
    const variable = own.get(w.weight);
    if (!variable) return fresh(`the parent's optimizer has moments of '${w.weight}', which this model lacks`);
    const to = variable.shape;
    const same = w.shape.join(',') === to.join(',');
    const moreRows = w.shape[0] === state.itemRows && to[0] === itemRows && w.shape.slice(1).join(',') === to.slice(1).join(',');
    if (!same && !moreRows) return fresh(`the moments of '${w.weight}' are [${w.shape}], the weight is [${to}]`);
    restored.set(w.weight, { variable, m: grown(w.m, to), v: grown(w.v, to) });
  }
  const rows = parts.rows;
  const table = rows ? named.find((w) => w.variable === rows.table)?.name : undefined;
  if (rows && state.rowWise?.weight !== table) return fresh(`the parent's row-wise Adam trained '${state.rowWise?.weight}', this one trains '${table}'`);
  const dense: Moments[] = [];
  for (const [weight, { variable, m, v }] of restored) {
    if (weight !== table) dense.push({ name: variable.name, shape: variable.shape.slice(), m, v });
  }
  d.restoreState({ step: state.step, accBeta1: state.accBeta1, accBeta2: state.accBeta2, moments: dense });
  if (parts.rows) {
    const t = table !== undefined ? restored.get(table) : undefined;
    parts.rows.adam.restoreState({ step: state.rowWise?.step ?? state.step, m: t?.m ?? null, v: t?.v ?? null });
  }
  const added = itemRows - state.itemRows;
  const lr = state.learningRate !== d.learningRate ? `; learning rate ${d.learningRate} (the parent's was ${state.learningRate})` : '';
  return {
    restored: true,
    step: state.step,
    note: `Adam continues from the parent's state at step ${state.step}${added > 0 ? ` (the ${added} new item rows start at zero moments)` : ''}${lr}`,
  };
}
