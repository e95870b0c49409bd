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
import { itemMatrix, popularityRanking } from '../train/evaluate.js';

/** The options of `Recommender.load` that shape the state. */
export interface StateOptions {
  retriever?: 'auto' | 'exact' | 'faiss' | 'pgvector';
  pgvector?: PgvectorConnectOptions;
  similarItemsMetric?: 'cosine' | 'ip';
}

/** Everything one loaded bundle serves from; replaced whole on reload. */
export interface State {
  /** The bundle directory; '' for a state built from a model in memory. */
  dir: string;
  similarity: 'ip' | 'cosine';
  /** The bundle's version and creation time (0 and the load time for a model in memory). */
  bundleVersion: number;
  bundleCreatedAt: string;
  model: BaseRecaller;
  /** Whether disposing the state disposes the model (a bundle's yes, a caller's model no). */
  ownsModel: boolean;
  vocabulary: ItemVocabulary;
  /** SHA-256 of the bundle's model.json ('' for a model in memory). */
  digest: string;
  /** Retriever of `recommend` over the item table (asynchronous for pgvector). */
  retriever: Retriever | AsyncRetriever;
  retrieverKind: 'exact' | 'faiss' | 'pgvector';
  /** Retriever of `similarItems`. */
  i2i: ExactRetriever;
  /** The item table [itemCount * D] (a private copy). */
  items: Float32Array;
  popularity: Float64Array;
  /** Item indices by training count, descending (ties -> lower index). */
  popularOrder: Int32Array;
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

/** Every item index by count descending, ties to the lower index; padding left out. */
function popularityOrder(counts: Float64Array): Int32Array {
  return popularityRanking(counts, Math.max(0, counts.length - 1));
}

/** Loads the bundle at `dir` into a serving state (model, vocabulary, retrievers, popularity). */
export async function buildState(dir: string, options: StateOptions, generation: number): Promise<State> {
  const bundle = await loadBundle(dir);
  const { model } = bundle;
  const retrievers: (Retriever | AsyncRetriever)[] = [];
  try {
    const items = Float32Array.from(itemMatrix(model));
    const want = options.retriever ?? 'auto';
    let retriever: Retriever | AsyncRetriever | null = null;
    let retrieverKind: State['retrieverKind'] = 'exact';
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
    return {
      dir: bundle.dir,
      digest: bundle.digest,
      similarity: bundle.section.similarity,
      bundleVersion: bundle.section.version,
      bundleCreatedAt: bundle.section.createdAt,
      model,
      ownsModel: true,
      vocabulary: bundle.vocabulary,
      retriever,
      retrieverKind,
      i2i,
      items,
      popularity: bundle.popularity,
      popularOrder: popularityOrder(bundle.popularity),
      loadedAt: new Date().toISOString(),
      generation,
    };
  } catch (err) {
    for (const r of retrievers) void r.dispose();
    model.dispose();
    throw err;
  }
}

/** What `Recommender.fromModel` serves from: a trained model in memory and its item ids. */
export interface ModelSource {
  model: BaseRecaller;
  vocabulary: ItemVocabulary;
  /** Training counts per item index (length itemCount); default all zero (fallback by index). */
  popularity?: ArrayLike<number>;
  similarity?: 'ip' | 'cosine';
}

/** A serving state over a model in memory (exact retrieval; the caller keeps owning the model). */
export function stateFromModel(source: ModelSource, options: StateOptions, generation: number): State {
  const { model, vocabulary } = source;
  if (vocabulary.size !== model.itemCount) {
    throw new SeqrecError(
      'shape_mismatch',
      `Recommender.fromModel: the vocabulary has ${vocabulary.size} entries (with padding) but the model has ${model.itemCount} item rows`,
      {
        field: 'vocabulary',
      },
    );
  }
  const popularity = new Float64Array(model.itemCount);
  if (source.popularity !== undefined) {
    if (source.popularity.length !== model.itemCount) {
      throw new SeqrecError(
        'shape_mismatch',
        `Recommender.fromModel: popularity has ${source.popularity.length} counts, the model ${model.itemCount} item rows (padding included)`,
        {
          field: 'popularity',
        },
      );
    }
    popularity.set(Array.from(source.popularity));
    popularity[0] = 0;
  }
  const similarity = source.similarity ?? 'ip';
  if (similarity !== 'ip' && similarity !== 'cosine')
    throw new SeqrecError('invalid_argument', `similarity must be 'ip' or 'cosine', got ${String(similarity)}`, { field: 'similarity' });
  const items = Float32Array.from(itemMatrix(model));
  const loadedAt = new Date().toISOString();
  return {
    dir: '',
    digest: '',
    similarity,
    bundleVersion: 0,
    bundleCreatedAt: loadedAt,
    model,
    ownsModel: false,
    vocabulary,
    retriever: new ExactRetriever(items, model.embeddingDim, { metric: similarity }),
    retrieverKind: 'exact',
    i2i: new ExactRetriever(items, model.embeddingDim, { metric: options.similarItemsMetric ?? 'cosine' }),
    items,
    popularity,
    popularOrder: popularityOrder(popularity),
    loadedAt,
    generation,
  };
}

/** Disposes the state; an async retriever closes its connections once its searches in flight are done. */
export function disposeState(state: State): void {
  void state.retriever.dispose();
  state.i2i.dispose();
  if (state.ownsModel) state.model.dispose();
}
