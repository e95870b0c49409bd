/**
 * Loading faiss-node (an optional dependency), lazily: importing seqrec works without it, and
 * only building or loading a `FaissRetriever` (or calling `loadFaissNode`) needs it. This is
 * the only module that requires faiss-node. Loading is synchronous (retrievers are built in
 * synchronous code), so it goes through `createRequire`, not `loadOptional`.
 */
import { createRequire } from 'node:module';
import { SeqrecError } from '../../errors.js';

/** What seqrec uses of faiss-node's API (see its lib/index.d.ts). */
export interface FaissIndex {
  ntotal(): number;
  getDimension(): number;
  isTrained(): boolean;
  add(x: number[]): void;
  train(x: number[]): void;
  search(x: number[], k: number): { distances: number[]; labels: number[] };
  toBuffer(): Buffer;
  /**
   * Added by `seqrec setup faiss` (src/cli/setup/faiss-typed.ts); absent from other builds.
   * Labels are an Int32Array unless ntotal >= 2^31.
   */
  searchTyped?(x: Float32Array, k: number): { distances: Float32Array; labels: Int32Array | Float64Array };
  addTyped?(x: Float32Array): void;
  trainTyped?(x: Float32Array): void;
}

export interface FaissNodeModule {
  Index: {
    fromFactory(dims: number, descriptor: string, metric?: number): FaissIndex;
    fromBuffer(src: Buffer): FaissIndex;
  };
  IndexFlatIP: new (d: number) => FaissIndex;
  MetricType: { METRIC_INNER_PRODUCT: number };
  /** faiss's OpenMP pool size (seqrec's build only). */
  setOmpThreads?(n: number): void;
  getOmpThreads?(): number;
}

/** How to get faiss-node, for error messages. */
export const FAISS_INSTALL_HINT =
  'Install it with `npm install faiss-node` (downloads a prebuilt binary from GitHub), or, on Debian/Ubuntu ' +
  'without GitHub access, run `npx seqrec setup faiss` in your project (`npm run setup:faiss` in a clone of seqrec; ' +
  'builds it against libfaiss-dev).';

let faissModule: FaissNodeModule | null = null;
let faissVersion: string | null = null;
let loadFailure: string | null = null;

/**
 * faiss-node, loaded on first use. Throws a `backend_unavailable` SeqrecError naming the
 * install command when it is missing or does not load.
 */
export function loadFaissNode(): FaissNodeModule {
  if (faissModule) return faissModule;
  if (loadFailure === null) {
    try {
      const req = createRequire(import.meta.url);
      const mod = req('faiss-node') as FaissNodeModule;
      if (typeof mod?.Index?.fromFactory !== 'function' || typeof mod.IndexFlatIP !== 'function') {
        throw new Error('the loaded module does not look like faiss-node (no Index.fromFactory / IndexFlatIP)');
      }
      faissModule = mod;
      try {
        faissVersion = String((req('faiss-node/package.json') as { version?: string }).version ?? 'unknown');
      } catch {
        faissVersion = 'unknown';
      }
      return mod;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      loadFailure =
        e.code === 'MODULE_NOT_FOUND' && /'faiss-node'/.test(e.message)
          ? 'faiss-node is not installed'
          : `faiss-node does not load: ${e.message.split('\n')[0]}`;
    }
  }
  throw new SeqrecError('backend_unavailable', `${loadFailure}. ${FAISS_INSTALL_HINT}`);
}

/** True when faiss-node loads (the check is done once per process). */
export function faissAvailable(): boolean {
  try {
    loadFaissNode();
    return true;
  } catch {
    return false;
  }
}

/** The installed faiss-node version, or null when it does not load. */
export function faissNodeVersion(): string | null {
  return faissAvailable() ? faissVersion : null;
}

/** A Buffer view of `a` (faiss-node wants Buffers). */
export function toBuffer(a: Uint8Array): Buffer {
  return Buffer.isBuffer(a) ? a : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** The reason in a faiss error message. */
export function faissMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // faiss messages start with "Error in <signature> at <file>:<line>: "; keep the reason.
  const m = /^Error in .* at [^:]+:\d+: (.*)$/s.exec(msg);
  return (m ? m[1] : msg).trim();
}
