/**
 * `FaissRetriever`: retrieval over a faiss index through faiss-node (an optional dependency,
 * loaded lazily by native.ts). Calibration of search parameters is in calibrate.ts, saving
 * and reading the index with its sidecar in persist.ts, argument checks in checks.ts.
 *
 * faiss-node 0.5.1's API, and what it means here:
 * - Vectors go in and results come out as plain JS arrays (no typed arrays), so rows are
 *   converted in chunks; the build from `npm run setup:faiss` adds searchTyped/addTyped/
 *   trainTyped (Float32Array in, typed arrays out), used when present. With seqrec's native
 *   addon too, the re-scoring of candidates runs in C (native/retrieval.c), so a batch has
 *   no per-query JavaScript.
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
import { SeqrecError } from '../../errors.js';
import { checkSearch, normaliseRows, prepareQueries } from '../validate.js';
import { indexKind, readHeader, readHnswParams, readIvfParams, withHnswParams, withNprobe } from '../faiss-format.js';
import { mergeInterestCandidatesBatch } from '../merge.js';
import { retrievalKernels } from '../native-kernels.js';
import { exactScan, rescoreChunkNative } from '../rescore.js';
import { TopKHeap } from '../topk.js';
import type { Retriever, SearchOptions, SearchResult } from '../types.js';
import type { FaissLoadOptions, FaissRetrieverOptions } from './options.js';
import {
  calibrate,
  CALIBRATION_START_EF,
  DEFAULT_EF_SEARCH,
  DEFAULT_TARGET_RECALL,
  defaultNprobe,
  MAX_EF_SEARCH,
  type CalibrationReport,
} from './calibrate.js';
import { checkFactory, checkMetric, checkPositiveInt, maxRowNorm, minTrainingRows, sampleRows } from './checks.js';
import { checkItems } from '../validate.js';
import { faissMessage, faissNodeVersion, loadFaissNode, toBuffer, type FaissIndex } from './native.js';
import { FAISS_SIDECAR_FORMAT, FAISS_SIDECAR_VERSION, readSavedIndex, readSidecar, sha256, writeSavedIndex, type FaissIndexSidecar } from './persist.js';

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
  private calibrationSteps: CalibrationReport | null = null;
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
        if (index.trainTyped) index.trainTyped(train);
        else index.train(Array.from(train));
      } catch (err) {
        throw new SeqrecError('invalid_config', `faiss could not train '${factory}' on ${train.length / dim} vectors: ${faissMessage(err)}`, {
          field: 'factory',
        });
      }
      if (!index.isTrained()) throw new SeqrecError('invalid_config', `faiss index '${factory}' is still untrained after training`, { field: 'factory' });
    }
    for (let r = 0; r < numReal; r += ADD_CHUNK_ROWS) {
      const chunk = rows.subarray(r * dim, Math.min(numReal, r + ADD_CHUNK_ROWS) * dim);
      if (index.addTyped) index.addTyped(chunk);
      else index.add(Array.from(chunk));
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
      const goal = { recall: target, k: options.calibrationK ?? 50, queries: options.calibrationQueries ?? 200 };
      this.calibrationSteps =
        kind === 'ivf'
          ? calibrate(
              this,
              itemVectors,
              'nprobe',
              { start: this.s.nprobe!, max: this.s.nlist! },
              (nprobe) => this.applySearchParams(kind, { nprobe }, false),
              goal,
            )
          : calibrate(
              this,
              itemVectors,
              'efSearch',
              { start: CALIBRATION_START_EF, max: MAX_EF_SEARCH },
              (efSearch) => this.applySearchParams(kind, { efSearch }, false),
              goal,
            );
    }
  }

  /** What calibration tried (parameter values and the recall each gave), or null. */
  get calibration(): CalibrationReport | null {
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
    const kernels = retrievalKernels();

    for (let r0 = 0; r0 < numRows; r0 += SEARCH_CHUNK_ROWS) {
      const r1 = Math.min(numRows, r0 + SEARCH_CHUNK_ROWS);
      let maxExcluded = 0;
      for (let u = Math.floor(r0 / interests); u <= Math.floor((r1 - 1) / interests); u++) {
        maxExcluded = Math.max(maxExcluded, userSets[u]?.size ?? 0);
      }
      const fetch = Math.min(numReal, k + maxExcluded + margin);
      let labels: ArrayLike<number> = [];
      let distances: ArrayLike<number> = [];
      if (fetch > 0) {
        const chunk = rows.subarray(r0 * dim, r1 * dim);
        ({ labels, distances } = index.searchTyped ? index.searchTyped(chunk, fetch) : index.search(Array.from(chunk), fetch));
      }
      if (kernels !== null && items !== null && labels instanceof Int32Array && distances instanceof Float32Array) {
        const { numItems: n, exhaustive: full, maxItemNorm: norm } = this.s;
        const chunk = { rows, r0, r1, interests, userSets, labels, distances, fetch, k, ids, scores, heap };
        this.exactFallbacks += rescoreChunkNative(kernels, items, n, dim, full, norm, chunk);
        continue;
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
      faissNode: faissNodeVersion(),
    };
    writeSavedIndex(path, buf, sidecar);
  }

  /** Reads an index written by `save`. See `FaissLoadOptions` for the checks it can make. */
  static load(path: string, options: FaissLoadOptions = {}): FaissRetriever {
    if (options === null || typeof options !== 'object') {
      throw new SeqrecError('invalid_argument', `options must be an object, got ${String(options)}`, { field: 'options' });
    }
    const sidecar = readSidecar(`${path}.json`);
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
    const { bytes: buf, header } = readSavedIndex(path, sidecar);
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
