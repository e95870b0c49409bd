/**
 * `Recommender`: a loaded serving bundle answering by raw item id.
 *
 * Concurrency. Every public method except `load`/`reload` is synchronous from start to end:
 * it reads the current state once, runs the model (TF.js's cpu and wasm backends, and
 * tfjs-node, compute synchronously; results are read with `dataSync`) and the retriever (plain
 * JavaScript), and returns. JavaScript runs one function at a time per thread, so calls made
 * from many concurrent async handlers (an HTTP server's requests) can never interleave with
 * each other or with a reload's swap: no locks are needed, and a call always uses one
 * consistent model + vocabulary + index.
 *
 * Hot reload. `reload(dir)` loads and warms up the new bundle completely (its file reads are
 * asynchronous, so requests keep being served meanwhile), then replaces the state with one
 * assignment and disposes the old state. Because no synchronous call can be running at that
 * moment, no call ever sees a disposed model; calls that started before the swap finished on
 * the old state, calls after it use the new one. A failed reload leaves the old state serving.
 * Reloads are serialised; one that takes longer than `reloadTimeoutMs` fails and is abandoned, so
 * a stuck read cannot hold up the reloads after it.
 *
 * Memory. Each call creates its tensors inside `tf.tidy` and reads results into typed arrays
 * before returning, so the number of live tensors does not change from call to call (see the
 * test over 20,000 calls and the bench over 100,000).
 */
import * as tf from '@tensorflow/tfjs-core';
import { windowBatch } from '../data/windows.js';
import { initBackend } from '../backend/index.js';
import { SeqrecError } from '../errors.js';
import type { BaseRecaller } from '../models/base.js';
import { buildState, disposeState, stateFromModel, type State } from './recommender-state.js';
import type {
  FromModelOptions,
  ItemId,
  Limits,
  Recommendation,
  RecommenderInfo,
  RecommenderOptions,
  RecommendOptions,
  ScoredItem,
} from './recommender-types.js';

export type { FromModelOptions, ItemId, Recommendation, RecommenderInfo, RecommenderOptions, RecommendOptions, ScoredItem } from './recommender-types.js';

interface Encoded {
  /** Known item indices in history order (duplicates kept: the model sees the sequence). */
  known: number[];
  unknown: string[];
}

const DEFAULTS = { maxK: 1000, maxHistory: 1000, maxBatch: 256, reloadTimeoutMs: 30_000 } as const;

/**
 * Timed-out loads still reading files that are refused new reloads. Each stuck read holds one
 * of libuv's 4 threads, and every file read of the process waits when all are taken.
 */
const MAX_STUCK_LOADS = 2;

function invalidArg(field: string, message: string): SeqrecError {
  return new SeqrecError('invalid_argument', message, { field });
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

function limitOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalidArg(name, `Recommender: ${name} must be an integer >= 1, got ${String(value)}`);
  }
  return value;
}

/** The limits of `options`, after checking every option shared by `load` and `fromModel`. */
function checkOptions(options: RecommenderOptions, where: string): Limits {
  if (options === null || typeof options !== 'object') throw invalidArg('options', `${where}: options must be an object`);
  const limits: Limits = {
    maxK: limitOption(options.maxK, 'maxK', DEFAULTS.maxK),
    maxHistory: limitOption(options.maxHistory, 'maxHistory', DEFAULTS.maxHistory),
    maxBatch: limitOption(options.maxBatch, 'maxBatch', DEFAULTS.maxBatch),
  };
  limitOption(options.reloadTimeoutMs, 'reloadTimeoutMs', DEFAULTS.reloadTimeoutMs);
  const retriever = options.retriever ?? 'auto';
  if (!['auto', 'exact', 'faiss'].includes(retriever))
    throw invalidArg('retriever', `Recommender: retriever must be 'auto', 'exact' or 'faiss', got ${String(retriever)}`);
  const metric = options.similarItemsMetric ?? 'cosine';
  if (metric !== 'cosine' && metric !== 'ip')
    throw invalidArg('similarItemsMetric', `Recommender: similarItemsMetric must be 'cosine' or 'ip', got ${String(metric)}`);
  return limits;
}

export class Recommender {
  private state: State;
  private readonly limits: Limits;
  private readonly options: RecommenderOptions;
  private disposed = false;
  /** Tail of the reload queue. */
  private reloading: Promise<unknown> = Promise.resolve();
  /** Loads abandoned by a reload timeout that have not settled yet. */
  private stuckLoads = 0;

  private constructor(state: State, limits: Limits, options: RecommenderOptions) {
    this.state = state;
    this.limits = limits;
    this.options = options;
  }

  /**
   * Loads a bundle written by `exportBundle` / `seqrec export` / `seqrec train --out`,
   * initialising the TF.js backend if needed, and warms it up (unless `warmUp: false`).
   */
  static async load(dir: string, options: RecommenderOptions = {}): Promise<Recommender> {
    if (typeof dir !== 'string' || dir === '') throw invalidArg('dir', `Recommender.load: dir must be a bundle directory path, got ${typeOf(dir)}`);
    const limits = checkOptions(options, 'Recommender.load');
    await initBackend();
    return Recommender.start(await buildState(dir, options, 1), limits, options);
  }

  /**
   * A Recommender over a trained model in memory, with exact retrieval:
   * `Recommender.fromModel(model, { dataset }).recommend(['i1', 'i7'], { k: 10 })`. The model
   * stays the caller's (`dispose` does not dispose it); `reload(dir)` can switch to a bundle.
   */
  static fromModel(model: BaseRecaller, options: FromModelOptions): Recommender {
    const limits = checkOptions(options, 'Recommender.fromModel');
    const vocabulary = options.vocabulary ?? options.dataset?.vocabulary;
    if (!vocabulary) throw invalidArg('vocabulary', 'Recommender.fromModel: give the training dataset ({ dataset }) or the item ids ({ vocabulary })');
    const popularity = options.popularity ?? options.dataset?.itemPopularity();
    return Recommender.start(stateFromModel({ model, vocabulary, popularity, similarity: options.similarity }, options, 1), limits, options);
  }

  private static start(state: State, limits: Limits, options: RecommenderOptions): Recommender {
    const rec = new Recommender(state, limits, options);
    try {
      if (options.warmUp !== false) rec.warmUp(state);
    } catch (err) {
      disposeState(state);
      throw err;
    }
    return rec;
  }

  /** One call of each kind on `state` (JIT, kernel set-up), leaving no tensor behind. */
  private warmUp(state: State): void {
    const first = state.vocabulary.decode(state.popularOrder[0] ?? 1);
    const k = Math.min(10, this.limits.maxK);
    this.recommendOn(state, [[first], []], { k }, 'histories');
    this.similarOn(state, first, k);
  }

  /** Facts about the loaded bundle and the limits in force. */
  info(): RecommenderInfo {
    const s = this.live();
    return {
      dir: s.dir,
      model: s.model.name,
      numItems: s.vocabulary.numItems,
      embeddingDim: s.model.embeddingDim,
      numInterests: s.model.numInterests,
      maxLen: s.model.maxLen,
      similarity: s.similarity,
      retriever: s.retrieverKind,
      bundleVersion: s.bundleVersion,
      bundleCreatedAt: s.bundleCreatedAt,
      loadedAt: s.loadedAt,
      generation: s.generation,
      limits: { ...this.limits },
    };
  }

  /** The limits in force (maxK, maxHistory, maxBatch). */
  get limitsInForce(): Readonly<Limits> {
    return this.limits;
  }

  /** Whether `id` is in the vocabulary. */
  hasItem(id: ItemId): boolean {
    const s = this.live();
    return (typeof id === 'string' || typeof id === 'number') && s.vocabulary.has(String(id));
  }

  /**
   * Top-k next items for a history of raw item ids (oldest first). Unknown ids are reported
   * in `unknown` and skipped; a history that is empty or has no known id gets the most popular
   * training items, with `fallback: 'popularity'` and a `reason`.
   */
  recommend(history: readonly ItemId[], options: RecommendOptions = {}): Recommendation {
    return this.recommendOn(this.live(), [history], options, 'history')[0];
  }

  /**
   * `recommend` for many histories at once: one model call (`userEmbeddings`) and one
   * retrieval call for all histories with a known item. Results are in input order and equal
   * to calling `recommend` on each history.
   */
  recommendMany(histories: readonly (readonly ItemId[])[], options: RecommendOptions = {}): Recommendation[] {
    return this.recommendOn(this.live(), histories, options, 'histories');
  }

  /**
   * The k items most similar to `itemId` by item embedding (cosine by default, see
   * `similarItemsMetric`), the item itself excluded. Throws `unknown_item` for an unknown id.
   */
  similarItems(itemId: ItemId, k = 10): ScoredItem[] {
    return this.similarOn(this.live(), itemId, k);
  }

  /**
   * The user embedding of a history: K*D floats (interest-major), plain data. Unknown ids are
   * skipped; a history with no known id throws `unknown_item`.
   */
  userEmbedding(history: readonly ItemId[]): Float32Array {
    const s = this.live();
    const enc = this.encode(s, history, 'history');
    if (enc.known.length === 0) {
      throw new SeqrecError(
        'unknown_item',
        history.length === 0 ? 'userEmbedding: the history is empty' : `userEmbedding: none of the ${history.length} history ids are in the vocabulary`,
        { field: 'history' },
      );
    }
    return this.embed(s, [enc.known]);
  }

  /**
   * Loads the bundle in `dir` (default: the current bundle's directory, e.g. after it was
   * re-exported in place), warms it up, then swaps it in atomically and disposes the old
   * model. Concurrent reloads run one after another. On failure the current bundle stays. A
   * load that takes longer than `timeoutMs` (default: the `reloadTimeoutMs` option) fails with
   * code 'timeout'; after two such stuck loads, reloads are refused until the process restarts.
   */
  reload(dir?: string, options: { timeoutMs?: number } = {}): Promise<RecommenderInfo> {
    const timeoutMs = limitOption(options?.timeoutMs, 'timeoutMs', this.options.reloadTimeoutMs ?? DEFAULTS.reloadTimeoutMs);
    const run = async (): Promise<RecommenderInfo> => {
      const current = this.live();
      const target = dir ?? current.dir;
      if (target === '') throw invalidArg('dir', 'this Recommender was built with Recommender.fromModel: give reload a bundle directory');
      const next = await this.loadWithin(target, current.generation + 1, timeoutMs);
      if (this.disposed) {
        disposeState(next);
        throw new SeqrecError('invalid_argument', 'Recommender was disposed during reload');
      }
      try {
        if (this.options.warmUp !== false) this.warmUp(next);
      } catch (err) {
        disposeState(next);
        throw err;
      }
      // Nothing else runs between these lines: the swap is atomic for every caller.
      const old = this.state;
      this.state = next;
      disposeState(old);
      return this.info();
    };
    const result = this.reloading.then(run, run);
    this.reloading = result.catch(() => undefined);
    return result;
  }

  /**
   * `buildState`, failing with code 'timeout' after `timeoutMs`. A load cannot be cancelled
   * (a blocked read stays blocked): it is abandoned, and disposed should it ever finish.
   */
  private async loadWithin(dir: string, generation: number, timeoutMs: number): Promise<State> {
    if (this.stuckLoads >= MAX_STUCK_LOADS) {
      throw new SeqrecError(
        'timeout',
        `reload refused: ${this.stuckLoads} earlier reloads timed out and are still stuck reading their files; fix the bundle's storage and restart the process`,
      );
    }
    const building = buildState(dir, this.options, generation);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.stuckLoads++;
        building
          .then((late) => disposeState(late))
          .catch(() => undefined)
          .finally(() => this.stuckLoads--);
        reject(
          new SeqrecError(
            'timeout',
            `reload of ${dir}: the bundle did not finish loading within ${timeoutMs / 1000} s (a file that blocks or a stuck disk?); still serving the previous bundle`,
            { field: 'reloadTimeoutMs' },
          ),
        );
      }, timeoutMs);
    });
    try {
      return await Promise.race([building, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Releases the model and retrievers. Calls afterwards throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeState(this.state);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  // ---- implementation -------------------------------------------------------------------

  private live(): State {
    if (this.disposed) throw new SeqrecError('invalid_argument', 'this Recommender has been disposed');
    return this.state;
  }

  private checkK(k: unknown, field = 'k'): number {
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > this.limits.maxK) {
      throw invalidArg(field, `${field} must be an integer in 1..${this.limits.maxK}, got ${typeof k === 'number' ? k : typeOf(k)}`);
    }
    return k;
  }

  private resolveOptions(s: State, options: RecommendOptions): { k: number; excludeSeen: boolean; interest: number | null } {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw invalidArg('options', `options must be an object like {k, excludeSeen, interests}, got ${typeOf(options)}`);
    }
    // Never more than the catalogue: k only sizes the result buffers.
    const k = Math.min(this.checkK(options.k ?? 10), s.vocabulary.numItems);
    const excludeSeen = options.excludeSeen ?? true;
    if (typeof excludeSeen !== 'boolean') throw invalidArg('excludeSeen', `excludeSeen must be a boolean, got ${typeOf(excludeSeen)}`);
    const interests = options.interests ?? 'merge';
    let interest: number | null = null;
    if (interests !== 'merge') {
      const K = s.model.numInterests;
      if (typeof interests !== 'number' || !Number.isInteger(interests) || interests < 0 || interests >= K) {
        throw invalidArg(
          'interests',
          `interests must be 'merge' or an interest index in 0..${K - 1} (${s.model.name} has ${K}), got ${JSON.stringify(interests)}`,
        );
      }
      interest = K === 1 ? null : interests;
    }
    return { k, excludeSeen, interest };
  }

  private encode(s: State, history: readonly ItemId[], field: string): Encoded {
    if (!Array.isArray(history)) throw invalidArg(field, `${field} must be an array of item ids, got ${typeOf(history)}`);
    if (history.length > this.limits.maxHistory) {
      throw invalidArg(field, `${field} has ${history.length} items; at most ${this.limits.maxHistory} are accepted`);
    }
    const known: number[] = [];
    const unknown: string[] = [];
    let seenUnknown: Set<string> | null = null;
    for (let i = 0; i < history.length; i++) {
      const raw = history[i];
      let id: string;
      if (typeof raw === 'string') id = raw;
      else if (typeof raw === 'number' && Number.isSafeInteger(raw)) id = String(raw);
      else throw invalidArg(field, `${field}[${i}] must be an item id (a string or an integer), got ${typeof raw === 'number' ? raw : typeOf(raw)}`);
      const index = s.vocabulary.encode(id);
      if (index !== undefined) known.push(index);
      else {
        seenUnknown ??= new Set();
        if (!seenUnknown.has(id)) {
          seenUnknown.add(id);
          unknown.push(id);
        }
      }
    }
    return { known, unknown };
  }

  /** [rows * K * D] user embeddings for known-item histories (each non-empty). */
  private embed(s: State, rows: number[][]): Float32Array {
    const batch = windowBatch(rows, s.model.maxLen);
    const t = tf.tidy(() => s.model.userEmbeddings(batch));
    try {
      // A copy: backends may hand out their own buffer.
      return Float32Array.from(t.dataSync() as Float32Array);
    } finally {
      t.dispose();
    }
  }

  private popularityFallback(s: State, k: number, exclude: ReadonlySet<number> | null, unknown: string[], reason: string): Recommendation {
    const items: ScoredItem[] = [];
    for (let i = 0; i < s.popularOrder.length && items.length < k; i++) {
      const id = s.popularOrder[i];
      if (exclude && exclude.has(id)) continue;
      items.push({ id: s.vocabulary.decode(id), score: s.popularity[id] });
    }
    return { items, unknown, fallback: 'popularity', reason };
  }

  private fallbackReason(length: number, unknown: number): string {
    return length === 0 ? 'empty history' : `none of the history's item ids are in the vocabulary (${unknown} unknown)`;
  }

  private decodeRow(s: State, ids: Int32Array, scores: Float32Array, offset: number, k: number): ScoredItem[] {
    const items: ScoredItem[] = [];
    for (let j = offset; j < offset + k; j++) {
      const id = ids[j];
      if (id <= 0) break; // -1 slots come last
      items.push({ id: s.vocabulary.decode(id), score: scores[j] });
    }
    return items;
  }

  /** Query rows for `vectors` ([n * K * D]) and the `interests` value for the retriever. */
  private queries(s: State, vectors: Float32Array, n: number, interest: number | null): { q: Float32Array; interests: number } {
    const K = s.model.numInterests;
    const D = s.model.embeddingDim;
    if (interest === null) return { q: vectors, interests: K };
    const q = new Float32Array(n * D);
    for (let r = 0; r < n; r++) q.set(vectors.subarray((r * K + interest) * D, (r * K + interest + 1) * D), r * D);
    return { q, interests: 1 };
  }

  /**
   * The one path of `recommend` and `recommendMany`: one model call and one retrieval call
   * for the histories with a known item. Errors name `field` ('history' for `recommend`).
   */
  private recommendOn(s: State, histories: readonly (readonly ItemId[])[], options: RecommendOptions, field: 'history' | 'histories'): Recommendation[] {
    const { k, excludeSeen, interest } = this.resolveOptions(s, options);
    if (field === 'histories') {
      if (!Array.isArray(histories)) throw invalidArg('histories', `histories must be an array of histories, got ${typeOf(histories)}`);
      if (histories.length > this.limits.maxBatch) {
        throw invalidArg('histories', `histories has ${histories.length} entries; at most ${this.limits.maxBatch} per call are accepted`);
      }
    }
    const encoded = histories.map((h, i) => this.encode(s, h, field === 'history' ? 'history' : `histories[${i}]`));
    const rows: number[] = [];
    encoded.forEach((e, i) => {
      if (e.known.length > 0) rows.push(i);
    });
    const out = new Array<Recommendation>(histories.length);
    if (rows.length > 0) {
      const known = rows.map((i) => encoded[i].known);
      const vectors = this.embed(s, known);
      const { q, interests } = this.queries(s, vectors, rows.length, interest);
      const result = s.retriever.search(q, { k, interests, exclude: excludeSeen ? known : undefined });
      rows.forEach((i, r) => {
        out[i] = { items: this.decodeRow(s, result.ids, result.scores, r * k, k), unknown: encoded[i].unknown, fallback: null };
      });
    }
    encoded.forEach((e, i) => {
      if (e.known.length === 0) out[i] = this.popularityFallback(s, k, null, e.unknown, this.fallbackReason(histories[i].length, e.unknown.length));
    });
    return out;
  }

  private similarOn(s: State, itemId: ItemId, requested: number): ScoredItem[] {
    const k = Math.min(this.checkK(requested), s.vocabulary.numItems);
    let id: string;
    if (typeof itemId === 'string') id = itemId;
    else if (typeof itemId === 'number' && Number.isSafeInteger(itemId)) id = String(itemId);
    else throw invalidArg('item', `item must be an item id (a string or an integer), got ${typeof itemId === 'number' ? itemId : typeOf(itemId)}`);
    const index = s.vocabulary.encode(id);
    if (index === undefined) {
      throw new SeqrecError('unknown_item', `unknown item id '${id}' (not in the vocabulary of ${s.vocabulary.numItems} items)`, { field: 'item' });
    }
    const D = s.model.embeddingDim;
    const q = s.items.subarray(index * D, (index + 1) * D);
    const result = s.i2i.search(Float32Array.from(q), { k, exclude: [[index]] });
    return this.decodeRow(s, result.ids, result.scores, 0, k);
  }
}
