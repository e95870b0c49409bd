/**
 * Session-parallel evaluation, and the per-lane hidden states that training and evaluation
 * carry across steps (src/data/session-parallel.ts makes the lanes).
 *
 * `evaluateSessionParallel` is next-item prediction over every event of the test sessions (the
 * target is only the very next item), ranked against ALL items (padding excluded, history
 * items not removed), reported as recall@N (= hit rate: one target) and MRR@N, averaged over
 * events, as in the GRU4Rec papers. Ties: `'standard'` (default, the official run.py default)
 * rank = 1 + #{items scoring strictly higher than the target}; `'conservative'` rank =
 * #{items scoring >= the target}; `'median'` the average of the two.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFloats } from '../backend/memory.js';
import { sessionParallelSteps, type SessionSet } from '../data/session-parallel.js';
import { SeqrecError } from '../errors.js';
import type { GRU4Rec } from '../models/gru4rec.js';
import type { ItemRanker } from '../models/knn/ranker.js';
import type { SessionEvaluationOptions, SessionMetrics } from './records.js';

/** What a model needs for session-parallel training (GRU4Rec implements it). */
export type SessionRecurrentModel = Pick<
  GRU4Rec,
  'sessionStep' | 'stateSizes' | 'itemEmbeddings' | 'trainableVariables' | 'itemCount' | 'trainRng' | 'itemFeatureStrategy'
>;

export function assertSessionsFit(model: SessionRecurrentModel, sessions: SessionSet): void {
  if (sessions.itemCount !== model.itemCount) {
    throw new SeqrecError('shape_mismatch', `the sessions have ${sessions.itemCount} item rows (with padding), the model ${model.itemCount}`);
  }
}

/** One hidden state per lane and layer, carried from step to step. */
export class LaneStates {
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

/**
 * Next-item recall@N and MRR@N over every event of `sessions` (see the module comment for the
 * protocol and the tie modes), with the same session-parallel lanes and per-lane resets as
 * training and no dropout.
 */
export function evaluateSessionParallel(model: SessionRecurrentModel, sessions: SessionSet, options: SessionEvaluationOptions = {}): SessionMetrics {
  const cutoffs = options.cutoffs ?? [20];
  const batchSize = options.batchSize ?? 512;
  const ties = options.ties ?? 'standard';
  if (!['standard', 'conservative', 'median'].includes(ties))
    throw new SeqrecError('invalid_config', `ties must be 'standard', 'conservative' or 'median', got '${ties}'`, { field: 'ties' });
  for (const c of cutoffs) {
    if (!Number.isInteger(c) || c < 1) throw new SeqrecError('invalid_config', `cutoffs must be an integer >= 1, got ${c}`, { field: 'cutoffs' });
  }
  assertSessionsFit(model, sessions);
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
  return sessionReport(cutoffs, hits, rr, events);
}

/**
 * The same next-item protocol for a neighbourhood model (ItemKNN, SessionKNN): every prefix of
 * every test session ranks the item that follows it. The rank is the target's position in the
 * model's own top list (its ties broken by item index, then the popularity fill), which is
 * never better than the 'standard' tie rule would give a list with tied zero scores.
 */
export function evaluateSessionsRanked(
  model: ItemRanker,
  sessions: SessionSet,
  options: Pick<SessionEvaluationOptions, 'cutoffs' | 'batchSize'> = {},
): SessionMetrics {
  const cutoffs = options.cutoffs ?? [20];
  const batchSize = options.batchSize ?? 512;
  if (sessions.itemCount !== model.itemCount) {
    throw new SeqrecError('shape_mismatch', `the sessions have ${sessions.itemCount} item rows (with padding), the model ${model.itemCount}`);
  }
  const k = Math.max(...cutoffs);
  const hits = new Float64Array(cutoffs.length);
  const rr = new Float64Array(cutoffs.length);
  let events = 0;
  let prefixes: Int32Array[] = [];
  let targets: number[] = [];
  const flush = () => {
    const ranked = model.rank(prefixes, k);
    targets.forEach((target, q) => {
      const at = ranked.ids.subarray(q * k, (q + 1) * k).indexOf(target);
      cutoffs.forEach((c, i) => {
        if (at >= 0 && at < c) {
          hits[i]++;
          rr[i] += 1 / (at + 1);
        }
      });
    });
    events += targets.length;
    [prefixes, targets] = [[], []];
  };
  for (let s = 0; s < sessions.count; s++) {
    const session = sessions.session(s);
    for (let t = 1; t < session.length; t++) {
      prefixes.push(session.subarray(0, t));
      targets.push(session[t]);
      if (targets.length === batchSize) flush();
    }
  }
  if (targets.length > 0) flush();
  return sessionReport(cutoffs, hits, rr, events);
}

/** recall@N (hits over events) and MRR@N per cutoff, plus the event count. */
function sessionReport(cutoffs: readonly number[], hits: Float64Array, rr: Float64Array, events: number): SessionMetrics {
  const report: SessionMetrics = {};
  cutoffs.forEach((c, i) => {
    report[`recall@${c}`] = events ? hits[i] / events : 0;
    report[`mrr@${c}`] = events ? rr[i] / events : 0;
  });
  report.events = events;
  return report;
}
