/**
 * The state a `Recommender` serves from: one loaded bundle with its retrievers, built and
 * disposed as a unit so that a reload can swap it with one assignment.
 */
import type { ItemVocabulary } from '../data/vocabulary.js';
import { SeqrecError } from '../errors.js';
import type { BaseRecaller } from '../models/base.js';
import { ExactRetriever } from '../retrieval/exact.js';
import { PgvectorRetriever } from '../retrieval/pgvector/retriever.js';
import type { AsyncRetriever, Retriever } from '../retrieval/types.js';
import type { PgvectorConnectOptions } from '../retrieval/pgvector/options.js';
import { loadBundle } from '../bundle/bundle.js';
import { bundleKind, loadRankerBundle, type LoadedRankerBundle, type NeighbourhoodModel } from '../bundle/ranker-bundle.js';
import type { CooccurrenceTable } from '../bundle/cold-start.js';
import { isItemRanker } from '../models/knn/ranker.js';
import { itemMatrix } from '../train/evaluate.js';
import { resolveFallbacks, type FallbackOptions, type Fallbacks } from './fallbacks.js';

/** The options of `Recommender.load` that shape the state. */
export interface StateOptions {
  retriever?: 'auto' | 'exact' | 'faiss' | 'pgvector';
  pgvector?: PgvectorConnectOptions;
  similarItemsMetric?: 'cosine' | 'ip';
  fallback?: FallbackOptions;
}

/** An embedding model and its retrievers. */
export interface Embedder {
  model: BaseRecaller;
  /** Whether disposing the state disposes the model (a bundle's yes, a caller's model no). */
  ownsModel: boolean;
  /** Retriever of `recommend` over the item table (asynchronous for pgvector). */
  retriever: Retriever | AsyncRetriever;
  retrieverKind: 'exact' | 'faiss' | 'pgvector';
  /** Retriever of `similarItems`. */
  i2i: ExactRetriever;
  /** The item table [itemCount * D] (a private copy). */
  items: Float32Array;
}

/** Everything one loaded bundle serves from; replaced whole on reload. */
export interface State {
  /** The bundle directory; '' for a state built from a model in memory. */
  dir: string;
  similarity: 'ip' | 'cosine';
  /** The bundle's version and creation time (0 and the load time for a model in memory). */
  bundleVersion: number;
  bundleCreatedAt: string;
  /** The model's name ('gru4rec', 'itemknn', ...). */
  modelName: string;
  /** The embedding model, or null for a neighbourhood model. */
  embedder: Embedder | null;
  /** The neighbourhood model (ItemKNN, SessionKNN), or null for an embedding model. */
  ranker: NeighbourhoodModel | null;
  vocabulary: ItemVocabulary;
  /** SHA-256 of the bundle's model.json ('' for a model in memory). */
  digest: string;
  /** The cold-start fallbacks in force (their popular items also fill short lists). */
  fallbacks: Fallbacks;
  loadedAt: string;
  generation: number;
}

/** What the Recommender uses of src/retrieval/faiss.ts (its public API), loaded only for bundles with an index. */
interface FaissModule {
  faissAvailable(): boolean;
  FaissRetriever: {
    load(path: string, options: { itemVectors?: Float32Array; metric?: 'ip' | 'cosine'; dim?: number }): Retriever;
  };
}

/** faiss support is optional: a variable specifier keeps bundlers and type-checkers from requiring the module. */
export async function importFaiss(): Promise<FaissModule> {
  const specifier = '../retrieval/faiss.js';
  return (await import(specifier)) as FaissModule;
}

/** Loads the bundle at `dir` into a serving state (model, vocabulary, retrievers, fallbacks). */
export async function buildState(dir: string, options: StateOptions, generation: number): Promise<State> {
  if ((await bundleKind(dir)) === 'ranker') return rankerState(await loadRankerBundle(dir), options, generation);
  const bundle = await loadBundle(dir);
  const { model } = bundle;
  const retrievers: (Retriever | AsyncRetriever)[] = [];
  try {
    const items = Float32Array.from(itemMatrix(model));
    const want = options.retriever ?? 'auto';
    let retriever: Retriever | AsyncRetriever | null = null;
    let retrieverKind: Embedder['retrieverKind'] = 'exact';
    if (want === 'faiss' && !bundle.faissPath) {
      throw new SeqrecError('invalid_argument', `retriever 'faiss' was requested but the bundle has no faiss index`, { field: 'retriever' });
    }
    if (want === 'pgvector') {
      // Checked by the Recommender's options; the bundle's digest picks the table.
      retriever = await PgvectorRetriever.open({
        ...options.pgvector!,
        digest: bundle.digest,
        expect: { dim: model.embeddingDim, numItems: model.itemCount, metric: bundle.section.similarity },
        bundleDir: bundle.dir,
      });
      retrieverKind = 'pgvector';
    } else if (bundle.faissPath && want !== 'exact') {
      const faiss = await importFaiss();
      if (want === 'faiss' || faiss.faissAvailable()) {
        retriever = faiss.FaissRetriever.load(bundle.faissPath, { itemVectors: items, metric: bundle.section.similarity, dim: model.embeddingDim });
        retrieverKind = 'faiss';
      }
    }
    retriever ??= new ExactRetriever(items, model.embeddingDim, { metric: bundle.section.similarity });
    retrievers.push(retriever);
    const i2i = new ExactRetriever(items, model.embeddingDim, { metric: options.similarItemsMetric ?? 'cosine' });
    retrievers.push(i2i);
    const fallbacks = resolveFallbacks(options.fallback, { ...bundle, ranker: false }, 'Recommender.load');
    return {
      dir: bundle.dir,
      digest: bundle.digest,
      similarity: bundle.section.similarity,
      bundleVersion: bundle.section.version,
      bundleCreatedAt: bundle.section.createdAt,
      modelName: model.name,
      embedder: { model, ownsModel: true, retriever, retrieverKind, i2i, items },
      ranker: null,
      vocabulary: bundle.vocabulary,
      fallbacks,
      loadedAt: new Date().toISOString(),
      generation,
    };
  } catch (err) {
    for (const r of retrievers) void r.dispose();
    model.dispose();
    throw err;
  }
}

function rankerState(bundle: LoadedRankerBundle, options: StateOptions, generation: number): State {
  const want = options.retriever ?? 'auto';
  if (want === 'faiss' || want === 'pgvector') {
    throw new SeqrecError(
      'invalid_config',
      `retriever '${want}' was requested but ${bundle.model.name} is a neighbourhood model: it ranks items itself, with no embeddings to retrieve from (use 'auto' or 'exact')`,
      { field: 'retriever' },
    );
  }
  return {
    dir: bundle.dir,
    digest: bundle.digest,
    similarity: 'ip',
    bundleVersion: bundle.manifest.version,
    bundleCreatedAt: bundle.manifest.createdAt,
    modelName: bundle.model.name,
    embedder: null,
    ranker: bundle.model,
    vocabulary: bundle.vocabulary,
    fallbacks: resolveFallbacks(options.fallback, { ...bundle, cooccurrence: null, ranker: true }, 'Recommender.load'),
    loadedAt: new Date().toISOString(),
    generation,
  };
}

/** What `Recommender.fromModel` serves from: a trained (or fitted) model in memory and its item ids. */
export interface ModelSource {
  model: BaseRecaller | NeighbourhoodModel;
  vocabulary: ItemVocabulary;
  /** Training counts per item index (length itemCount); default all zero (fallback by index). */
  popularity?: ArrayLike<number>;
  /** Recent training counts per item index, for fallback.popular 'recent-popularity'. */
  recentPopularity?: ArrayLike<number>;
  /** The co-occurrence table of the 'cooccurrence' fallback (`coldStartTables(dataset).cooccurrence`). */
  cooccurrence?: CooccurrenceTable;
  similarity?: 'ip' | 'cosine';
}

/** Counts of `field`, checked against the item rows (index 0 zeroed). */
function countsOf(values: ArrayLike<number> | undefined, itemCount: number, field: string): Float64Array | null {
  if (values === undefined) return null;
  if (values === null || typeof values.length !== 'number' || values.length !== itemCount) {
    throw new SeqrecError(
      'shape_mismatch',
      `Recommender.fromModel: ${field} has ${String(values?.length)} counts, the model ${itemCount} item rows (padding included)`,
      { field },
    );
  }
  const out = Float64Array.from(Array.from(values));
  out[0] = 0;
  return out;
}

/** A serving state over a model in memory (exact retrieval; the caller keeps owning the model). */
export function stateFromModel(source: ModelSource, options: StateOptions, generation: number): State {
  const { model, vocabulary } = source;
  if (vocabulary.size !== model.itemCount) {
    throw new SeqrecError(
      'shape_mismatch',
      `Recommender.fromModel: the vocabulary has ${vocabulary.size} entries (with padding) but the model has ${model.itemCount} item rows`,
      { field: 'vocabulary' },
    );
  }
  const popularity = countsOf(source.popularity, model.itemCount, 'popularity') ?? new Float64Array(model.itemCount);
  const recentPopularity = countsOf(source.recentPopularity, model.itemCount, 'recentPopularity');
  const cooccurrence = source.cooccurrence ?? null;
  if (cooccurrence && (cooccurrence.offsets?.length !== model.itemCount + 1 || cooccurrence.cold?.length !== model.itemCount)) {
    throw new SeqrecError('shape_mismatch', `Recommender.fromModel: the cooccurrence table is not over the model's ${model.itemCount} item rows`, {
      field: 'cooccurrence',
    });
  }
  const similarity = source.similarity ?? 'ip';
  if (similarity !== 'ip' && similarity !== 'cosine')
    throw new SeqrecError('invalid_argument', `similarity must be 'ip' or 'cosine', got ${String(similarity)}`, { field: 'similarity' });
  const isRanker = isItemRanker(model);
  const fallbacks = resolveFallbacks(options.fallback, { popularity, recentPopularity, cooccurrence, ranker: isRanker }, 'Recommender.fromModel');
  const loadedAt = new Date().toISOString();
  const common = {
    dir: '',
    digest: '',
    similarity,
    bundleVersion: 0,
    bundleCreatedAt: loadedAt,
    modelName: model.name,
    vocabulary,
    fallbacks,
    loadedAt,
    generation,
  };
  if (isRanker) return { ...common, embedder: null, ranker: model as NeighbourhoodModel };
  const recaller = model as BaseRecaller;
  const items = Float32Array.from(itemMatrix(recaller));
  const embedder: Embedder = {
    model: recaller,
    ownsModel: false,
    retriever: new ExactRetriever(items, recaller.embeddingDim, { metric: similarity }),
    retrieverKind: 'exact',
    i2i: new ExactRetriever(items, recaller.embeddingDim, { metric: options.similarItemsMetric ?? 'cosine' }),
    items,
  };
  return { ...common, embedder, ranker: null };
}

/** Disposes the state; an async retriever closes its connections once its searches in flight are done. */
export function disposeState(state: State): void {
  const e = state.embedder;
  if (!e) return;
  void e.retriever.dispose();
  e.i2i.dispose();
  if (e.ownsModel) e.model.dispose();
}
