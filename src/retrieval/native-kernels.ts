/**
 * The retrieval kernels of seqrec's native addon (native/retrieval.c), when it is there:
 * exact top-k scored by OpenBLAS sgemm, and the exact re-scoring of faiss's candidates. Both
 * take typed arrays and write into the caller's result arrays, so a batch costs one call and
 * no per-query JavaScript. `null` means "use the JavaScript path" (no addon, or SEQREC_NATIVE=0).
 */
import { nativeAddon, type NativeAddon } from '../backend/native.js';

export interface RetrievalKernels {
  exactTopK: NativeAddon['exact_topk'];
  rescoreTopK: NativeAddon['rescore_topk'];
}

/** The native retrieval kernels, or null. */
export function retrievalKernels(): RetrievalKernels | null {
  const addon = nativeAddon();
  return addon && { exactTopK: addon.exact_topk, rescoreTopK: addon.rescore_topk };
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
