/**
 * The cold-start data of a bundle, computed once from the training data at export time and
 * read by the Recommender's fallbacks (docs/serving.md, "Cold start"):
 *
 *   popularity.json         all-time training counts per item index (every bundle)
 *   recent-popularity.json  optional: counts over the most recent part of the training data
 *                           (same format as popularity.json; `source` says which part)
 *   cooccurrence.bin        optional: each item's top-M co-occurring items (ItemKNN's
 *                           similarity over the whole log) and a flag per item that the model
 *                           never trained (arrays described in model.json, src/bundle/arrays-file.ts)
 *
 * Bundles written before these files existed load as before; asking a fallback for data the
 * bundle lacks is a clear error at load time.
 */
import type { SequenceDataset } from '../data/dataset.js';
import { SeqrecError } from '../errors.js';
import { checkItems, checkOffsets, ItemKNN } from '../models/knn/item-knn.js';
import { trainingSequences, type NeighbourhoodSource } from '../models/knn/ranker.js';
import { arrayOf, ArrayLayoutSchema, packArrays, unpackArrays } from './arrays-file.js';
import { FILE_NAME_RE } from './atomic-dir.js';
import { bundleInvalid, checkSchema, parseJsonFile } from './file-schema.js';
import { z } from 'zod';

export const POPULARITY_FORMAT = 'seqrec-popularity';
export const POPULARITY_VERSION = 1;

const PopularitySchema = z.strictObject({
  format: z.literal(POPULARITY_FORMAT),
  version: z.literal(POPULARITY_VERSION),
  source: z.string().max(4096),
  counts: z.array(z.number().min(0).max(Number.MAX_SAFE_INTEGER)),
});

/** Counts per item index as popularity.json's text; errors name `field`. */
export function popularityDocument(counts: ArrayLike<number>, itemCount: number, source: string, field = 'popularity'): string {
  if (!counts || typeof counts.length !== 'number') {
    throw new SeqrecError('invalid_argument', `${field} must be an array of counts per item index`, { field });
  }
  if (counts.length !== itemCount) {
    throw new SeqrecError('shape_mismatch', `${field} has ${counts.length} counts but the model has ${itemCount} item rows (index 0 = padding included)`, {
      field,
    });
  }
  const out = new Array<number>(itemCount);
  out[0] = 0;
  for (let i = 1; i < itemCount; i++) {
    const c = counts[i];
    if (typeof c !== 'number' || !Number.isFinite(c) || c < 0) {
      throw new SeqrecError('invalid_argument', `${field}[${i}] must be a finite count >= 0, got ${String(c)}`, { field });
    }
    out[i] = c;
  }
  return JSON.stringify({ format: POPULARITY_FORMAT, version: POPULARITY_VERSION, source, counts: out });
}

/** popularity.json (or recent-popularity.json) as counts, checked against the item rows. */
export function parsePopularity(bytes: Buffer, name: string, itemCount: number): Float64Array {
  const { counts } = checkSchema(PopularitySchema, parseJsonFile(bytes, name), name);
  if (counts.length !== itemCount) throw bundleInvalid(name, `has ${counts.length} counts but the model has ${itemCount} item rows (padding included)`);
  const out = Float64Array.from(counts);
  out[0] = 0;
  return out;
}

/** The co-occurrence table of the 'cooccurrence' fallback. */
export interface CooccurrenceTable {
  /** [itemCount + 1]: item i's neighbours are ids[offsets[i] .. offsets[i + 1]), best first. */
  offsets: Int32Array;
  ids: Int32Array;
  /** ItemKNN similarities (cosine of co-occurrence counts, λ-regularised). */
  sims: Float32Array;
  /** [itemCount]: 1 for an item the model never trained (no training event, not a warm start's parent row). */
  cold: Uint8Array;
  /** Neighbours kept per item (M). */
  neighbours: number;
  /** Where the co-occurrences were counted. */
  source: string;
}

/** What `coldStartTables` computes, to pass to `exportBundle` (`recentPopularity`, `cooccurrence`). */
export interface ColdStartTables {
  recentPopularity: { counts: Float64Array; source: string };
  cooccurrence: CooccurrenceTable;
}

export interface ColdStartOptions {
  /** Recent popularity: the most recent fraction of the training data counted, in (0, 1]. Default 0.2. */
  recentFraction?: number;
  /** Co-occurring items kept per item (M). Default 20. */
  neighbours?: number;
  /**
   * Items 1..parentItems are rows of a warm start's parent model: trained, even when this log
   * has no training event of them (`WarmStartReport.parentItems`). Default 0.
   */
  parentItems?: number;
  /** Names the data in the tables' `source` (e.g. the training file). Default 'training data'. */
  source?: string;
}

/**
 * Counts over the most recent `fraction` of the training data of `source`: a session set's
 * last sessions (its file order is time order); a dataset keeps no timestamps, so the last
 * events of each train user's training sequence (at least one per user). With timestamps of
 * your own, count the window yourself and pass it to `exportBundle` as `recentPopularity`.
 */
export function recentPopularity(source: NeighbourhoodSource, fraction = 0.2): Float64Array {
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) {
    throw new SeqrecError('invalid_argument', `recentFraction must be a number in (0, 1], got ${String(fraction)}`, { field: 'recentFraction' });
  }
  const { itemCount, sequences } = trainingSequences(source);
  const counts = new Float64Array(itemCount);
  const add = (seq: Int32Array, from: number) => {
    for (let i = from; i < seq.length; i++) counts[seq[i]]++;
  };
  if ('trainSequence' in source) {
    for (const seq of sequences) if (seq.length > 0) add(seq, seq.length - Math.max(1, Math.ceil(fraction * seq.length)));
  } else {
    const first = sequences.length - Math.max(1, Math.ceil(fraction * sequences.length));
    for (let s = Math.max(0, first); s < sequences.length; s++) add(sequences[s], 0);
  }
  return counts;
}

/** Every sequence the co-occurrence table is counted over: a dataset's whole sequences (all users, held-out parts too), or every session. */
function wholeLog(source: NeighbourhoodSource): Int32Array[] {
  if ('trainSequence' in source) return Array.from({ length: source.numUsers }, (_, u) => (source as SequenceDataset).sequence(u));
  return trainingSequences(source).sequences;
}

/**
 * The recent popularity and the co-occurrence table of `source` for a bundle. The table is
 * counted over the whole log (a dataset's held-out items too: it only serves, it is never
 * evaluated), since the items it is for have no training events; an item is cold when the
 * training counts of `source` have none of it and it is not a parent row.
 */
export function coldStartTables(source: NeighbourhoodSource, options: ColdStartOptions = {}): ColdStartTables {
  const label = options.source ?? 'training data';
  const fraction = options.recentFraction ?? 0.2;
  const neighbours = options.neighbours ?? 20;
  const parentItems = options.parentItems ?? 0;
  if (!Number.isInteger(parentItems) || parentItems < 0) {
    throw new SeqrecError('invalid_argument', `parentItems must be an integer >= 0, got ${String(parentItems)}`, { field: 'parentItems' });
  }
  const recent = recentPopularity(source, fraction);
  const { itemCount, sequences } = trainingSequences(source);
  const trained = 'itemPopularity' in source ? source.itemPopularity() : countsOf(itemCount, sequences);
  const knn = ItemKNN.fitSequences(itemCount, wholeLog(source), { neighbours });
  const cold = new Uint8Array(itemCount);
  for (let i = Math.max(1, parentItems + 1); i < itemCount; i++) if (trained[i] === 0) cold[i] = 1;
  const { offsets, ids, sims } = knn.state();
  const recentWhat = 'trainSequence' in source ? `the last ${fraction} of each training sequence` : `the last ${fraction} of the sessions`;
  return {
    recentPopularity: { counts: recent, source: `${label}: ${recentWhat}` },
    cooccurrence: { offsets, ids, sims, cold, neighbours, source: `${label}: the whole log (ItemKNN, lambda 20, alpha 0.5)` },
  };
}

function countsOf(itemCount: number, sequences: readonly Int32Array[]): Float64Array {
  const counts = new Float64Array(itemCount);
  for (const seq of sequences) for (const item of seq) counts[item]++;
  return counts;
}

export const CooccurrenceSectionSchema = z.strictObject({
  file: z.string().regex(FILE_NAME_RE, 'expected a plain file name inside the bundle'),
  layout: ArrayLayoutSchema,
  neighbours: z.number().int().min(1).max(100_000),
  coldItems: z
    .number()
    .int()
    .min(0)
    .max(2 ** 26),
  source: z.string().max(4096),
});
export type CooccurrenceSection = z.infer<typeof CooccurrenceSectionSchema>;

/** The table as cooccurrence.bin's bytes and its section of model.json (checked first: errors name the field). */
export function cooccurrenceFile(table: CooccurrenceTable, itemCount: number, file: string): { bytes: Uint8Array; section: CooccurrenceSection } {
  try {
    if (!table || typeof table !== 'object') throw new SeqrecError('invalid_argument', 'cooccurrence must be a table from coldStartTables');
    checkOffsets(table.offsets, itemCount, table.ids.length, 'offsets');
    checkItems(table.ids, itemCount, 'ids');
    if (table.sims.length !== table.ids.length) throw new SeqrecError('invalid_argument', `${table.sims.length} similarities for ${table.ids.length} ids`);
    if (table.cold.length !== itemCount) throw new SeqrecError('invalid_argument', `cold has ${table.cold.length} flags, the model ${itemCount} item rows`);
  } catch (err) {
    if (err instanceof SeqrecError) throw new SeqrecError('invalid_argument', `exportBundle: cooccurrence: ${err.message}`, { field: 'cooccurrence' });
    throw err;
  }
  const { bytes, layout } = packArrays({ offsets: table.offsets, ids: table.ids, sims: table.sims, cold: table.cold });
  const coldItems = table.cold.reduce((n, c) => n + (c ? 1 : 0), 0);
  return { bytes, section: { file, layout, neighbours: table.neighbours, coldItems, source: table.source } };
}

/** cooccurrence.bin back as a table, every array checked against the item rows. */
export function parseCooccurrence(bytes: Buffer, section: CooccurrenceSection, itemCount: number): CooccurrenceTable {
  const name = section.file;
  const arrays = unpackArrays(bytes, section.layout, name);
  const offsets = arrayOf(arrays, 'offsets', 'int32', name);
  const ids = arrayOf(arrays, 'ids', 'int32', name);
  const sims = arrayOf(arrays, 'sims', 'float32', name);
  const cold = arrayOf(arrays, 'cold', 'uint8', name);
  try {
    checkOffsets(offsets, itemCount, ids.length, 'offsets');
    checkItems(ids, itemCount, 'ids');
  } catch (err) {
    if (err instanceof SeqrecError) throw bundleInvalid(name, err.message.replace(/^neighbourhood state: /, ''));
    throw err;
  }
  if (sims.length !== ids.length || !sims.every((v) => Number.isFinite(v) && v >= 0)) throw bundleInvalid(name, 'sims must be one finite value >= 0 per id');
  if (cold.length !== itemCount) throw bundleInvalid(name, `cold has ${cold.length} flags but the model has ${itemCount} item rows`);
  return { offsets, ids, sims, cold, neighbours: section.neighbours, source: section.source };
}
