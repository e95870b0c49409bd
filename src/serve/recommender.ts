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
import { initBackend } from '../backend/index.js';
import { SeqrecError } from '../errors.js';
import type { BaseRecaller } from '../models/base.js';
import { ItemKNN } from '../models/knn/item-knn.js';
import type { NeighbourhoodModel } from '../bundle/ranker-bundle.js';
import { isAsyncRetriever } from '../retrieval/types.js';
import { decodeRow, encodeHistory } from './recommender-rows.js';
import { checkK, checkOptions, DEFAULTS, invalidArg, limitOption, typeOf } from './recommender-options.js';
import { embedRows, finishPlan, planRecommend } from './recommender-plan.js';
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

export type {
  FallbackKind,
  FallbackOptions,
  FromModelOptions,
  ItemId,
  Recommendation,
  RecommenderInfo,
  RecommenderOptions,
  RecommendOptions,
  ScoredItem,
} from './recommender-types.js';

/**
 * Timed-out loads still reading files that are refused new reloads. Each stuck read holds one
 * of libuv's 4 threads, and every file read of the process waits when all are taken.
 */
const MAX_STUCK_LOADS = 2;

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
    const state = await buildState(dir, options, 1);
    if (!state.embedder || !isAsyncRetriever(state.embedder.retriever)) return Recommender.start(state, limits, options);
    const rec = new Recommender(state, limits, options);
    try {
      if (options.warmUp !== false) await rec.warmUpAsync(state);
    } catch (err) {
      disposeState(state);
      throw err;
    }
    return rec;
  }

  /**
   * A Recommender over a trained model in memory, with exact retrieval:
   * `Recommender.fromModel(model, { dataset }).recommend(['i1', 'i7'], { k: 10 })`. The model
   * stays the caller's (`dispose` does not dispose it); `reload(dir)` can switch to a bundle.
   */
  static fromModel(model: BaseRecaller | NeighbourhoodModel, options: FromModelOptions): Recommender {
    const limits = checkOptions(options, 'Recommender.fromModel');
    const vocabulary = options.vocabulary ?? options.dataset?.vocabulary;
    if (!vocabulary) throw invalidArg('vocabulary', 'Recommender.fromModel: give the training dataset ({ dataset }) or the item ids ({ vocabulary })');
    const popularity = options.popularity ?? options.dataset?.itemPopularity();
    const { recentPopularity, cooccurrence, similarity } = options;
    return Recommender.start(stateFromModel({ model, vocabulary, popularity, recentPopularity, cooccurrence, similarity }, options, 1), limits, options);
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

  /** `warmUp` for a state whose retriever answers asynchronously (it also opens a connection). */
  private async warmUpAsync(state: State): Promise<void> {
    const first = state.vocabulary.decode(Math.max(1, state.fallbacks.popular.order[0] ?? 1));
    const k = Math.min(10, this.limits.maxK);
    await this.recommendOnAsync(state, [[first], []], { k }, 'histories');
    this.similarOn(state, first, k);
  }

  /** One call of each kind on `state` (JIT, kernel set-up), leaving no tensor behind. */
  private warmUp(state: State): void {
    const first = state.vocabulary.decode(Math.max(1, state.fallbacks.popular.order[0] ?? 1));
    const k = Math.min(10, this.limits.maxK);
    this.recommendOn(state, [[first], []], { k }, 'histories');
    if (state.embedder || state.ranker instanceof ItemKNN) this.similarOn(state, first, k);
  }

  /** Facts about the loaded bundle and the limits in force. */
  info(): RecommenderInfo {
    const s = this.live();
    return {
      dir: s.dir,
      model: s.modelName,
      numItems: s.vocabulary.numItems,
      embeddingDim: s.embedder?.model.embeddingDim ?? 0,
      numInterests: s.embedder?.model.numInterests ?? 1,
      maxLen: s.embedder?.model.maxLen ?? 0,
      similarity: s.similarity,
      retriever: s.embedder?.retrieverKind ?? 'none',
      fallback: { popular: s.fallbacks.popular.kind, cooccurrence: s.fallbacks.cooccurrence !== null, shortHistory: s.fallbacks.shortHistory },
      bundleDigest: s.digest,
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
   * Whether `recommend` / `recommendMany` must be called as `recommendAsync` /
   * `recommendManyAsync`: the retriever is a database (retriever 'pgvector').
   */
  get answersAsync(): boolean {
    const e = this.live().embedder;
    return e !== null && isAsyncRetriever(e.retriever);
  }

  /**
   * `recommend` for any retriever, as a promise; the only way with an asynchronous one
   * (retriever 'pgvector'). The state is read once at the start, so the answer comes from one
   * bundle even when a reload swaps it while the database answers.
   */
  async recommendAsync(history: readonly ItemId[], options: RecommendOptions = {}): Promise<Recommendation> {
    return (await this.recommendOnAsync(this.live(), [history], options, 'history'))[0];
  }

  /** `recommendMany` for any retriever, as a promise (see `recommendAsync`). */
  recommendManyAsync(histories: readonly (readonly ItemId[])[], options: RecommendOptions = {}): Promise<Recommendation[]> {
    return this.recommendOnAsync(this.live(), histories, options, 'histories');
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
    if (!s.embedder) throw noEmbeddings(s, 'userEmbedding');
    const enc = encodeHistory(s, this.limits.maxHistory, history, 'history');
    if (enc.known.length === 0) {
      throw new SeqrecError(
        'unknown_item',
        history.length === 0 ? 'userEmbedding: the history is empty' : `userEmbedding: none of the ${history.length} history ids are in the vocabulary`,
        { field: 'history' },
      );
    }
    return embedRows(s.embedder.model, [enc.known]);
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
        if (this.options.warmUp !== false) {
          if (next.embedder && isAsyncRetriever(next.embedder.retriever)) await this.warmUpAsync(next);
          else this.warmUp(next);
        }
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

  /** The synchronous path of `recommend` and `recommendMany`: one model call, one retrieval call. */
  private recommendOn(s: State, histories: readonly (readonly ItemId[])[], options: RecommendOptions, field: 'history' | 'histories'): Recommendation[] {
    const retriever = s.embedder?.retriever;
    if (retriever && isAsyncRetriever(retriever)) {
      const method = field === 'history' ? 'recommend' : 'recommendMany';
      throw new SeqrecError(
        'invalid_argument',
        `${method}: this Recommender retrieves from PostgreSQL (retriever '${s.embedder!.retrieverKind}'), which answers asynchronously; call ${method}Async instead`,
        { field: 'retriever' },
      );
    }
    const plan = planRecommend(s, this.limits, histories, options, field);
    const q = plan.search;
    return finishPlan(s, plan, q && retriever ? retriever.search(q.q, { k: plan.k, interests: q.interests, exclude: q.exclude }) : null);
  }

  /** `recommendOn` for any retriever; the search is awaited. */
  private async recommendOnAsync(
    s: State,
    histories: readonly (readonly ItemId[])[],
    options: RecommendOptions,
    field: 'history' | 'histories',
  ): Promise<Recommendation[]> {
    const plan = planRecommend(s, this.limits, histories, options, field);
    const q = plan.search;
    const retriever = s.embedder?.retriever;
    const result = q && retriever ? await retriever.search(q.q, { k: plan.k, interests: q.interests, exclude: q.exclude }) : null;
    return finishPlan(s, plan, result);
  }

  private similarOn(s: State, itemId: ItemId, requested: number): ScoredItem[] {
    const k = Math.min(checkK(requested, this.limits.maxK), s.vocabulary.numItems);
    let id: string;
    if (typeof itemId === 'string') id = itemId;
    else if (typeof itemId === 'number' && Number.isSafeInteger(itemId)) id = String(itemId);
    else throw invalidArg('item', `item must be an item id (a string or an integer), got ${typeof itemId === 'number' ? itemId : typeOf(itemId)}`);
    const index = s.vocabulary.encode(id);
    if (index === undefined) {
      throw new SeqrecError('unknown_item', `unknown item id '${id}' (not in the vocabulary of ${s.vocabulary.numItems} items)`, { field: 'item' });
    }
    const e = s.embedder;
    if (!e) {
      if (!(s.ranker instanceof ItemKNN)) throw noEmbeddings(s, 'similarItems');
      // ItemKNN's kept neighbours, best first (fewer than k when the list is shorter).
      const { ids, sims } = s.ranker.neighboursOf(index);
      return Array.from(ids.subarray(0, k), (j, r) => ({ id: s.vocabulary.decode(j), score: sims[r] }));
    }
    const D = e.model.embeddingDim;
    const q = e.items.subarray(index * D, (index + 1) * D);
    const result = e.i2i.search(Float32Array.from(q), { k, exclude: [[index]] });
    return decodeRow(s, result.ids, result.scores, 0, k);
  }
}

/** The error of a call that needs embeddings, on a neighbourhood model. */
function noEmbeddings(s: State, method: string): SeqrecError {
  return new SeqrecError(
    'invalid_argument',
    `${method}: ${s.modelName} is a neighbourhood model, with no embeddings${method === 'similarItems' ? ' and no item-to-item list (ItemKNN has one)' : ''}`,
    { field: 'model' },
  );
}
