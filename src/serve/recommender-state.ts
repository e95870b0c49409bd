/**
 * The state a `Recommender` serves from: one loaded bundle with its retrievers, built and
 * disposed as a unit so that a reload can swap it with one assignment.
 */
import type { ItemVocabulary } from '../data/vocabulary.js';
import { SeqrecError } from '../errors.js';
import type { BaseRecaller } from '../models/base.js';
import { ExactRetriever } from '../retrieval/exact.js';
import type { Retriever } from '../retrieval/types.js';
import { loadBundle, type BundleSection } from '../bundle/bundle.js';

/** The options of `Recommender.load` that shape the state. */
export interface StateOptions {
  retriever?: 'auto' | 'exact' | 'faiss';
  similarItemsMetric?: 'cosine' | 'ip';
}

/** Everything one loaded bundle serves from; replaced whole on reload. */
export interface State {
  dir: string;
  section: BundleSection;
  meta: Record<string, unknown>;
  model: BaseRecaller;
  vocabulary: ItemVocabulary;
  /** Retriever of `recommend` over the item table. */
  retriever: Retriever;
  retrieverKind: 'exact' | 'faiss';
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

/** The item indices sorted by count descending, ties to the lower index; padding left out. */
function popularityOrder(counts: Float64Array): Int32Array {
  const ids = Int32Array.from({ length: counts.length - 1 }, (_, i) => i + 1);
  return ids.sort((a, b) => counts[b] - counts[a] || a - b);
}

/** Loads the bundle at `dir` into a serving state (model, vocabulary, retrievers, popularity). */
export async function buildState(dir: string, options: StateOptions, generation: number): Promise<State> {
  const bundle = await loadBundle(dir);
  const { model } = bundle;
  const retrievers: Retriever[] = [];
  try {
    const items = Float32Array.from(model.itemEmbeddings().dataSync() as Float32Array);
    const want = options.retriever ?? 'auto';
    let retriever: Retriever | null = null;
    let retrieverKind: 'exact' | 'faiss' = 'exact';
    if (want === 'faiss' && !bundle.faissPath) {
      throw new SeqrecError('invalid_argument', `retriever 'faiss' was requested but the bundle has no faiss index`, { field: 'retriever' });
    }
    if (bundle.faissPath && want !== 'exact') {
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
      section: bundle.section,
      meta: bundle.meta,
      model,
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
    for (const r of retrievers) r.dispose();
    model.dispose();
    throw err;
  }
}

export function disposeState(state: State): void {
  state.retriever.dispose();
  state.i2i.dispose();
  state.model.dispose();
}
