/**
 * The retrieval kernels of seqrec's native addon (native/retrieval.c), when it is there:
 * exact top-k scored by OpenBLAS sgemm, and the exact re-scoring of faiss's candidates. Both
 * take typed arrays and write into the caller's result arrays, so a batch costs one call and
 * no per-query JavaScript. `null` means "use the JavaScript path" (no addon, SEQREC_NATIVE=0,
 * or an addon built before these kernels existed).
 */
import { nativeAddon } from '../backend/native.js';

type ExactTopK = (
  items: Float32Array,
  numItems: number,
  dim: number,
  rows: Float32Array,
  numRows: number,
  k: number,
  interests: number,
  exclOff: Int32Array | null,
  exclIds: Int32Array | null,
  outIds: Int32Array,
  outScores: Float32Array,
) => void;

type RescoreTopK = (
  items: Float32Array,
  numReal: number,
  dim: number,
  rows: Float32Array,
  numRows: number,
  labels: Int32Array,
  fetch: number,
  k: number,
  interests: number,
  exclOff: Int32Array | null,
  exclIds: Int32Array | null,
  distances: Float32Array | null,
  maxItemNorm: number,
  outIds: Int32Array,
  outScores: Float32Array,
  outFallback: Uint8Array,
) => void;

export interface RetrievalKernels {
  exactTopK: ExactTopK;
  rescoreTopK: RescoreTopK;
}

/** The native retrieval kernels, or null. */
export function retrievalKernels(): RetrievalKernels | null {
  const addon = nativeAddon();
  if (addon === null || typeof addon.exact_topk !== 'function' || typeof addon.rescore_topk !== 'function') return null;
  return { exactTopK: addon.exact_topk as ExactTopK, rescoreTopK: addon.rescore_topk as RescoreTopK };
}

/**
 * Exclusion sets as CSR (offsets [sets + 1], ids) for the kernels, or null when every set is
 * empty. `setOf(i)` gives the i-th list's set.
 */
export function exclusionCsr(count: number, setOf: (i: number) => ReadonlySet<number> | null): { off: Int32Array; ids: Int32Array } | null {
  let total = 0;
  for (let i = 0; i < count; i++) total += setOf(i)?.size ?? 0;
  if (total === 0) return null;
  const off = new Int32Array(count + 1);
  const ids = new Int32Array(total);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const set = setOf(i);
    // Ids beyond int32 cannot be items; they would only alias real ids.
    if (set !== null) for (const id of set) if (Number.isInteger(id) && id >= 0 && id <= 0x7fffffff) ids[at++] = id;
    off[i + 1] = at;
  }
  return { off, ids: at === total ? ids : ids.subarray(0, at) };
}
