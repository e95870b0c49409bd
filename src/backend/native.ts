/**
 * The one adapter for seqrec's native accelerator (native/seqrec_native.c): OpenBLAS sgemm,
 * a fused Adam, and the element-wise kernels of simd/kernels.c compiled for the host CPU with
 * OpenMP. `seqrec setup native` builds it into `<seqrec>/native/build/Release/`; nothing
 * else here is native, and nothing loads it until a kernel asks (`nativeAddon()`).
 *
 * `SEQREC_NATIVE=0` turns it off; `SEQREC_NATIVE=1` makes a failure to load an error (with
 * the set-up command) instead of a quiet fallback to the WebAssembly kernels, which compute the
 * same things. The backend report line says which path is active and why.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeqrecError } from '../errors.js';

/** The addon's functions (see native/seqrec_native.c for each one's contract). */
export interface NativeAddon {
  /** Row-major C = alpha·op(A)·op(B) + beta·C; op(A) [m, k], op(B) [k, n]. */
  sgemm(ta: number, tb: number, m: number, n: number, k: number, alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array): void;
  sgemm_batched(
    batch: number,
    ta: number,
    tb: number,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    b: Float32Array,
    beta: number,
    c: Float32Array,
  ): void;
  /** C = A·B, [m, k] x [k, n], with one FMA chain per element: the same row whatever m is. */
  rowwise_gemm_typed(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array): void;
  /** out[j] = Σ_r x[r, j]. */
  column_sums_typed(x: Float32Array, rows: number, cols: number, out: Float32Array): void;
  /** out = tanh(x), element-wise (AVX2 where built with it). */
  tanh_typed(x: Float32Array, out: Float32Array): void;
  /** out[i, :] = table[indices[i], :] (native/embedding.c). */
  gather_rows(out: Float32Array, table: Float32Array, indices: Int32Array, dim: number): void;
  /** out = 0, then out[indices[i], :] += dy[i, :] in index order. */
  scatter_add_rows(out: Float32Array, dy: Float32Array, indices: Int32Array, dim: number): void;
  /** out[i] = value where the next draw of mulberry32 from `state` is < limit, else 0; returns the next state (random.c). */
  bernoulli_fill(out: Float32Array, state: number, limit: number, value: number): number;
  /** TF.js's Adam step in place (optim.c); accBeta1/2 = beta1/2 to the power of this step. */
  adam(
    param: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    lr: number,
    beta1: number,
    beta2: number,
    epsilon: number,
    accBeta1: number,
    accBeta2: number,
  ): void;
  /** TF.js's Adam step written into `out` (optim.c); accBeta1/2 = beta1/2 to the power of this step. */
  adam_into(
    out: Float32Array,
    param: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    lr: number,
    beta1: number,
    beta2: number,
    epsilon: number,
    accBeta1: number,
    accBeta2: number,
  ): void;
  /** The same step for the rows `indices` of param, m and v; grad is [rows, D] (optim.c). */
  adam_rows(
    param: Float32Array,
    grad: Float32Array,
    indices: Int32Array,
    m: Float32Array,
    v: Float32Array,
    lr: number,
    beta1: number,
    beta2: number,
    epsilon: number,
    accBeta1: number,
    accBeta2: number,
  ): void;
  /** Exact top-k by blocked sgemm and a heap per row (retrieval.c). */
  exact_topk(
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
  ): void;
  /** FaissRetriever's exact re-scoring of faiss's candidates (retrieval.c). */
  rescore_topk(
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
  ): void;
  set_threads(n: number): void;
  facts(): NativeFacts;
  /** The offset-based twins of simd/kernels.c: memory first, then the wasm export's arguments. */
  [kernel: string]: unknown;
}

export interface NativeFacts {
  /** openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64". */
  openblas: string;
  blasThreads: number;
  threads: number;
  avx2: boolean;
}

export type NativeStatus = { loaded: true; addon: NativeAddon; facts: NativeFacts; path: string } | { loaded: false; reason: string; path: string };

export const NATIVE_SETUP_HINT = 'npx seqrec setup native (in a clone of seqrec: npm run setup:native)';

/** The seqrec package this module belongs to (a clone, or node_modules/seqrec). */
export function seqrecRoot(moduleUrl: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'seqrec') return dir;
    } catch {
      // no package.json here: keep walking up
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`no seqrec package.json above ${fileURLToPath(moduleUrl)}`);
    dir = up;
  }
}

/** Where `seqrec setup native` puts the addon for this seqrec. */
export function nativeAddonPath(root: string = seqrecRoot()): string {
  return join(root, 'native', 'build', 'Release', 'seqrec_native.node');
}

/** What this seqrec calls; a loaded addon must have every one. */
/** The twins of src/backend/simd/kernels.c, called with the kernels' memory first (simd.ts). */
export const OFFSET_KERNEL_NAMES = [
  'exp_inplace',
  'exp_shift_rows',
  'scale_rows',
  'scale_rows_both',
  'gru_forward_step',
  'gru_backward_step',
  'add_inplace',
  'batch_matmul',
  'column_sums',
] as const;

const REQUIRED_FUNCTIONS = [
  'sgemm',
  'sgemm_batched',
  'column_sums_typed',
  'gather_rows',
  'tanh_typed',
  'scatter_add_rows',
  'bernoulli_fill',
  'rowwise_gemm_typed',
  'adam',
  'adam_into',
  'adam_rows',
  'exact_topk',
  'rescore_topk',
  'set_threads',
  'facts',
  ...OFFSET_KERNEL_NAMES,
] as const;

let status: NativeStatus | undefined;

/** Compute threads for the native pools: SEQREC_THREADS, else SEQREC_WASM_THREADS, else every core. */
export function nativeThreadsWanted(): number {
  for (const name of ['SEQREC_THREADS', 'SEQREC_WASM_THREADS']) {
    const value = process.env[name];
    if (value === undefined || value === '') continue;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new SeqrecError('invalid_config', `${name} must be a whole number >= 1, got '${value}'`, { field: name });
    return n;
  }
  return availableParallelism();
}

function load(): NativeStatus {
  const mode = process.env.SEQREC_NATIVE ?? '';
  let path = '';
  try {
    path = nativeAddonPath();
  } catch (err) {
    return { loaded: false, reason: (err as Error).message, path };
  }
  if (mode === '0') return { loaded: false, reason: 'SEQREC_NATIVE=0', path };
  if (mode !== '' && mode !== '1') {
    throw new SeqrecError('invalid_config', `SEQREC_NATIVE must be 0 (off) or 1 (required), got '${mode}'`, { field: 'SEQREC_NATIVE' });
  }
  const fail = (reason: string): NativeStatus => {
    if (mode === '1')
      throw new SeqrecError('backend_unavailable', `SEQREC_NATIVE=1 but the native kernels did not load: ${reason}. Build them with: ${NATIVE_SETUP_HINT}`);
    return { loaded: false, reason, path };
  };
  if (!existsSync(path)) return fail(`not built (run ${NATIVE_SETUP_HINT})`);
  const threads = nativeThreadsWanted();
  // OpenBLAS runs single-threaded under seqrec (set_threads; its products are split over
  // libgomp's threads), so its own pool should never spin: a short timeout (2^n cycles, read
  // when the library loads) puts any of its threads to sleep at once. libgomp keeps its default
  // spin (GOMP_SPINCOUNT 300,000) between parallel regions: shorter spins (20,000) cost 2-threaded
  // MIND and ComiRec-DR steps ~10%, waking sleeping threads on this VM's cores being slow.
  process.env.OPENBLAS_THREAD_TIMEOUT ??= '4';
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    return fail(`${path} failed to load: ${(err as Error).message.split('\n')[0]}`);
  }
  // A build from older sources (a clone after a pull) lacks newer kernels: refuse it whole
  // rather than have each caller probe for its function.
  const missing = REQUIRED_FUNCTIONS.filter((name) => typeof addon[name] !== 'function');
  if (missing.length > 0) return fail(`${path} was built from older sources (no ${missing.join(', ')}); rebuild it with ${NATIVE_SETUP_HINT}`);
  addon.set_threads(threads);
  return { loaded: true, addon, facts: addon.facts(), path };
}

/** Loads the addon once; the status says why when it is not there. */
export function nativeStatus(): NativeStatus {
  status ??= load();
  return status;
}

/** The addon, or null where it is not built, fails to load or is turned off. */
export function nativeAddon(): NativeAddon | null {
  const s = nativeStatus();
  return s.loaded ? s.addon : null;
}

/** One phrase for the backend report line. */
export function describeNative(s: NativeStatus = nativeStatus()): string {
  if (!s.loaded) return `native kernels off: ${s.reason}`;
  const arch = /\b(Haswell|SkylakeX|Zen|Sandybridge|Cooperlake|Prescott|Nehalem|Core2|Atom|Barcelona|Bulldozer|Piledriver|Steamroller|Excavator)\b/.exec(
    s.facts.openblas,
  )?.[1];
  const blas = s.facts.openblas.split(' ').slice(0, 2).join(' ');
  return `native kernels on (${blas}${arch ? ` ${arch}` : ''}, ${s.facts.avx2 ? 'AVX2/FMA' : 'no AVX2'}, ${s.facts.threads} thread${s.facts.threads === 1 ? '' : 's'})`;
}
