/**
 * Search-parameter defaults of approximate faiss indexes, and their calibration: how many IVF
 * lists (nprobe) or HNSW candidates (efSearch) a recall target needs depends on the data
 * (random vectors have no clusters and need most IVF lists), so a fixed default is either
 * slow on clustered data or inaccurate on diffuse data.
 */
import { ExactRetriever } from '../exact.js';
import type { SearchResult } from '../types.js';

/** HNSW efSearch unless given (faiss's own default, 16, gives recall@50 of about 0.3 on random data). */
export const DEFAULT_EF_SEARCH = 512;
/** Recall@50 that nprobe / efSearch are calibrated to when not given. */
export const DEFAULT_TARGET_RECALL = 0.95;
export const CALIBRATION_START_EF = 64;
export const MAX_EF_SEARCH = 4096;

/** IVF nprobe unless given: a sixteenth of the lists (faiss's own default is 1). */
export function defaultNprobe(nlist: number): number {
  return Math.max(1, Math.ceil(nlist / 16));
}

/** What a calibration tried: each parameter value and the recall it gave. */
export interface CalibrationReport {
  parameter: 'nprobe' | 'efSearch';
  target: number;
  k: number;
  queries: number;
  steps: { value: number; recall: number }[];
}

/** The retriever being calibrated (its parameter is set through `apply`). */
export interface Tunable {
  dim: number;
  numItems: number;
  metric: 'ip' | 'cosine';
  search(queries: Float32Array, options: { k: number }): SearchResult;
}

/**
 * Doubles `parameter` from `start` (capped at `max`), setting it with `apply`, until
 * recall@k against exact search, on `numQueries` evenly spaced item vectors used as queries,
 * reaches `target` or the parameter reaches `max`.
 */
export function calibrate(
  index: Tunable,
  itemVectors: Float32Array,
  parameter: 'nprobe' | 'efSearch',
  range: { start: number; max: number },
  apply: (value: number) => void,
  target: { recall: number; k: number; queries: number },
): CalibrationReport {
  const { dim, numItems } = index;
  const real = numItems - 1;
  const q = Math.min(target.queries, real);
  const kk = Math.min(target.k, real);
  const queries = new Float32Array(q * dim);
  for (let i = 0; i < q; i++) {
    const row = 1 + Math.floor((i * real) / q);
    queries.set(itemVectors.subarray(row * dim, row * dim + dim), i * dim);
  }
  const exactRetriever = new ExactRetriever(itemVectors, dim, { metric: index.metric });
  const exact = exactRetriever.search(queries, { k: kk });
  exactRetriever.dispose();
  const recallOf = (): number => {
    const got = index.search(queries, { k: kk });
    let hits = 0;
    for (let i = 0; i < q; i++) {
      const truth = new Set(exact.ids.subarray(i * kk, i * kk + kk));
      for (let j = 0; j < kk; j++) if (truth.has(got.ids[i * kk + j])) hits++;
    }
    return hits / (q * kk);
  };
  const steps: { value: number; recall: number }[] = [];
  for (let value = Math.min(range.start, range.max); ; value = Math.min(range.max, value * 2)) {
    apply(value);
    const recall = recallOf();
    steps.push({ value, recall });
    if (recall >= target.recall || value >= range.max) break;
  }
  return { parameter, target: target.recall, k: kk, queries: q, steps };
}
