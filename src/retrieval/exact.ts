/**
 * Exact (brute-force) top-k retrieval by inner product or cosine similarity. In plain
 * JavaScript over typed arrays it is the reference every approximate retriever is checked
 * against; where seqrec's native addon is built it scores with OpenBLAS sgemm and selects in
 * C instead (native/retrieval.c): the same lists up to float32 rounding of the scores.
 */
import { SeqrecError } from '../errors.js';
import { checkItems, checkSearch, normaliseRows, prepareQueries } from './validate.js';
import { mergeInterestCandidatesBatch } from './merge.js';
import { maxRowNorm } from './faiss/checks.js';
import { exclusionCsr, retrievalKernels } from './native-kernels.js';
import { rescoreChunkNative } from './rescore.js';
import { TopKHeap } from './topk.js';
import type { Retriever, SearchOptions, SearchResult } from './types.js';

export interface ExactRetrieverOptions {
  /** 'ip' (default): inner product. 'cosine': inner product of L2-normalised vectors. */
  metric?: 'ip' | 'cosine';
  /**
   * Use the native addon's sgemm kernel when it loads (default true). Its scores are float32
   * sgemm sums, so they may differ from the JavaScript path's in the last bits (|Δ| ~ 1e-6 for
   * unit-scale vectors) and near-ties may swap; `false` keeps the bit-exact JavaScript path.
   */
  native?: boolean;
}

/** Queries scored together against one item block (a multiple of the 4-query kernel). */
const QUERY_BLOCK = 32;
/**
 * Item rows per block. 512 rows of dim 64 are 128 KiB: the block stays in L2 while all
 * queries of the query block pass over it.
 */
const ITEM_BLOCK_BYTES = 128 * 1024;

/** Index of the first non-finite value, or -1. */

/**
 * Exact top-k over an item-embedding matrix whose row 0 is padding (never returned).
 *
 * Scores are computed in float64 and rounded to float32 before ranking, so the returned
 * order is exactly "score descending, then lower id" on the returned scores. Exclusions are
 * applied while selecting, so an excluded item never takes a slot: no over-fetch is needed
 * and lists are only shorter than k (padded with -1 / -Infinity) when fewer than k
 * non-excluded real items exist, e.g. when k > numItems - 1.
 */
export class ExactRetriever implements Retriever {
  readonly dim: number;
  readonly numItems: number;
  readonly metric: 'ip' | 'cosine';
  /** Private copy (normalised for cosine), so later changes to the caller's array do not leak in. */
  private items: Float32Array;
  private disposed = false;
  private readonly allowNative: boolean;
  /** Largest item norm, for the near-tie bound of the native path's re-scoring (on first use). */
  private maxItemNorm: number | undefined;

  constructor(itemVectors: Float32Array, dim: number, options: ExactRetrieverOptions = {}) {
    checkItems(itemVectors, dim);
    const metric = options.metric ?? 'ip';
    if (metric !== 'ip' && metric !== 'cosine') {
      throw new SeqrecError('invalid_argument', `metric must be 'ip' or 'cosine', got ${String(metric)}`, { field: 'metric' });
    }
    this.dim = dim;
    this.numItems = itemVectors.length / dim;
    this.metric = metric;
    if (options.native !== undefined && typeof options.native !== 'boolean') {
      throw new SeqrecError('invalid_argument', `native must be a boolean, got ${String(options.native)}`, { field: 'native' });
    }
    this.allowNative = options.native ?? true;
    this.items = Float32Array.from(itemVectors);
    if (metric === 'cosine') normaliseRows(this.items, dim);
  }

  search(queries: Float32Array, options: SearchOptions): SearchResult {
    if (this.disposed) {
      throw new SeqrecError('invalid_argument', 'this ExactRetriever has been disposed; create a new one to search');
    }
    const dim = this.dim;
    const { k, interests, numQueries, exclude } = checkSearch(queries, options, dim);

    const { rows, userSets } = prepareQueries(queries, this.metric, dim, numQueries, exclude);

    const numRows = numQueries * interests;
    const ids = new Int32Array(numRows * k);
    const scores = new Float32Array(numRows * k);
    const kernels = this.allowNative ? retrievalKernels() : null;
    if (kernels !== null) {
      // sgemm's float32 sums differ from the float64 scores of the JavaScript path in the last
      // bits, and by how many rows are multiplied at once. So sgemm only pre-selects k + margin
      // candidates; they are re-scored exactly as FaissRetriever re-scores faiss's (rescore.ts,
      // near-ties at the cut re-scanned), and every path and batch size returns the same lists.
      const csr = exclusionCsr(numQueries, (u) => userSets[u]);
      const fetch = Math.max(1, Math.min(this.numItems - 1, k + Math.max(8, Math.ceil(k / 8))));
      const labels = new Int32Array(numRows * fetch);
      const distances = new Float32Array(numRows * fetch);
      kernels.exactTopK(this.items, this.numItems, dim, rows, numRows, fetch, interests, csr?.off ?? null, csr?.ids ?? null, labels, distances);
      for (let i = 0; i < labels.length; i++) labels[i] -= 1; // item ids -> rows of the table without padding
      this.maxItemNorm ??= maxRowNorm(this.items.subarray(dim), dim);
      const chunk = { rows, r0: 0, r1: numRows, interests, userSets, labels, distances, fetch, k, ids, scores, heap: new TopKHeap(k) };
      rescoreChunkNative(kernels, this.items.subarray(dim), this.numItems, dim, true, this.maxItemNorm, chunk);
    } else {
      this.selectRows(rows, numRows, k, interests, userSets, ids, scores);
    }
    if (interests === 1) return { k, numQueries, ids, scores };
    // Each interest's list already has exclusions applied and padding removed.
    return mergeInterestCandidatesBatch(ids, scores, interests, k, k);
  }

  /** Whether searches run on the native sgemm kernel (the addon loaded and `native` was not false). */
  get usesNative(): boolean {
    return this.allowNative && retrievalKernels() !== null;
  }

  dispose(): void {
    this.disposed = true;
    this.items = new Float32Array(0);
  }

  /**
   * Top-k of every query row into `outIds`/`outScores` ([numRows * k]). Loops are blocked:
   * for each block of QUERY_BLOCK queries, the item matrix is walked in cache-sized blocks,
   * and inside a block four queries are scored against two items at a time (each value
   * loaded is used two or four times). Each query keeps a streaming size-k heap whose
   * threshold rejects almost every candidate with one comparison.
   */
  private selectRows(
    rows: Float32Array,
    numRows: number,
    k: number,
    interests: number,
    userSets: ReadonlyArray<ReadonlySet<number> | null>,
    outIds: Int32Array,
    outScores: Float32Array,
  ): void {
    const dim = this.dim;
    const items = this.items;
    const numItems = this.numItems;
    const itemBlock = Math.max(16, Math.floor(ITEM_BLOCK_BYTES / (4 * dim)));
    const heaps: TopKHeap[] = [];
    for (let i = 0; i < Math.min(QUERY_BLOCK, numRows); i++) heaps.push(new TopKHeap(k));

    for (let q0 = 0; q0 < numRows; q0 += QUERY_BLOCK) {
      const q1 = Math.min(q0 + QUERY_BLOCK, numRows);
      // Item 0 is padding: start at 1 so it is never scored.
      for (let i0 = 1; i0 < numItems; i0 += itemBlock) {
        const i1 = Math.min(i0 + itemBlock, numItems);
        let q = q0;
        for (; q + 4 <= q1; q += 4) {
          const h0 = heaps[q - q0];
          const h1 = heaps[q - q0 + 1];
          const h2 = heaps[q - q0 + 2];
          const h3 = heaps[q - q0 + 3];
          const x0 = userSets[Math.floor(q / interests)];
          const x1 = userSets[Math.floor((q + 1) / interests)];
          const x2 = userSets[Math.floor((q + 2) / interests)];
          const x3 = userSets[Math.floor((q + 3) / interests)];
          let t0 = h0.threshold;
          let t1 = h1.threshold;
          let t2 = h2.threshold;
          let t3 = h3.threshold;
          const a0 = q * dim;
          const a1 = a0 + dim;
          const a2 = a1 + dim;
          const a3 = a2 + dim;
          let i = i0;
          // 4 queries x 2 items: 6 loads feed 8 multiply-adds, the best ratio V8 keeps in
          // registers. Each sum runs over j in order, exactly like a naive dot product.
          for (; i + 2 <= i1; i += 2) {
            const b = i * dim;
            const c = b + dim;
            let s0 = 0;
            let s1 = 0;
            let s2 = 0;
            let s3 = 0;
            let r0 = 0;
            let r1 = 0;
            let r2 = 0;
            let r3 = 0;
            for (let j = 0; j < dim; j++) {
              const v = items[b + j];
              const w = items[c + j];
              const y0 = rows[a0 + j];
              const y1 = rows[a1 + j];
              const y2 = rows[a2 + j];
              const y3 = rows[a3 + j];
              s0 += v * y0;
              s1 += v * y1;
              s2 += v * y2;
              s3 += v * y3;
              r0 += w * y0;
              r1 += w * y1;
              r2 += w * y2;
              r3 += w * y3;
            }
            if (Math.fround(s0) >= t0) t0 = offer(h0, x0, i, s0);
            if (Math.fround(s1) >= t1) t1 = offer(h1, x1, i, s1);
            if (Math.fround(s2) >= t2) t2 = offer(h2, x2, i, s2);
            if (Math.fround(s3) >= t3) t3 = offer(h3, x3, i, s3);
            if (Math.fround(r0) >= t0) t0 = offer(h0, x0, i + 1, r0);
            if (Math.fround(r1) >= t1) t1 = offer(h1, x1, i + 1, r1);
            if (Math.fround(r2) >= t2) t2 = offer(h2, x2, i + 1, r2);
            if (Math.fround(r3) >= t3) t3 = offer(h3, x3, i + 1, r3);
          }
          for (; i < i1; i++) {
            const b = i * dim;
            let s0 = 0;
            let s1 = 0;
            let s2 = 0;
            let s3 = 0;
            for (let j = 0; j < dim; j++) {
              const v = items[b + j];
              s0 += v * rows[a0 + j];
              s1 += v * rows[a1 + j];
              s2 += v * rows[a2 + j];
              s3 += v * rows[a3 + j];
            }
            if (Math.fround(s0) >= t0) t0 = offer(h0, x0, i, s0);
            if (Math.fround(s1) >= t1) t1 = offer(h1, x1, i, s1);
            if (Math.fround(s2) >= t2) t2 = offer(h2, x2, i, s2);
            if (Math.fround(s3) >= t3) t3 = offer(h3, x3, i, s3);
          }
        }
        for (; q < q1; q++) {
          const h = heaps[q - q0];
          const x = userSets[Math.floor(q / interests)];
          const a = q * dim;
          let t = h.threshold;
          for (let i = i0; i < i1; i++) {
            const b = i * dim;
            let s = 0;
            for (let j = 0; j < dim; j++) s += items[b + j] * rows[a + j];
            if (Math.fround(s) >= t) t = offer(h, x, i, s);
          }
        }
      }
      for (let q = q0; q < q1; q++) heaps[q - q0].drainInto(outIds, outScores, q * k);
    }
  }
}

/**
 * Offers item `id` with float64 score `s` to a query's heap and returns the heap's new
 * threshold (callers cache it, so most candidates are rejected by one local comparison).
 * The score is rounded to the float32 that is returned before ranking, so ties in the
 * output are ranked as ties.
 */
function offer(h: TopKHeap, exclude: ReadonlySet<number> | null, id: number, s: number): number {
  if (exclude === null || !exclude.has(id)) h.push(id, Math.fround(s));
  return h.threshold;
}
