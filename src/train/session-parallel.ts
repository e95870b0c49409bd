/**
 * GRU4Rec's training mode for session data: session-parallel mini-batches
 * (src/data/session-parallel.ts) with one hidden state per lane carried across steps, reset to
 * zero only for the lanes whose session ended (G1), in training and in evaluation.
 *
 * Backprop is truncated after every step, as the official GRU4Rec does: a step's initial
 * states are constants (the previous step's states, detached), so each mini-batch is one GRU
 * step, one loss over the lanes' next items, one optimiser update.
 *
 * Evaluation (`evaluateSessionParallel`) is next-item prediction over every event of the test
 * sessions (the target is only the very next item), ranked against ALL items (padding
 * excluded, history items not removed), reported as recall@N (= hit rate: one target) and
 * MRR@N, averaged over events, as in the GRU4Rec papers. Ties: `'standard'` (default, the
 * official run.py default) rank = 1 + #{items scoring strictly higher than the target};
 * `'conservative'` rank = #{items scoring ≥ the target}; `'median'` the average of the two.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFloats, updateInPlace } from '../backend/memory.js';
import { sessionParallelSteps, type SessionSet } from '../data/session-parallel.js';
import { SeqrecError } from '../errors.js';
import { resolveLoss, type LossName } from '../losses/index.js';
import type { LossFunction } from '../losses/types.js';
import type { GRU4Rec } from '../models/gru4rec.js';
import { embeddingLookup, RowGradientCapture, tableForLoss, type RowGradients } from '../ops/embedding.js';
import { checkLearningRate, nonFiniteWeight, restoreWeights, snapshotWeights } from './step.js';

/** What a model needs for session-parallel training (GRU4Rec implements it). */
export type SessionRecurrentModel = Pick<GRU4Rec, 'sessionStep' | 'stateSizes' | 'itemEmbeddings' | 'trainableVariables' | 'itemCount' | 'trainRng'>;

export type TieMode = 'standard' | 'conservative' | 'median';

export interface SessionEvaluationOptions {
  /** Cutoffs. Default [20]. */
  cutoffs?: number[];
  /** Lanes. Default 512 (the official batch_eval default). */
  batchSize?: number;
  /** Tie handling; default 'standard'. */
  ties?: TieMode;
}

export interface SessionMetrics {
  /** `recall@N` and `mrr@N` per cutoff, plus `events`: how many predictions were averaged. */
  [key: string]: number;
}

export interface SessionEpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's (input, target) pairs. */
  loss: number;
  steps: number;
  /** (input, target) pairs trained on: every event but the last of each session. */
  events: number;
  seconds: number;
  /** Evaluation after the epoch, when `evaluation` was given. */
  eval?: SessionMetrics;
  evalSeconds?: number;
}

export interface SessionTrainOptions {
  /** Loss by name or function. Default 'bpr-max' (in-batch + 2,048 popularity^0.5 negatives, bpreg 1). */
  loss?: LossName | LossFunction;
  /** Lanes B. Default 128. */
  batchSize?: number;
  /** Epochs. Default 10 (the official default). */
  epochs?: number;
  /** Default 1e-3 for Adam, 0.05 for Adagrad. */
  learningRate?: number;
  /**
   * 'adam' (default, as the Trainer; dense) or 'adagrad': the official GRU4Rec's update
   * (Adagrad with a zero accumulator, ε = 1e-6 inside the square root, plus `momentum`), with
   * the item table updated row-sparsely as the official IndexedAdagradM does (rows with a
   * nonzero gradient; untouched rows keep their value, accumulator and momentum).
   */
  optimizer?: 'adam' | 'adagrad';
  /** Adagrad momentum. Default 0. */
  momentum?: number;
  /** Counts the samplers use; default the training sessions' event counts (the official P0). */
  itemPopularity?: ArrayLike<number>;
  /** Evaluate on these sessions after every epoch. */
  evaluation?: { sessions: SessionSet } & SessionEvaluationOptions;
  log?: (line: string) => void;
  onStep?: (step: number, loss: number, rows: number) => void;
  onEpochEnd?: (record: SessionEpochRecord) => void | Promise<void>;
  /** Stop after this many steps per epoch (benchmarks, smoke tests). Default: no limit. */
  maxStepsPerEpoch?: number;
}

export interface SessionTrainResult {
  history: SessionEpochRecord[];
  seconds: number;
}

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

class LaneStates {
  readonly data: Float32Array[];
  constructor(
    lanes: number,
    private readonly sizes: number[],
  ) {
    this.data = sizes.map((h) => new Float32Array(lanes * h));
  }

  /** [R, H] tensors of the rows' lanes (reset lanes are zeroed by the op's reset mask). */
  gather(lanes: Int32Array): tf.Tensor2D[] {
    return this.sizes.map((h, l) => {
      const out = new Float32Array(lanes.length * h);
      for (let r = 0; r < lanes.length; r++) out.set(this.data[l].subarray(lanes[r] * h, lanes[r] * h + h), r * h);
      return tf.tensor2d(out, [lanes.length, h]);
    });
  }

  scatter(lanes: Int32Array, states: tf.Tensor2D[]): void {
    states.forEach((s, l) => {
      const h = this.sizes[l];
      const v = readFloats(s);
      for (let r = 0; r < lanes.length; r++) this.data[l].set(v.subarray(r * h, r * h + h), lanes[r] * h);
    });
  }
}

function positiveInt(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 1) throw new SeqrecError('invalid_config', `${name} must be an integer >= 1, got ${v}`, { field: name });
}

/** Trains `model` on `sessions` with session-parallel mini-batches. */
export async function trainSessionParallel(model: SessionRecurrentModel, sessions: SessionSet, options: SessionTrainOptions = {}): Promise<SessionTrainResult> {
  const batchSize = options.batchSize ?? 128;
  const epochs = options.epochs ?? 10;
  const optimizerName = options.optimizer ?? 'adam';
  const learningRate = options.learningRate ?? (optimizerName === 'adam' ? 1e-3 : 0.05);
  const momentum = options.momentum ?? 0;
  positiveInt(batchSize, 'batchSize');
  positiveInt(epochs, 'epochs');
  checkLearningRate(learningRate, '');
  if (!(momentum >= 0 && momentum < 1)) throw new SeqrecError('invalid_config', `momentum must be in [0, 1), got ${momentum}`, { field: 'momentum' });
  if (optimizerName !== 'adam' && optimizerName !== 'adagrad') throw new SeqrecError('invalid_config', `optimizer must be 'adam' or 'adagrad', got '${String(optimizerName)}'`, { field: 'optimizer' });
  if (sessions.itemCount !== model.itemCount) {
    throw new SeqrecError('shape_mismatch', `the sessions have ${sessions.itemCount} item rows (with padding), the model ${model.itemCount}`);
  }
  const lossFn = resolveLoss(options.loss ?? 'bpr-max', {
    itemCount: sessions.itemCount,
    itemPopularity: options.itemPopularity ?? sessions.itemPopularity(),
  });
  const variables = model.trainableVariables();
  const table = model.itemEmbeddings();
  const optimizer: StepOptimizer = optimizerName === 'adam' ? tf.train.adam(learningRate) : new AdagradMomentum(learningRate, momentum, table instanceof tf.Variable ? (table as tf.Variable<tf.Rank.R2>) : null);
  const started = performance.now();
  const history: SessionEpochRecord[] = [];
  let step = 0;
  // The last weights known to be finite (there is no early stopping here to pick a best epoch):
  // a failed run is rolled back to them.
  let lastFinite = snapshotWeights(variables);
  let finiteEpoch = 0;
  const diverged = (what: string): SeqrecError =>
    new SeqrecError(
      'diverged',
      `${what}: training diverged. The model keeps ${finiteEpoch ? `its weights after epoch ${finiteEpoch}` : 'the weights it started from'}; ` +
        `lower the learning rate (now ${learningRate})`,
      { field: 'learningRate' },
    );
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const t0 = performance.now();
      const states = new LaneStates(batchSize, model.stateSizes());
      let lossSum = 0;
      let events = 0;
      let steps = 0;
      for (const s of sessionParallelSteps(sessions, batchSize)) {
        if (options.maxStepsPerEpoch !== undefined && steps >= options.maxStepsPerEpoch) break;
        const init = states.gather(s.lanes);
        let carried: tf.Tensor2D[] = [];
        const cost = optimizer.minimize(
          () => {
            const out = model.sessionStep(s.inputs, init, s.reset, { training: true });
            carried = out.states.map((t) => tf.keep(t));
            const targets = tf.tensor1d(s.targets, 'int32');
            const targetEmbeddings = embeddingLookup(table, targets) as tf.Tensor2D;
            return lossFn({ user: out.user, items: tableForLoss(table), targets, targetIds: s.targets, targetEmbeddings, rng: model.trainRng });
          },
          true,
          variables,
        );
        const value = cost!.dataSync()[0];
        cost!.dispose();
        states.scatter(s.lanes, carried);
        tf.dispose([...init, ...carried]);
        if (!Number.isFinite(value)) throw diverged(`loss became ${value} at epoch ${epoch}, step ${steps + 1}`);
        lossSum += value * s.size;
        events += s.size;
        steps++;
        step++;
        options.onStep?.(step, value, s.size);
      }
      const bad = nonFiniteWeight(variables);
      if (bad >= 0) throw diverged(`weight '${variables[bad].name}' has non-finite values after epoch ${epoch}`);
      lastFinite = snapshotWeights(variables);
      finiteEpoch = epoch;
      const record: SessionEpochRecord = { epoch, loss: events ? lossSum / events : NaN, steps, events, seconds: (performance.now() - t0) / 1000 };
      if (options.evaluation) {
        const t1 = performance.now();
        record.eval = evaluateSessionParallel(model, options.evaluation.sessions, options.evaluation);
        record.evalSeconds = (performance.now() - t1) / 1000;
      }
      history.push(record);
      options.log?.(formatSessionEpoch(record));
      await options.onEpochEnd?.(record);
      await new Promise((r) => setImmediate(r));
    }
  } catch (e) {
    restoreWeights(lastFinite);
    throw e;
  } finally {
    optimizer.dispose();
  }
  return { history, seconds: (performance.now() - started) / 1000 };
}

export function formatSessionEpoch(r: SessionEpochRecord): string {
  const ev = r.eval ? '  ' + Object.entries(r.eval).filter(([k]) => k !== 'events').map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ') : '';
  return `epoch ${String(r.epoch).padStart(3)}  loss ${r.loss.toFixed(4)}  ${r.steps} steps  ${Math.round(r.events / r.seconds)} events/s  ${r.seconds.toFixed(1)}s${r.evalSeconds !== undefined ? `+${r.evalSeconds.toFixed(1)}s` : ''}${ev}`;
}

/**
 * Next-item recall@N and MRR@N over every event of `sessions` (see the module comment for the
 * protocol and the tie modes), with the same session-parallel lanes and per-lane resets as
 * training and no dropout.
 */
export function evaluateSessionParallel(model: SessionRecurrentModel, sessions: SessionSet, options: SessionEvaluationOptions = {}): SessionMetrics {
  const cutoffs = options.cutoffs ?? [20];
  const batchSize = options.batchSize ?? 512;
  const ties = options.ties ?? 'standard';
  if (!['standard', 'conservative', 'median'].includes(ties)) throw new SeqrecError('invalid_config', `ties must be 'standard', 'conservative' or 'median', got '${ties}'`, { field: 'ties' });
  for (const c of cutoffs) positiveInt(c, 'cutoffs');
  if (sessions.itemCount !== model.itemCount) {
    throw new SeqrecError('shape_mismatch', `the sessions have ${sessions.itemCount} item rows (with padding), the model ${model.itemCount}`);
  }
  const n = model.itemCount;
  const hits = new Float64Array(cutoffs.length);
  const rr = new Float64Array(cutoffs.length);
  let events = 0;
  const states = new LaneStates(batchSize, model.stateSizes());
  for (const s of sessionParallelSteps(sessions, batchSize)) {
    const init = states.gather(s.lanes);
    const out = model.sessionStep(s.inputs, init, s.reset, { training: false });
    states.scatter(s.lanes, out.states);
    const scoresT = tf.matMul(out.user, model.itemEmbeddings(), false, true);
    const scores = readFloats(scoresT);
    for (let r = 0; r < s.size; r++) {
      const base = r * n;
      const target = scores[base + s.targets[r]];
      let higher = 0;
      let equal = 0; // other items (not the target) with the same score
      for (let j = 1; j < n; j++) {
        const v = scores[base + j];
        if (v > target) higher++;
        else if (v === target && j !== s.targets[r]) equal++;
      }
      // A NaN target score is a miss, not rank 1 (nothing compares greater than NaN).
      const rank = Number.isNaN(target) ? Infinity : ties === 'standard' ? higher + 1 : ties === 'conservative' ? higher + equal + 1 : higher + 1 + equal / 2;
      for (let c = 0; c < cutoffs.length; c++) {
        if (rank <= cutoffs[c]) {
          hits[c]++;
          rr[c] += 1 / rank;
        }
      }
    }
    events += s.size;
    tf.dispose([...init, ...out.states, out.user, scoresT]);
  }
  const report: SessionMetrics = {};
  cutoffs.forEach((c, i) => {
    report[`recall@${c}`] = events ? hits[i] / events : 0;
    report[`mrr@${c}`] = events ? rr[i] / events : 0;
  });
  report.events = events;
  return report;
}
