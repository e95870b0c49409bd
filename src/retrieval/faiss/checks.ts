/**
 * Argument checks of `FaissRetriever` (with the messages its tests name) and the facts about
 * faiss training it checks before calling faiss: faiss-node's prebuilt binaries abort the
 * process on a C++ exception, so nothing faiss would reject may reach it.
 */
import { SeqrecError } from '../../errors.js';

/** `count` rows of `rows`, evenly spaced (all of them when count covers them). */
export function sampleRows(rows: Float32Array, dim: number, count: number): Float32Array {
  const n = rows.length / dim;
  if (count >= n) return rows;
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    const src = Math.floor((i * n) / count);
    out.set(rows.subarray(src * dim, (src + 1) * dim), i * dim);
  }
  return out;
}

/**
 * The fewest training vectors faiss's k-means accepts for a factory string: each IVF coarse
 * quantizer needs nlist, each PQ / additive / IMI sub-quantizer 2^nbits. (faiss warns, but
 * trains, below 39 vectors per centroid.)
 */
export function minTrainingRows(factory: string): { rows: number; why: string } {
  let rows = 1;
  let why = 'training needs data';
  const take = (n: number, reason: string) => {
    if (n > rows) {
      rows = n;
      why = reason;
    }
  };
  for (const token of factory.split(',')) {
    const t = token.trim();
    let m: RegExpExecArray | null;
    if ((m = /^IVF(\d+)/.exec(t))) take(Number(m[1]), `IVF${m[1]}: one per inverted list`);
    if ((m = /^IMI\d+x(\d+)/.exec(t))) take(2 ** Number(m[1]), `${t}: 2^${m[1]} centroids per sub-quantizer`);
    if ((m = /^O?PQ(\d+)(?:x(\d+))?/.exec(t))) {
      const nbits = m[2] === undefined ? 8 : Number(m[2]);
      take(2 ** nbits, `${t}: 2^${nbits} centroids per sub-quantizer`);
    }
    if ((m = /^(?:RQ|LSQ|PRQ\d+x|PLSQ\d+x)\d+x(\d+)/.exec(t))) take(2 ** Number(m[1]), `${t}: 2^${m[1]} centroids per codebook`);
  }
  return { rows, why };
}

export function checkPositiveInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 2 ** 31 - 1) {
    throw new SeqrecError('invalid_argument', `${field} must be an integer >= 1, got ${String(v)}`, { field });
  }
  return v;
}

export function checkMetric(metric: unknown): 'ip' | 'cosine' {
  if (metric !== 'ip' && metric !== 'cosine') {
    throw new SeqrecError('invalid_argument', `metric must be 'ip' or 'cosine', got ${String(metric)}`, { field: 'metric' });
  }
  return metric;
}

export function checkFactory(factory: unknown): string {
  if (typeof factory !== 'string' || factory.trim() === '') {
    throw new SeqrecError('invalid_config', `factory must be a non-empty faiss index factory string, got ${String(factory)}`, { field: 'factory' });
  }
  if (/IDMap/i.test(factory)) {
    throw new SeqrecError(
      'invalid_config',
      `factory '${factory}': IDMap wrappers are not supported (faiss-node has no add_with_ids; FaissRetriever maps ids itself)`,
      {
        field: 'factory',
      },
    );
  }
  return factory.trim();
}

/** Largest L2 norm of the rows of `rows`. */
export function maxRowNorm(rows: Float32Array, dim: number): number {
  let max = 0;
  for (let base = 0; base < rows.length; base += dim) {
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += rows[base + j] * rows[base + j];
    if (ss > max) max = ss;
  }
  return Math.sqrt(max);
}
