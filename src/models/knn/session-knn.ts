/**
 * SessionKNN: V-SKNN, the vector-multiplication session kNN of Ludewig & Jannach, "Evaluation
 * of session-based recommendation algorithms" (UMUAI 2018), which the later baseline studies
 * found hard to beat. For a history h of n items (oldest first, position p = 1..n):
 *
 *   w(x)      = weighting(p_x, n), p_x the last position of item x in h ('div': p_x / n)
 *   sim(h, s) = Σ_{x ∈ h ∩ s} w(x) / |distinct items of h|
 *   N(h)      = the `neighbours` training sequences s with the largest sim(h, s) > 0, drawn
 *               from the `sampleSize` most recent sequences that share an item with h
 *   score(j)  = Σ_{s ∈ N(h), j ∈ s} sim(h, s) · decay(step_s)
 *
 * where step_s is how far from the end of h the most recent item that s shares lies (1 = the
 * last item; 'div': decay = 1 / step). The weights and defaults (k 100, sample 1000, 'div' for
 * both) follow the session-rec framework's vsknn.py, the code of that study; items of the
 * history stay rankable there ("remind") and here, unless the evaluation excludes them.
 *
 * Choices of seqrec's own: a "session" is a train user's training sequence (or a training
 * session of a session file), as a set of items; "most recent" means last in the source's
 * order (session files are in time order; a dataset keeps no timestamps, so its user order);
 * under leave-one-out the user's own training sequence is among the candidates (its items are
 * the history's, so `exclude: 'history'` removes what it adds); unfilled slots take the most
 * popular items (score 0).
 */
import { z } from 'zod';
import { integerIn, oneOf, parseModelConfig } from '../config.js';
import { SeqrecError } from '../../errors.js';
import { checkFill, checkItems, checkOffsets, sequenceCounts } from './item-knn.js';
import { checkK, popularityOrder, trainingSequences, writeTopK, type ItemRanker, type NeighbourhoodSource, type RankedItems } from './ranker.js';

const DECAYS = ['same', 'div', 'log', 'quadratic'] as const;
type Decay = (typeof DECAYS)[number];

export const SessionKNNConfigSchema = z.strictObject({
  /** Neighbour sequences that score items (k). Default 100. */
  neighbours: integerIn(1).default(100),
  /** Candidates: the most recent sequences sharing an item with the history; 0 = all. Default 1000. */
  sampleSize: integerIn(0).default(1000),
  /** Weight of a history item by its position: same 1, div p/n, log 1/log10(n-p+1.7), quadratic (p/n)². Default 'div'. */
  weighting: oneOf(DECAYS).default('div'),
  /** Decay of a neighbour's scores by the step of its latest shared item: same 1, div 1/s, log 1/log10(s+1.7), quadratic 1/s². Default 'div'. */
  scoreDecay: oneOf(DECAYS).default('div'),
});

export type SessionKNNConfig = z.output<typeof SessionKNNConfigSchema>;
export type SessionKNNOptions = z.input<typeof SessionKNNConfigSchema>;

function positionWeight(kind: Decay, p: number, n: number): number {
  if (kind === 'div') return p / n;
  if (kind === 'log') return 1 / Math.log10(n - p + 1.7);
  if (kind === 'quadratic') return (p / n) ** 2;
  return 1;
}

function stepDecay(kind: Decay, step: number): number {
  if (kind === 'div') return 1 / step;
  if (kind === 'log') return 1 / Math.log10(step + 1.7);
  if (kind === 'quadratic') return 1 / (step * step);
  return 1;
}

/** What `SessionKNN.state()` returns and `SessionKNN.fromState` takes. */
export interface SessionKNNState {
  /** [sequences + 1]: sequence s's distinct items are items[offsets[s] .. offsets[s + 1]). */
  offsets: Int32Array;
  items: Int32Array;
  /** Items by training count, most frequent first: the fill of short lists. */
  fill: Int32Array;
}

export class SessionKNN implements ItemRanker {
  readonly name = 'sknn';
  readonly config: SessionKNNConfig;
  private readonly simSum: Float64Array;
  private readonly latest: Int32Array;
  private readonly values: Float64Array;

  private constructor(
    readonly itemCount: number,
    config: SessionKNNConfig,
    /** Sequence s's distinct items: items[offsets[s] .. offsets[s + 1]). */
    private readonly offsets: Int32Array,
    private readonly items: Int32Array,
    /** Item i's sequences, ascending: postings[postingStart[i] .. postingStart[i + 1]). */
    private readonly postingStart: Int32Array,
    private readonly postings: Int32Array,
    private readonly fill: Int32Array,
  ) {
    this.config = config;
    const sequences = offsets.length - 1;
    this.simSum = new Float64Array(sequences);
    this.latest = new Int32Array(sequences);
    this.values = new Float64Array(itemCount);
  }

  /** Indexes the training sequences of `source` (items per sequence, sequences per item). */
  static fit(source: NeighbourhoodSource, options: SessionKNNOptions = {}): SessionKNN {
    const config = parseModelConfig(SessionKNNConfigSchema, options ?? {}, 'SessionKNN');
    const { itemCount: n, sequences } = trainingSequences(source);
    const { offsets, items } = sequenceCounts(sequences);
    return SessionKNN.build(n, config, offsets, items, popularityOrder(n, sequences));
  }

  /** The fitted state (views, not copies): what a bundle stores (src/bundle/ranker-bundle.ts). */
  state(): SessionKNNState {
    return { offsets: this.offsets, items: this.items, fill: this.fill };
  }

  /** A SessionKNN from a fitted state (`state()`), checked; the postings are rebuilt from it. */
  static fromState(itemCount: number, options: SessionKNNOptions, state: SessionKNNState): SessionKNN {
    const config = parseModelConfig(SessionKNNConfigSchema, options ?? {}, 'SessionKNN');
    if (!Number.isInteger(itemCount) || itemCount < 2) {
      throw new SeqrecError('invalid_argument', `neighbourhood state: itemCount must be an integer >= 2, got ${itemCount}`, { field: 'itemCount' });
    }
    checkOffsets(state.offsets, state.offsets.length - 1, state.items.length, 'offsets');
    checkItems(state.items, itemCount, 'items');
    checkFill(state.fill, itemCount);
    return SessionKNN.build(itemCount, config, state.offsets, state.items, state.fill);
  }

  private static build(n: number, config: SessionKNNConfig, offsets: Int32Array, items: Int32Array, fill: Int32Array): SessionKNN {
    const postingStart = new Int32Array(n + 1);
    for (const item of items) postingStart[item + 1]++;
    for (let i = 0; i < n; i++) postingStart[i + 1] += postingStart[i];
    const postings = new Int32Array(items.length);
    const cursor = postingStart.slice(0, n);
    for (let s = 0; s + 1 < offsets.length; s++) {
      for (let e = offsets[s]; e < offsets[s + 1]; e++) postings[cursor[items[e]]++] = s;
    }
    return new SessionKNN(n, config, offsets, items, postingStart, postings, fill);
  }

  rank(histories: readonly ArrayLike<number>[], k: number, exclude?: readonly (ArrayLike<number> | undefined)[]): RankedItems {
    checkK(k, 'SessionKNN');
    const out: RankedItems = { ids: new Int32Array(histories.length * k), scores: new Float32Array(histories.length * k), k };
    histories.forEach((history, h) => {
      const scored = this.scoreHistory(history);
      writeTopK(out, h, scored, this.values, this.fill, exclude?.[h]);
      for (const j of scored) this.values[j] = 0;
    });
    return out;
  }

  /** Fills `values` for one history; returns the items it scored. */
  private scoreHistory(history: ArrayLike<number>): number[] {
    const { neighbours, sampleSize, weighting, scoreDecay } = this.config;
    const { simSum, latest, values } = this;
    const n = history.length;
    const lastPosition = new Map<number, number>();
    for (let p = 0; p < n; p++) if (history[p] >= 1 && history[p] < this.itemCount) lastPosition.set(history[p], p + 1);
    const candidates: number[] = [];
    for (const [item, p] of lastPosition) {
      const w = positionWeight(weighting, p, n);
      for (let e = this.postingStart[item]; e < this.postingStart[item + 1]; e++) {
        const s = this.postings[e];
        if (latest[s] === 0) candidates.push(s);
        simSum[s] += w;
        if (p > latest[s]) latest[s] = p;
      }
    }
    // The sample: the most recent (last in data order) candidates.
    let pool = candidates;
    if (sampleSize > 0 && pool.length > sampleSize) pool = pool.sort((a, b) => b - a).slice(0, sampleSize);
    // Top neighbours by similarity (ties: the more recent).
    const top = pool.filter((s) => simSum[s] > 0).sort((a, b) => simSum[b] - simSum[a] || b - a);
    const scored: number[] = [];
    const distinct = lastPosition.size;
    for (const s of top.slice(0, neighbours)) {
      const weight = (simSum[s] / distinct) * stepDecay(scoreDecay, n - latest[s] + 1);
      for (let e = this.offsets[s]; e < this.offsets[s + 1]; e++) {
        const j = this.items[e];
        if (values[j] === 0) scored.push(j);
        values[j] += weight;
      }
    }
    for (const s of candidates) {
      simSum[s] = 0;
      latest[s] = 0;
    }
    return scored;
  }
}
