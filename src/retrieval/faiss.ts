/**
 * faiss-backed retrieval through faiss-node (an optional dependency). This is the only module
 * that touches faiss-node, and it loads it lazily: importing seqrec works without it, and only
 * constructing a `FaissRetriever` (or calling `loadFaissNode`) needs it.
 *
 * faiss-node 0.5.1's API, and what it means here:
 * - Vectors go in and results come out as plain JS arrays (no typed arrays), so rows are
 *   converted in chunks.
 * - There is no ParameterSpace and no setter for nprobe / efSearch / efConstruction: they are
 *   set by patching the serialised index (`faiss-format.ts`) and reading it back.
 * - `search` rejects k > ntotal; there is no add_with_ids (labels are 0..ntotal-1, so item i is
 *   label i - 1), no reconstruct, no range search, no thread control (OMP_NUM_THREADS is read by
 *   OpenMP when the addon loads).
 * - Its prebuilt binaries let a C++ exception inside train/add/search abort the process, so
 *   everything faiss would reject (too few training vectors, untrained index, wrong sizes) is
 *   checked here first. (The build from `npm run setup:faiss` turns such exceptions into JS
 *   errors as well.)
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { SeqrecError } from '../errors.js';
import { ExactRetriever } from './exact.js';
import { checkSearch, firstNonFinite, normaliseRows, prepareQueries, typeName } from './validate.js';
import { indexKind, readHeader, readHnswParams, readIvfParams, withHnswParams, withNprobe } from './faiss-format.js';
import { mergeInterestCandidatesBatch } from './merge.js';
import { TopKHeap } from './topk.js';
import type { Retriever, SearchOptions, SearchResult } from './types.js';

/** What seqrec uses of faiss-node's API (see its lib/index.d.ts). */
interface FaissIndex {
  ntotal(): number;
  getDimension(): number;
  isTrained(): boolean;
  add(x: number[]): void;
  train(x: number[]): void;
  search(x: number[], k: number): { distances: number[]; labels: number[] };
  toBuffer(): Buffer;
}

interface FaissNodeModule {
  Index: {
    fromFactory(dims: number, descriptor: string, metric?: number): FaissIndex;
    fromBuffer(src: Buffer): FaissIndex;
  };
  IndexFlatIP: new (d: number) => FaissIndex;
  MetricType: { METRIC_INNER_PRODUCT: number };
}

/** How to get faiss-node, for error messages. */
export const FAISS_INSTALL_HINT =
  'Install it with `npm install faiss-node` (downloads a prebuilt binary from GitHub), or, in a clone of seqrec ' +
  'on Debian/Ubuntu without GitHub access, run `npm run setup:faiss` (builds it against libfaiss-dev).';

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
      loadFailure = e.code === 'MODULE_NOT_FOUND' && /'faiss-node'/.test(e.message) ? 'faiss-node is not installed' : `faiss-node does not load: ${e.message.split('\n')[0]}`;
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

export interface FaissRetrieverOptions {
  /**
   * faiss index factory string, e.g. 'Flat' (default: exact inner-product search, an
   * IndexFlatIP), 'HNSW32', 'IVF1024,Flat', 'IVF1024,PQ16'. The metric is always inner product
   * (cosine = inner product of L2-normalised vectors). Id-mapping wrappers ('IDMap') are
   * rejected: the retriever maps ids itself.
   */
  factory?: string;
  /** 'ip' (default): inner product. 'cosine': items and queries are L2-normalised first. */
  metric?: 'ip' | 'cosine';
  /**
   * IVF indexes: inverted lists visited per query, 1..nlist. Default: calibrated to
   * `targetRecall` (see there), starting from ceil(nlist / 16).
   */
  nprobe?: number;
  /**
   * HNSW indexes: size of the candidate list during search. Default: calibrated to
   * `targetRecall`, starting from 64. faiss uses max(efSearch, k') where k' is the number of
   * candidates fetched (k plus over-fetch).
   */
  efSearch?: number;
  /**
   * When nprobe (IVF) or efSearch (HNSW) is not given, the smallest power-of-two multiple of
   * the starting value whose recall@`calibrationK` against exact search reaches this target on
   * `calibrationQueries` item vectors used as queries. Default 0.95; 0 turns calibration off
   * (then nprobe = ceil(nlist / 16), efSearch = 512). How many lists or candidates a target
   * needs depends on the data (random vectors have no clusters and need most IVF lists), so a
   * fixed default is either slow on clustered data or inaccurate on diffuse data.
   */
  targetRecall?: number;
  /** Cut-off of the calibration recall. Default 50. */
  calibrationK?: number;
  /** Item vectors (evenly spaced rows) used as calibration queries. Default 200. */
  calibrationQueries?: number;
  /** HNSW indexes: candidate list size while building. Default faiss's 40. */
  efConstruction?: number;
  /**
   * Re-score faiss's candidates exactly (float64 dot products rounded to float32, the same
   * arithmetic as ExactRetriever) and re-rank them by (score desc, id asc). Default true: a
   * 'Flat' index then returns exactly ExactRetriever's lists and scores. Keeps a copy of the
   * item matrix in JS memory (numItems * dim * 4 bytes). With false, faiss's own float32
   * scores and candidates are returned (ties still ordered by id).
   */
  rescore?: boolean;
}

export interface FaissLoadOptions {
  /**
   * The item matrix the index was built from (row 0 padding). Checked against the
   * fingerprint in the sidecar; needed for `rescore`.
   */
  itemVectors?: Float32Array;
  /** Expected embedding dimension; a different one in the file is an error. */
  dim?: number;
  /** Expected number of item rows (padding included); a different one is an error. */
  numItems?: number;
  /** Expected metric; a different one in the file is an error. */
  metric?: 'ip' | 'cosine';
  /** Default: true when `itemVectors` is given (it is required for true). */
  rescore?: boolean;
  /** Override the saved nprobe (IVF). */
  nprobe?: number;
  /** Override the saved efSearch (HNSW). */
  efSearch?: number;
}

/** The sidecar written next to a saved index (`<path>.json`). */
export interface FaissIndexSidecar {
  format: typeof FAISS_SIDECAR_FORMAT;
  version: number;
  dim: number;
  numItems: number;
  metric: 'ip' | 'cosine';
  factory: string;
  nprobe: number | null;
  efSearch: number | null;
  indexBytes: number;
  indexSha256: string;
  /** sha256 of the item matrix (float32 little-endian, as passed to the constructor). */
  itemsSha256: string;
  faissNode: string | null;
}

export const FAISS_SIDECAR_FORMAT = 'seqrec-faiss-index';
export const FAISS_SIDECAR_VERSION = 1;

/** HNSW efSearch unless given (faiss's own default, 16, gives recall@50 of about 0.3 on random data). */
const DEFAULT_EF_SEARCH = 512;
/** Recall@50 that nprobe / efSearch are calibrated to when not given. */
const DEFAULT_TARGET_RECALL = 0.95;
const CALIBRATION_START_EF = 64;
const MAX_EF_SEARCH = 4096;
/** IVF nprobe unless given: a sixteenth of the lists (faiss's own default is 1). */
function defaultNprobe(nlist: number): number {
  return Math.max(1, Math.ceil(nlist / 16));
}
/** Rows converted to a JS array per faiss-node add/search call. */
const ADD_CHUNK_ROWS = 32768;
const SEARCH_CHUNK_ROWS = 1024;
/** Training vectors are capped (evenly spaced rows): faiss's k-means uses at most 256 per centroid. */
const MAX_TRAIN_ROWS = 262144;

interface State {
  dim: number;
  numItems: number;
  metric: 'ip' | 'cosine';
  factory: string;
  index: FaissIndex;
  /** Item rows (normalised for cosine) for re-scoring, or null. */
  items: Float32Array | null;
  /** Largest L2 norm among `items` (0 when items is null). */
  maxItemNorm: number;
  /** The index is exhaustive (IndexFlat): with `items`, results are made exactly ExactRetriever's. */
  exhaustive: boolean;
  itemsSha256: string;
  nprobe: number | null;
  nlist: number | null;
  efSearch: number | null;
}

/**
 * A `Retriever` over a faiss index of the item matrix (row 0 is padding and is not indexed:
 * item i is faiss label i - 1).
 *
 * Search: each query row (each interest of each user) asks faiss for k' = k + (size of the
 * user's exclusion set) + a re-scoring margin (max(8, ceil(k / 8)) when `rescore`) candidates,
 * capped at the number of indexed items; -1 labels (ANN indexes that found fewer) and
 * excluded ids are dropped, the rest are (re-)scored and the best k kept, ties to the lower id.
 * Multi-interest users are merged as in ExactRetriever (`mergeInterestCandidatesBatch`, k per
 * interest).
 */
export class FaissRetriever implements Retriever {
  private s!: State;
  private disposed = false;
  private calibrationSteps: { parameter: string; target: number; k: number; queries: number; steps: { value: number; recall: number }[] } | null = null;
  /**
   * Query rows that an exhaustive ('Flat') index re-scanned exactly because faiss's float32
   * ranking could not settle the cut (near-ties); counted since construction.
   */
  exactFallbacks = 0;

  constructor(itemVectors: Float32Array, dim: number, options: FaissRetrieverOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new SeqrecError('invalid_argument', `options must be an object, got ${String(options)}`, { field: 'options' });
    }
    checkItems(itemVectors, dim);
    const metric = checkMetric(options.metric ?? 'ip');
    const factory = checkFactory(options.factory ?? 'Flat');
    const rescore = options.rescore ?? true;
    if (typeof rescore !== 'boolean') {
      throw new SeqrecError('invalid_argument', `rescore must be a boolean, got ${String(rescore)}`, { field: 'rescore' });
    }
    for (const f of ['nprobe', 'efSearch', 'efConstruction'] as const) {
      if (options[f] !== undefined) checkPositiveInt(options[f], f);
    }
    const faiss = loadFaissNode();
    const numItems = itemVectors.length / dim;
    const numReal = numItems - 1;
    const itemsSha256 = sha256(itemVectors);
    const rows = Float32Array.from(itemVectors.subarray(dim));
    if (metric === 'cosine') normaliseRows(rows, dim);

    let index: FaissIndex;
    try {
      index = factory === 'Flat' ? new faiss.IndexFlatIP(dim) : faiss.Index.fromFactory(dim, factory, faiss.MetricType.METRIC_INNER_PRODUCT);
    } catch (err) {
      throw new SeqrecError('invalid_config', `faiss cannot build an index from factory string '${factory}' (dim ${dim}): ${faissMessage(err)}`, {
        field: 'factory',
      });
    }
    if (index.getDimension() !== dim) {
      throw new SeqrecError('invalid_config', `factory '${factory}' built an index of dim ${index.getDimension()}, expected ${dim}`, {
        field: 'factory',
      });
    }
    const kind = indexKind(readHeader(index.toBuffer()).fourcc);
    if (options.nprobe !== undefined && kind !== 'ivf') {
      throw new SeqrecError('invalid_config', `nprobe applies to IVF indexes; factory '${factory}' is not one (at its top level)`, { field: 'nprobe' });
    }
    if ((options.efSearch !== undefined || options.efConstruction !== undefined) && kind !== 'hnsw') {
      throw new SeqrecError('invalid_config', `efSearch/efConstruction apply to HNSW indexes; factory '${factory}' is not one (at its top level)`, {
        field: options.efSearch !== undefined ? 'efSearch' : 'efConstruction',
      });
    }
    if (kind === 'hnsw' && options.efConstruction !== undefined) {
      index = faiss.Index.fromBuffer(toBuffer(withHnswParams(index.toBuffer(), { efConstruction: options.efConstruction })));
    }

    if (!index.isTrained()) {
      const needed = minTrainingRows(factory);
      if (numReal < needed.rows) {
        throw new SeqrecError(
          'invalid_config',
          `factory '${factory}' needs at least ${needed.rows} training vectors (${needed.why}), but the item matrix has only ${numReal} real items; ` +
            `use fewer centroids or 'Flat'`,
          { field: 'factory' },
        );
      }
      const train = sampleRows(rows, dim, Math.min(numReal, MAX_TRAIN_ROWS));
      try {
        index.train(Array.from(train));
      } catch (err) {
        throw new SeqrecError('invalid_config', `faiss could not train '${factory}' on ${train.length / dim} vectors: ${faissMessage(err)}`, {
          field: 'factory',
        });
      }
      if (!index.isTrained()) throw new SeqrecError('invalid_config', `faiss index '${factory}' is still untrained after training`, { field: 'factory' });
    }
    for (let r = 0; r < numReal; r += ADD_CHUNK_ROWS) {
      index.add(Array.from(rows.subarray(r * dim, Math.min(numReal, r + ADD_CHUNK_ROWS) * dim)));
    }
    if (index.ntotal() !== numReal) {
      throw new SeqrecError('invalid_config', `faiss index holds ${index.ntotal()} vectors after adding ${numReal}`, { field: 'factory' });
    }
    this.s = {
      dim,
      numItems,
      metric,
      factory,
      index,
      items: rescore ? rows : null,
      maxItemNorm: rescore ? maxRowNorm(rows, dim) : 0,
      exhaustive: kind === 'flat',
      itemsSha256,
      nprobe: null,
      nlist: null,
      efSearch: null,
    };
    this.applySearchParams(kind, { nprobe: options.nprobe, efSearch: options.efSearch }, true);
    const target = options.targetRecall ?? DEFAULT_TARGET_RECALL;
    if (!(target >= 0 && target <= 1)) {
      throw new SeqrecError('invalid_config', `targetRecall must be in [0, 1], got ${String(target)}`, { field: 'targetRecall' });
    }
    const tunable = (kind === 'ivf' && options.nprobe === undefined) || (kind === 'hnsw' && options.efSearch === undefined);
    if (tunable && target > 0) {
      this.calibrate(kind, itemVectors, target, options.calibrationK ?? 50, options.calibrationQueries ?? 200);
    }
  }

  /**
   * Raises nprobe / efSearch by doubling until recall@k against exact search on item vectors
   * used as queries reaches `target` (or the parameter's maximum). Recorded in `calibration`.
   */
  private calibrate(kind: string, itemVectors: Float32Array, target: number, k: number, numQueries: number): void {
    const { dim, numItems } = this.s;
    const real = numItems - 1;
    const q = Math.min(numQueries, real);
    const kk = Math.min(k, real);
    const queries = new Float32Array(q * dim);
    for (let i = 0; i < q; i++) {
      const row = 1 + Math.floor((i * real) / q);
      queries.set(itemVectors.subarray(row * dim, row * dim + dim), i * dim);
    }
    const exactRetriever = new ExactRetriever(itemVectors, dim, { metric: this.s.metric });
    const exact = exactRetriever.search(queries, { k: kk });
    exactRetriever.dispose();
    const recallOf = (): number => {
      const got = this.search(queries, { k: kk });
      let hits = 0;
      for (let i = 0; i < q; i++) {
        const truth = new Set(exact.ids.subarray(i * kk, i * kk + kk));
        for (let j = 0; j < kk; j++) if (truth.has(got.ids[i * kk + j])) hits++;
      }
      return hits / (q * kk);
    };
    const steps: { value: number; recall: number }[] = [];
    if (kind === 'ivf') {
      const nlist = this.s.nlist!;
      for (let nprobe = this.s.nprobe!; ; nprobe = Math.min(nlist, nprobe * 2)) {
        this.applySearchParams(kind, { nprobe }, false);
        const recall = recallOf();
        steps.push({ value: nprobe, recall });
        if (recall >= target || nprobe === nlist) break;
      }
    } else {
      for (let ef = CALIBRATION_START_EF; ; ef *= 2) {
        this.applySearchParams(kind, { efSearch: ef }, false);
        const recall = recallOf();
        steps.push({ value: ef, recall });
        if (recall >= target || ef >= MAX_EF_SEARCH) break;
      }
    }
    this.calibrationSteps = { parameter: kind === 'ivf' ? 'nprobe' : 'efSearch', target, k: kk, queries: q, steps };
  }

  /** What calibration tried (parameter values and the recall each gave), or null. */
  get calibration(): { parameter: string; target: number; k: number; queries: number; steps: { value: number; recall: number }[] } | null {
    return this.calibrationSteps;
  }

  get dim(): number {
    return this.s.dim;
  }
  get numItems(): number {
    return this.s.numItems;
  }
  get metric(): 'ip' | 'cosine' {
    return this.s.metric;
  }
  /** The factory string the index was built from. */
  get factory(): string {
    return this.s.factory;
  }
  /** Whether candidates are re-scored exactly. */
  get rescore(): boolean {
    return this.s.items !== null;
  }
  /** Current search parameters: nprobe/nlist for IVF, efSearch for HNSW (null when not applicable). */
  get searchParams(): { nprobe: number | null; nlist: number | null; efSearch: number | null } {
    return { nprobe: this.s.nprobe, nlist: this.s.nlist, efSearch: this.s.efSearch };
  }

  /**
   * Changes nprobe (IVF) or efSearch (HNSW). faiss-node has no setter, so this serialises the
   * index, patches the field and reads it back: a copy of the index, O(index size).
   */
  setSearchParams(params: { nprobe?: number; efSearch?: number }): void {
    this.checkLive();
    if (params === null || typeof params !== 'object') {
      throw new SeqrecError('invalid_argument', `params must be an object, got ${String(params)}`, { field: 'params' });
    }
    if (params.nprobe !== undefined) checkPositiveInt(params.nprobe, 'nprobe');
    if (params.efSearch !== undefined) checkPositiveInt(params.efSearch, 'efSearch');
    const kind = indexKind(readHeader(this.s.index.toBuffer()).fourcc);
    if (params.nprobe !== undefined && kind !== 'ivf') {
      throw new SeqrecError('invalid_config', `nprobe applies to IVF indexes; '${this.s.factory}' is not one`, { field: 'nprobe' });
    }
    if (params.efSearch !== undefined && kind !== 'hnsw') {
      throw new SeqrecError('invalid_config', `efSearch applies to HNSW indexes; '${this.s.factory}' is not one`, { field: 'efSearch' });
    }
    this.applySearchParams(kind, params, false);
  }

  search(queries: Float32Array, options: SearchOptions): SearchResult {
    this.checkLive();
    const { dim, numItems, index, items, exhaustive, maxItemNorm } = this.s;
    const { k, interests, numQueries, exclude } = checkSearch(queries, options, dim);
    const { rows, userSets } = prepareQueries(queries, this.s.metric, dim, numQueries, exclude);

    const numRows = numQueries * interests;
    const ids = new Int32Array(numRows * k);
    const scores = new Float32Array(numRows * k);
    const numReal = numItems - 1;
    const heap = new TopKHeap(k);
    const margin = items ? Math.max(8, Math.ceil(k / 8)) : 0;

    for (let r0 = 0; r0 < numRows; r0 += SEARCH_CHUNK_ROWS) {
      const r1 = Math.min(numRows, r0 + SEARCH_CHUNK_ROWS);
      let maxExcluded = 0;
      for (let u = Math.floor(r0 / interests); u <= Math.floor((r1 - 1) / interests); u++) {
        maxExcluded = Math.max(maxExcluded, userSets[u]?.size ?? 0);
      }
      const fetch = Math.min(numReal, k + maxExcluded + margin);
      let labels: number[] = [];
      let distances: number[] = [];
      if (fetch > 0) {
        ({ labels, distances } = index.search(Array.from(rows.subarray(r0 * dim, r1 * dim)), fetch));
      }
      for (let r = r0; r < r1; r++) {
        const ex = userSets[Math.floor(r / interests)];
        const base = (r - r0) * fetch;
        const q = r * dim;
        for (let j = 0; j < fetch; j++) {
          const label = labels[base + j];
          if (label < 0) continue;
          const id = label + 1;
          if (ex !== null && ex.has(id)) continue;
          let s: number;
          if (items) {
            // Same arithmetic as ExactRetriever: float64 sum over j in order, rounded to float32.
            const b = label * dim;
            s = 0;
            for (let t = 0; t < dim; t++) s += items[b + t] * rows[q + t];
          } else {
            s = distances[base + j];
          }
          heap.push(id, Math.fround(s));
        }
        if (items && exhaustive && fetch < numReal && labels[base + fetch - 1] >= 0) {
          // faiss ranked by float32 scores, which differ from the exact ones by at most
          // `bound`. An item faiss did not return scores at most (its k'-th score) + bound; if
          // that could reach the k-th exact score (near-ties, or many exactly tied items at
          // the cut), scan this row exactly so the result is ExactRetriever's.
          let qq = 0;
          for (let t = 0; t < dim; t++) qq += rows[q + t] * rows[q + t];
          const bound = 2 * (dim + 1) * 2 ** -24 * Math.sqrt(qq) * maxItemNorm;
          if (heap.size < k || distances[base + fetch - 1] + bound >= heap.threshold) {
            heap.reset();
            exactScan(items, dim, rows, q, ex, heap);
            this.exactFallbacks++;
          }
        }
        heap.drainInto(ids, scores, r * k);
      }
    }
    if (interests === 1) return { k, numQueries, ids, scores };
    return mergeInterestCandidatesBatch(ids, scores, interests, k, k);
  }

  /**
   * Writes the index to `path` (faiss's own serialisation) and a JSON sidecar to `path.json`
   * (format tag, version, dim, numItems, metric, factory, search parameters, sizes and
   * checksums), so that `load` can reject a mismatched or corrupt file with a clear error.
   */
  save(path: string): void {
    this.checkLive();
    const buf = this.s.index.toBuffer();
    const sidecar: FaissIndexSidecar = {
      format: FAISS_SIDECAR_FORMAT,
      version: FAISS_SIDECAR_VERSION,
      dim: this.s.dim,
      numItems: this.s.numItems,
      metric: this.s.metric,
      factory: this.s.factory,
      nprobe: this.s.nprobe,
      efSearch: this.s.efSearch,
      indexBytes: buf.length,
      indexSha256: sha256(buf),
      itemsSha256: this.s.itemsSha256,
      faissNode: faissVersion,
    };
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, buf);
    renameSync(tmp, path);
    writeFileSync(`${path}.json`, JSON.stringify(sidecar, null, 2) + '\n');
  }

  /** Reads an index written by `save`. See `FaissLoadOptions` for the checks it can make. */
  static load(path: string, options: FaissLoadOptions = {}): FaissRetriever {
    if (options === null || typeof options !== 'object') {
      throw new SeqrecError('invalid_argument', `options must be an object, got ${String(options)}`, { field: 'options' });
    }
    const sidecarPath = `${path}.json`;
    const sidecar = readSidecar(sidecarPath);
    const mismatch = (what: string, got: unknown, want: unknown): SeqrecError =>
      new SeqrecError('shape_mismatch', `${path}: the index has ${what} ${String(got)}, expected ${String(want)}`, { file: path, field: what });
    if (options.dim !== undefined && options.dim !== sidecar.dim) throw mismatch('dim', sidecar.dim, options.dim);
    if (options.numItems !== undefined && options.numItems !== sidecar.numItems) throw mismatch('numItems', sidecar.numItems, options.numItems);
    if (options.metric !== undefined && options.metric !== sidecar.metric) throw mismatch('metric', sidecar.metric, options.metric);
    let rows: Float32Array | null = null;
    const rescore = options.rescore ?? options.itemVectors !== undefined;
    if (rescore && options.itemVectors === undefined) {
      throw new SeqrecError('invalid_argument', 'rescore needs the item matrix: pass itemVectors to FaissRetriever.load', { field: 'rescore' });
    }
    if (options.itemVectors !== undefined) {
      checkItems(options.itemVectors, sidecar.dim);
      if (options.itemVectors.length !== sidecar.numItems * sidecar.dim) {
        throw mismatch('numItems', sidecar.numItems, `${options.itemVectors.length / sidecar.dim} (rows of itemVectors)`);
      }
      if (sha256(options.itemVectors) !== sidecar.itemsSha256) {
        throw new SeqrecError('shape_mismatch', `${path}: the index was built from different item vectors than the itemVectors given`, {
          file: path,
          field: 'itemVectors',
        });
      }
      if (rescore) {
        rows = Float32Array.from(options.itemVectors.subarray(sidecar.dim));
        if (sidecar.metric === 'cosine') normaliseRows(rows, sidecar.dim);
      }
    }
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch (err) {
      throw new SeqrecError('bundle_invalid', `${path}: cannot read the faiss index (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
        file: path,
      });
    }
    if (buf.length !== sidecar.indexBytes || sha256(buf) !== sidecar.indexSha256) {
      throw new SeqrecError(
        'bundle_invalid',
        `${path}: the faiss index file is corrupt or was replaced (${buf.length} bytes, sidecar ${sidecarPath} expects ${sidecar.indexBytes} bytes with sha256 ${sidecar.indexSha256.slice(0, 12)}...)`,
        { file: path },
      );
    }
    const header = readHeader(buf);
    if (header.dim !== sidecar.dim || header.ntotal !== sidecar.numItems - 1 || header.metricType !== 0) {
      throw new SeqrecError(
        'bundle_invalid',
        `${path}: the faiss index (d=${header.dim}, ntotal=${header.ntotal}, metric=${header.metricType}) does not match its sidecar (dim ${sidecar.dim}, ${sidecar.numItems - 1} items, inner product)`,
        { file: path },
      );
    }
    const faiss = loadFaissNode();
    let index: FaissIndex;
    try {
      index = faiss.Index.fromBuffer(buf);
    } catch (err) {
      throw new SeqrecError('bundle_invalid', `${path}: faiss cannot read the index: ${faissMessage(err)}`, { file: path });
    }
    const r = Object.create(FaissRetriever.prototype) as FaissRetriever;
    r.disposed = false;
    r.exactFallbacks = 0;
    r.s = {
      dim: sidecar.dim,
      numItems: sidecar.numItems,
      metric: sidecar.metric,
      factory: sidecar.factory,
      index,
      items: rows,
      maxItemNorm: rows ? maxRowNorm(rows, sidecar.dim) : 0,
      exhaustive: indexKind(header.fourcc) === 'flat',
      itemsSha256: sidecar.itemsSha256,
      nprobe: null,
      nlist: null,
      efSearch: null,
    };
    r.applySearchParams(
      indexKind(header.fourcc),
      {
        nprobe: options.nprobe !== undefined ? checkPositiveInt(options.nprobe, 'nprobe') : undefined,
        efSearch: options.efSearch !== undefined ? checkPositiveInt(options.efSearch, 'efSearch') : undefined,
      },
      false,
    );
    return r;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // faiss-node frees the native index when the wrapper is garbage-collected.
    this.s = { ...this.s, index: null as unknown as FaissIndex, items: null };
  }

  private checkLive(): void {
    if (this.disposed) {
      throw new SeqrecError('invalid_argument', 'this FaissRetriever has been disposed; create a new one to search');
    }
  }

  /**
   * Sets nprobe / efSearch (when given; seqrec's defaults when `useDefaults`, else the values
   * in the index) by patching the serialised index, and records the current values.
   */
  private applySearchParams(kind: string, params: { nprobe?: number; efSearch?: number }, useDefaults: boolean): void {
    const faiss = loadFaissNode();
    let buf: Uint8Array = this.s.index.toBuffer();
    let changed = false;
    if (kind === 'ivf') {
      const p = readIvfParams(buf);
      const nprobe = params.nprobe ?? (useDefaults ? defaultNprobe(p.nlist) : p.nprobe);
      if (nprobe > p.nlist) {
        throw new SeqrecError('invalid_config', `nprobe must be in [1, nlist = ${p.nlist}], got ${nprobe}`, { field: 'nprobe' });
      }
      if (nprobe !== p.nprobe) {
        buf = withNprobe(buf, nprobe);
        changed = true;
      }
      this.s.nprobe = nprobe;
      this.s.nlist = p.nlist;
    } else if (kind === 'hnsw') {
      const p = readHnswParams(buf);
      const efSearch = params.efSearch ?? (useDefaults ? DEFAULT_EF_SEARCH : p.efSearch);
      if (efSearch !== p.efSearch) {
        buf = withHnswParams(buf, { efSearch });
        changed = true;
      }
      this.s.efSearch = efSearch;
    }
    if (changed) {
      const next = faiss.Index.fromBuffer(toBuffer(buf));
      if (next.ntotal() !== this.s.index.ntotal()) throw new SeqrecError('invalid_config', 'faiss lost vectors while setting search parameters');
      this.s.index = next;
    }
  }
}

// ---- helpers ----

function toBuffer(a: Uint8Array): Buffer {
  return Buffer.isBuffer(a) ? a : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function sha256(a: ArrayBufferView): string {
  return createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
}

function faissMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // faiss messages start with "Error in <signature> at <file>:<line>: "; keep the reason.
  const m = /^Error in .* at [^:]+:\d+: (.*)$/s.exec(msg);
  return (m ? m[1] : msg).trim();
}


function maxRowNorm(rows: Float32Array, dim: number): number {
  let max = 0;
  for (let base = 0; base < rows.length; base += dim) {
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += rows[base + j] * rows[base + j];
    if (ss > max) max = ss;
  }
  return Math.sqrt(max);
}

/**
 * Exact top-k of query row `rows[q, q + dim)` over all items (`items` row i = item i + 1),
 * as ExactRetriever computes it, into `heap`.
 */
function exactScan(items: Float32Array, dim: number, rows: Float32Array, q: number, ex: ReadonlySet<number> | null, heap: TopKHeap): void {
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

/** `count` rows of `rows`, evenly spaced (all of them when count covers them). */
function sampleRows(rows: Float32Array, dim: number, count: number): Float32Array {
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

function checkPositiveInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 2 ** 31 - 1) {
    throw new SeqrecError('invalid_argument', `${field} must be an integer >= 1, got ${String(v)}`, { field });
  }
  return v;
}

function checkMetric(metric: unknown): 'ip' | 'cosine' {
  if (metric !== 'ip' && metric !== 'cosine') {
    throw new SeqrecError('invalid_argument', `metric must be 'ip' or 'cosine', got ${String(metric)}`, { field: 'metric' });
  }
  return metric;
}

function checkFactory(factory: unknown): string {
  if (typeof factory !== 'string' || factory.trim() === '') {
    throw new SeqrecError('invalid_config', `factory must be a non-empty faiss index factory string, got ${String(factory)}`, { field: 'factory' });
  }
  if (/IDMap/i.test(factory)) {
    throw new SeqrecError('invalid_config', `factory '${factory}': IDMap wrappers are not supported (faiss-node has no add_with_ids; FaissRetriever maps ids itself)`, {
      field: 'factory',
    });
  }
  return factory.trim();
}

function checkItems(itemVectors: unknown, dim: unknown): asserts itemVectors is Float32Array {
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1) {
    throw new SeqrecError('invalid_argument', `dim must be an integer >= 1, got ${String(dim)}`, { field: 'dim' });
  }
  if (!(itemVectors instanceof Float32Array)) {
    throw new SeqrecError('invalid_argument', `itemVectors must be a Float32Array, got ${typeName(itemVectors)}`, { field: 'itemVectors' });
  }
  if (itemVectors.length === 0 || itemVectors.length % dim !== 0) {
    throw new SeqrecError(
      'shape_mismatch',
      `itemVectors.length must be a positive multiple of dim=${dim} (row 0 is padding), got ${itemVectors.length}`,
      { field: 'itemVectors' },
    );
  }
  const bad = firstNonFinite(itemVectors);
  if (bad >= 0) {
    throw new SeqrecError(
      'invalid_argument',
      `itemVectors must be finite, got ${itemVectors[bad]} at item ${Math.floor(bad / dim)}, component ${bad % dim}`,
      { field: 'itemVectors' },
    );
  }
}

/** The same argument checks (and messages) as ExactRetriever.search. */

function readSidecar(path: string): FaissIndexSidecar {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SeqrecError(
      'bundle_invalid',
      `${path}: cannot read the index sidecar (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); FaissRetriever.save writes it next to the index`,
      { file: path },
    );
  }
  let s: Partial<FaissIndexSidecar>;
  try {
    s = JSON.parse(text) as Partial<FaissIndexSidecar>;
  } catch (err) {
    throw new SeqrecError('bundle_invalid', `${path}: the index sidecar is not valid JSON (${(err as Error).message})`, { file: path });
  }
  if (s === null || typeof s !== 'object' || s.format !== FAISS_SIDECAR_FORMAT) {
    throw new SeqrecError('bundle_invalid', `${path}: not a seqrec faiss index sidecar (format ${JSON.stringify(s?.format)}, expected '${FAISS_SIDECAR_FORMAT}')`, {
      file: path,
    });
  }
  if (s.version !== FAISS_SIDECAR_VERSION) {
    throw new SeqrecError('bundle_invalid', `${path}: sidecar version ${String(s.version)} is not supported (this seqrec reads version ${FAISS_SIDECAR_VERSION})`, {
      file: path,
    });
  }
  const intOk = (v: unknown, min: number) => typeof v === 'number' && Number.isInteger(v) && v >= min;
  if (
    !intOk(s.dim, 1) ||
    !intOk(s.numItems, 1) ||
    !intOk(s.indexBytes, 1) ||
    (s.metric !== 'ip' && s.metric !== 'cosine') ||
    typeof s.factory !== 'string' ||
    typeof s.indexSha256 !== 'string' ||
    typeof s.itemsSha256 !== 'string'
  ) {
    throw new SeqrecError('bundle_invalid', `${path}: the index sidecar lacks or has invalid dim/numItems/metric/factory/indexBytes/checksums`, { file: path });
  }
  return s as FaissIndexSidecar;
}


