/**
 * Partial top-k selection with a size-k min-heap: O(n log k) time, O(k) memory, and it
 * works on streamed candidates, which is what the blocked exact retriever needs.
 *
 * Order: score descending, ties broken by the lower item id, so results are deterministic
 * whatever order candidates arrive in. NaN scores cannot be ranked and are never kept.
 */
import { SeqrecError } from '../errors.js';
import { toExcludeSet, type ExcludeList } from './exclude.js';

export interface TopKResult {
  /** [k] item ids, best first; -1 where fewer than k candidates were kept. */
  ids: Int32Array;
  /** [k] scores; -Infinity in the -1 slots. */
  scores: Float32Array;
}

/**
 * Keeps the best `k` (id, score) pairs seen so far. The root is the worst kept pair, so a
 * candidate can be rejected with one comparison against {@link TopKHeap.threshold}.
 */
export class TopKHeap {
  readonly k: number;
  private readonly ids: Int32Array;
  // Float64 so that callers may rank by unrounded scores if they choose.
  private readonly scores: Float64Array;
  private n = 0;

  constructor(k: number) {
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
      throw new SeqrecError('invalid_argument', `k must be an integer >= 1, got ${String(k)}`, { field: 'k' });
    }
    this.k = k;
    this.ids = new Int32Array(k);
    this.scores = new Float64Array(k);
  }

  /** Pairs currently kept. */
  get size(): number {
    return this.n;
  }

  /**
   * A candidate scoring below this cannot enter (-Infinity until the heap is full). A
   * candidate scoring exactly this may still enter if its id is lower than the root's.
   */
  get threshold(): number {
    return this.n < this.k ? -Infinity : this.scores[0];
  }

  /** Forgets everything kept. */
  reset(): void {
    this.n = 0;
  }

  /** Offers a candidate; kept if it is among the best k so far. */
  push(id: number, score: number): void {
    if (score !== score) return; // NaN
    const ids = this.ids;
    const scores = this.scores;
    if (this.n < this.k) {
      // Sift up from the new leaf while the parent is better than the new pair.
      let i = this.n++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        const ps = scores[p];
        if (ps < score || (ps === score && ids[p] > id)) break; // parent is worse: heap order holds
        ids[i] = ids[p];
        scores[i] = ps;
        i = p;
      }
      ids[i] = id;
      scores[i] = score;
      return;
    }
    const rs = scores[0];
    if (score < rs || (score === rs && id >= ids[0])) return;
    this.siftDown(0, id, score, this.n);
  }

  /**
   * Writes the kept pairs best first into `outIds`/`outScores` at `offset`, pads up to k
   * slots with -1 / -Infinity, and empties the heap.
   */
  drainInto(outIds: Int32Array, outScores: Float32Array, offset: number): void {
    const ids = this.ids;
    const scores = this.scores;
    for (let j = this.n; j < this.k; j++) {
      outIds[offset + j] = -1;
      outScores[offset + j] = -Infinity;
    }
    // Heap sort: the root is the worst remaining pair, so pops fill the output back to front.
    for (let last = this.n - 1; last >= 0; last--) {
      outIds[offset + last] = ids[0];
      outScores[offset + last] = scores[0];
      if (last > 0) this.siftDown(0, ids[last], scores[last], last);
    }
    this.n = 0;
  }

  /** Places (id, score) at `i` and sifts it down within the first `size` slots. */
  private siftDown(i: number, id: number, score: number, size: number): void {
    const ids = this.ids;
    const scores = this.scores;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= size) break;
      // Pick the worse child.
      const r = c + 1;
      if (r < size && (scores[r] < scores[c] || (scores[r] === scores[c] && ids[r] > ids[c]))) c = r;
      const cs = scores[c];
      if (score < cs || (score === cs && id > ids[c])) break; // new pair is worse than both children
      ids[i] = ids[c];
      scores[i] = cs;
      i = c;
    }
    ids[i] = id;
    scores[i] = score;
  }
}

export interface TopKOptions {
  /** Item ids never to return (e.g. the user's history). */
  exclude?: ExcludeList | null;
}

/**
 * The `k` best items of one score vector, where `scores[i]` is the score of item i.
 * Index 0 is padding and is never returned; nor are excluded ids or NaN scores. Ties go to
 * the lower id. If fewer than k items qualify, the tail is -1 / -Infinity.
 */
export function topK(scores: ArrayLike<number>, k: number, options: TopKOptions = {}): TopKResult {
  const heap = new TopKHeap(k);
  const exclude = toExcludeSet(options.exclude);
  for (let i = 1; i < scores.length; i++) {
    const s = scores[i];
    if (s < heap.threshold) continue;
    if (exclude !== null && exclude.has(i)) continue;
    heap.push(i, s);
  }
  const out: TopKResult = { ids: new Int32Array(k), scores: new Float32Array(k) };
  heap.drainInto(out.ids, out.scores, 0);
  return out;
}
