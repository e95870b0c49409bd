/**
 * ItemKNN: the item-to-item baseline of the GRU4Rec paper (Hidasi et al., ICLR 2016), which
 * recommends the items most similar to the last item of the history.
 *
 * Similarity, as the official GRU4Rec code's baselines.py (`CoOccurence`, `Cosine`) computes it:
 *
 *   sim(i, j) = Σ_s c_s(i)·c_s(j) / ((supp_i + λ)^α · (supp_j + λ)^(1-α)),   sim(i, i) = 0
 *
 * where s runs over the training sequences, c_s(i) is how many times i occurs in s (every
 * event of i meets every event of j), and supp_i is i's event count over all of them. λ
 * regularises rarely seen items; α = 0.5 is the cosine. Only the `neighbours` most similar
 * items of each item are kept.
 *
 * Choices of seqrec's own: a "session" is a train user's training sequence (`trainSequence`), or
 * a training session of a session file;
 * an empty history, one whose last item is unknown, and the slots the neighbour list does not
 * fill are filled with the most popular items (score 0) so that k items always come back.
 */
import { z } from 'zod';
import { SeqrecError } from '../../errors.js';
import { integerIn, numberWhere, parseModelConfig } from '../config.js';
import { checkK, popularityOrder, trainingSequences, writeTopK, type ItemRanker, type NeighbourhoodSource, type RankedItems } from './ranker.js';

export const ItemKNNConfigSchema = z.strictObject({
  /** Neighbours kept per item (the official code's n_sims). Default 100. */
  neighbours: integerIn(1).default(100),
  /** λ, added to both supports (lmbd). Default 20. */
  lambda: numberWhere('a number >= 0', (v) => v >= 0).default(20),
  /** α: the weight of the query item's support (0.5 = cosine). Default 0.5. */
  alpha: numberWhere('a number in [0, 1]', (v) => v >= 0 && v <= 1).default(0.5),
});

export type ItemKNNConfig = z.output<typeof ItemKNNConfigSchema>;
export type ItemKNNOptions = z.input<typeof ItemKNNConfigSchema>;

/** Training sequences as per-sequence distinct items with their counts (CSR). */
export interface SequenceCounts {
  offsets: Int32Array;
  items: Int32Array;
  counts: Int32Array;
}

/** Each sequence as its distinct items with their counts. */
export function sequenceCounts(sequences: readonly Int32Array[]): SequenceCounts {
  const offsets = new Int32Array(sequences.length + 1);
  const items: number[] = [];
  const counts: number[] = [];
  sequences.forEach((seq, s) => {
    const local = new Map<number, number>();
    for (const item of seq) local.set(item, (local.get(item) ?? 0) + 1);
    for (const [item, c] of local) {
      items.push(item);
      counts.push(c);
    }
    offsets[s + 1] = items.length;
  });
  return { offsets, items: Int32Array.from(items), counts: Int32Array.from(counts) };
}

/** What `ItemKNN.state()` returns and `ItemKNN.fromState` takes. */
export interface ItemKNNState {
  /** [itemCount + 1]: item i's neighbours are ids[offsets[i] .. offsets[i + 1]). */
  offsets: Int32Array;
  /** Neighbour item indices, best first within each item. */
  ids: Int32Array;
  /** Their similarities. */
  sims: Float32Array;
  /** Items by training count, most frequent first: the fill of short lists. */
  fill: Int32Array;
}

function stateError(field: string, why: string): SeqrecError {
  return new SeqrecError('invalid_argument', `neighbourhood state: ${why}`, { field });
}

/** Every value of `items` is an item index 1..itemCount-1. */
export function checkItems(items: ArrayLike<number>, itemCount: number, field: string): void {
  for (let e = 0; e < items.length; e++) {
    const v = items[e];
    if (!Number.isInteger(v) || v < 1 || v >= itemCount) throw stateError(field, `${field}[${e}] is ${v}, not an item index 1..${itemCount - 1}`);
  }
}

/** CSR offsets: `rows + 1` entries from 0, non-decreasing, ending at `total`. */
export function checkOffsets(offsets: Int32Array, rows: number, total: number, field: string): void {
  if (offsets.length !== rows + 1) throw stateError(field, `${field} has ${offsets.length} entries, expected ${rows + 1}`);
  if (offsets[0] !== 0 || offsets[rows] !== total) throw stateError(field, `${field} must run from 0 to ${total}`);
  for (let i = 0; i < rows; i++) if (offsets[i + 1] < offsets[i]) throw stateError(field, `${field} must not decrease (at ${i + 1})`);
}

/** The fill order: distinct item indices. */
export function checkFill(fill: Int32Array, itemCount: number): void {
  checkItems(fill, itemCount, 'fill');
  if (new Set(fill).size !== fill.length) throw stateError('fill', 'the fill order lists an item twice');
}

export class ItemKNN implements ItemRanker {
  readonly name = 'itemknn';
  readonly config: ItemKNNConfig;

  private constructor(
    readonly itemCount: number,
    config: ItemKNNConfig,
    /** CSR neighbour lists: item i's neighbours are ids[offsets[i] .. offsets[i + 1]), best first. */
    private readonly offsets: Int32Array,
    private readonly ids: Int32Array,
    private readonly sims: Float32Array,
    private readonly fill: Int32Array,
  ) {
    this.config = config;
  }

  /** Counts the co-occurrences of the training sequences of `source` and keeps each item's neighbours. */
  static fit(source: NeighbourhoodSource, options: ItemKNNOptions = {}): ItemKNN {
    const { itemCount, sequences } = trainingSequences(source);
    return ItemKNN.fitSequences(itemCount, sequences, options);
  }

  /** `fit` over explicit encoded sequences (item indices 1..itemCount-1), e.g. a whole log. */
  static fitSequences(itemCount: number, sequences: readonly Int32Array[], options: ItemKNNOptions = {}): ItemKNN {
    const config = parseModelConfig(ItemKNNConfigSchema, options ?? {}, 'ItemKNN');
    const n = itemCount;
    for (const seq of sequences) checkItems(seq, n, 'sequences');
    const seqs = sequenceCounts(sequences);
    // Postings: for each item, the sequences it occurs in and how often.
    const supp = new Float64Array(n);
    const postingStart = new Int32Array(n + 1);
    for (let e = 0; e < seqs.items.length; e++) {
      supp[seqs.items[e]] += seqs.counts[e];
      postingStart[seqs.items[e] + 1]++;
    }
    for (let i = 0; i < n; i++) postingStart[i + 1] += postingStart[i];
    const postingSeq = new Int32Array(seqs.items.length);
    const postingCount = new Int32Array(seqs.items.length);
    const cursor = postingStart.slice(0, n);
    for (let s = 0; s + 1 < seqs.offsets.length; s++) {
      for (let e = seqs.offsets[s]; e < seqs.offsets[s + 1]; e++) {
        const at = cursor[seqs.items[e]]++;
        postingSeq[at] = s;
        postingCount[at] = seqs.counts[e];
      }
    }
    const { neighbours: m, lambda, alpha } = config;
    const offsets = new Int32Array(n + 1);
    const ids: number[] = [];
    const sims: number[] = [];
    const cooc = new Float64Array(n);
    for (let i = 1; i < n; i++) {
      const touched: number[] = [];
      for (let p = postingStart[i]; p < postingStart[i + 1]; p++) {
        const s = postingSeq[p];
        const ci = postingCount[p];
        for (let e = seqs.offsets[s]; e < seqs.offsets[s + 1]; e++) {
          const j = seqs.items[e];
          if (j === i) continue;
          if (cooc[j] === 0) touched.push(j);
          cooc[j] += ci * seqs.counts[e];
        }
      }
      const left = Math.pow(supp[i] + lambda, alpha);
      const sim = (j: number) => cooc[j] / (left * Math.pow(supp[j] + lambda, 1 - alpha) || 1);
      const scored = touched.map((j) => ({ j, s: sim(j) }));
      scored.sort((a, b) => b.s - a.s || a.j - b.j);
      for (const { j, s } of scored.slice(0, m)) {
        ids.push(j);
        sims.push(s);
      }
      offsets[i + 1] = ids.length;
      for (const j of touched) cooc[j] = 0;
    }
    return new ItemKNN(n, config, offsets, Int32Array.from(ids), Float32Array.from(sims), popularityOrder(n, sequences));
  }

  /** The fitted state (views, not copies): what a bundle stores (src/bundle/ranker-bundle.ts). */
  state(): ItemKNNState {
    return { offsets: this.offsets, ids: this.ids, sims: this.sims, fill: this.fill };
  }

  /** An ItemKNN from a fitted state (`state()`), checked: offsets, ids, similarities and fill order. */
  static fromState(itemCount: number, options: ItemKNNOptions, state: ItemKNNState): ItemKNN {
    const config = parseModelConfig(ItemKNNConfigSchema, options ?? {}, 'ItemKNN');
    if (!Number.isInteger(itemCount) || itemCount < 2) throw stateError('itemCount', `itemCount must be an integer >= 2, got ${itemCount}`);
    checkOffsets(state.offsets, itemCount, state.ids.length, 'offsets');
    if (state.sims.length !== state.ids.length) throw stateError('sims', `${state.sims.length} similarities for ${state.ids.length} neighbour ids`);
    checkItems(state.ids, itemCount, 'ids');
    if (!state.sims.every((v) => Number.isFinite(v) && v >= 0)) throw stateError('sims', 'similarities must be finite and >= 0');
    checkFill(state.fill, itemCount);
    return new ItemKNN(itemCount, config, state.offsets, state.ids, state.sims, state.fill);
  }

  /** Item `item`'s kept neighbours, best first. */
  neighboursOf(item: number): { ids: Int32Array; sims: Float32Array } {
    if (!Number.isInteger(item) || item < 1 || item >= this.itemCount) {
      throw new SeqrecError('invalid_argument', `ItemKNN: item index ${item} is out of range 1..${this.itemCount - 1}`, { field: 'item' });
    }
    return { ids: this.ids.subarray(this.offsets[item], this.offsets[item + 1]), sims: this.sims.subarray(this.offsets[item], this.offsets[item + 1]) };
  }

  rank(histories: readonly ArrayLike<number>[], k: number, exclude?: readonly (ArrayLike<number> | undefined)[]): RankedItems {
    checkK(k, 'ItemKNN');
    const out: RankedItems = { ids: new Int32Array(histories.length * k), scores: new Float32Array(histories.length * k), k };
    const values = new Float64Array(this.itemCount);
    histories.forEach((history, h) => {
      const last = history.length > 0 ? history[history.length - 1] : 0;
      const items: number[] = [];
      if (last >= 1 && last < this.itemCount) {
        const { ids, sims } = this.neighboursOf(last);
        ids.forEach((j, r) => {
          values[j] = sims[r];
          items.push(j);
        });
      }
      writeTopK(out, h, items, values, this.fill, exclude?.[h]);
      for (const j of items) values[j] = 0;
    });
    return out;
  }
}
