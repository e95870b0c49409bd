/**
 * Re-scoring faiss's candidates exactly: the C kernel for a chunk of query rows (when seqrec's
 * native addon and faiss-node's typed search are both there) and the exact scan that settles
 * near-ties at the cut. Both compute ExactRetriever's JavaScript arithmetic (float64 sum in
 * order, rounded to float32), so every path of FaissRetriever.search returns the same lists.
 */
import { exclusionCsr, type RetrievalKernels } from './native-kernels.js';
import type { TopKHeap } from './topk.js';

/** One chunk of `search`: query rows [r0, r1) and faiss's [r1 - r0, fetch] candidates. */
export interface RescoreChunk {
  rows: Float32Array;
  r0: number;
  r1: number;
  interests: number;
  userSets: ReadonlyArray<ReadonlySet<number> | null>;
  labels: Int32Array;
  distances: Float32Array;
  fetch: number;
  k: number;
  ids: Int32Array;
  scores: Float32Array;
  heap: TopKHeap;
}

/**
 * The JavaScript re-scoring loop of FaissRetriever.search, in C, for one chunk; rows the
 * kernel flags (exhaustive index, cut not settled by faiss's float32 ranking) are re-scanned
 * exactly here. Returns how many were. Exclusions go in as one CSR list per row.
 */
export function rescoreChunkNative(
  kernels: RetrievalKernels,
  items: Float32Array,
  numItems: number,
  dim: number,
  exhaustive: boolean,
  maxItemNorm: number,
  c: RescoreChunk,
): number {
  const { rows, r0, r1, interests, userSets, k, ids, scores, heap } = c;
  const n = r1 - r0;
  const csr = exclusionCsr(n, (i) => userSets[Math.floor((r0 + i) / interests)]);
  const fallback = new Uint8Array(n);
  kernels.rescoreTopK(
    items,
    numItems - 1,
    dim,
    rows.subarray(r0 * dim, r1 * dim),
    n,
    c.labels,
    c.fetch,
    k,
    1,
    csr?.off ?? null,
    csr?.ids ?? null,
    exhaustive ? c.distances : null,
    maxItemNorm,
    ids.subarray(r0 * k, r1 * k),
    scores.subarray(r0 * k, r1 * k),
    fallback,
  );
  let count = 0;
  for (let i = fallback.indexOf(1); i >= 0; i = fallback.indexOf(1, i + 1)) {
    const r = r0 + i;
    heap.reset();
    exactScan(items, dim, rows, r * dim, userSets[Math.floor(r / interests)], heap);
    heap.drainInto(ids, scores, r * k);
    count++;
  }
  return count;
}

/**
 * Exact top-k of query row `rows[q, q + dim)` over all items (`items` row i = item i + 1),
 * as ExactRetriever computes it, into `heap`.
 */
export function exactScan(items: Float32Array, dim: number, rows: Float32Array, q: number, ex: ReadonlySet<number> | null, heap: TopKHeap): void {
  let threshold = heap.threshold;
  for (let b = 0, id = 1; b < items.length; b += dim, id++) {
    let s = 0;
    for (let t = 0; t < dim; t++) s += items[b + t] * rows[q + t];
    const f = Math.fround(s);
    if (f >= threshold && (ex === null || !ex.has(id))) {
      heap.push(id, f);
      threshold = heap.threshold;
    }
  }
}
