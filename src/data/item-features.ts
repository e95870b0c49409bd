/**
 * Item features (categories, attributes, genres) as a second model input (issue #20 part 3,
 * docs/models/features.md): raw `item -> [feature, ...]` maps read from a JSON object file
 * (`{"rawItem": [featureId, ...]}`, e.g. the S3-Rec `Beauty_item2attributes.json`) or from
 * MovieLens-1M's `movies.dat` (`id::title::Genre1|Genre2`), and their index form aligned with
 * an `ItemVocabulary`: CSR arrays over item indices, feature ids dense 0..F-1.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { z } from 'zod';
import { SeqrecError } from '../errors.js';
import type { ItemVocabulary } from './vocabulary.js';

/** Raw item id -> raw feature names, as read from a file (before the vocabulary). */
export type RawItemFeatures = ReadonlyMap<string, readonly string[]>;

/** Serialized form of `ItemFeatures` (stored as `item-features.json` in checkpoints and bundles). */
export interface ItemFeaturesJSON {
  format: 'seqrec-item-features';
  version: 1;
  /** Raw name of each dense feature id. */
  names: string[];
  /** [itemCount + 1] CSR row offsets over item indices (row 0 = padding, empty). */
  offsets: number[];
  /** Dense feature ids, row after row. */
  ids: number[];
}

const ItemFeaturesFileSchema = z.strictObject({
  format: z.literal('seqrec-item-features'),
  version: z.literal(1),
  names: z.array(z.string()),
  offsets: z.array(z.number().int().nonnegative()),
  ids: z.array(z.number().int().nonnegative()),
});

/**
 * Feature ids per item index, CSR: the features of item i are `ids[offsets[i] .. offsets[i + 1])`,
 * distinct, ascending. Row 0 (padding) is always empty; an item without features has an empty row.
 */
export class ItemFeatures {
  readonly offsets: Int32Array;
  readonly ids: Int32Array;
  /** Raw name of each feature id (`names.length` = featureCount). */
  readonly names: readonly string[];

  constructor(offsets: Int32Array, ids: Int32Array, names: readonly string[]) {
    const where = 'item features';
    if (offsets.length < 1 || offsets[0] !== 0 || offsets[offsets.length - 1] !== ids.length) {
      throw new SeqrecError('invalid_argument', `${where}: offsets must start at 0 and end at ids.length (${ids.length})`, { field: 'offsets' });
    }
    if (offsets.length > 1 && offsets[1] !== 0)
      throw new SeqrecError('invalid_argument', `${where}: row 0 (padding) must have no features`, { field: 'offsets' });
    for (let i = 0; i + 1 < offsets.length; i++) {
      if (offsets[i + 1] < offsets[i]) throw new SeqrecError('invalid_argument', `${where}: offsets decrease at row ${i}`, { field: 'offsets' });
      for (let k = offsets[i]; k < offsets[i + 1]; k++) {
        if (!(ids[k] >= 0 && ids[k] < names.length)) {
          throw new SeqrecError('invalid_argument', `${where}: item ${i} has feature id ${ids[k]} outside [0, ${names.length})`, { field: 'ids' });
        }
        if (k > offsets[i] && ids[k] <= ids[k - 1]) {
          throw new SeqrecError('invalid_argument', `${where}: item ${i}'s feature ids are not distinct and ascending`, { field: 'ids' });
        }
      }
    }
    this.offsets = offsets;
    this.ids = ids;
    this.names = names;
  }

  /** Item rows, padding included (the model's itemCount). */
  get itemCount(): number {
    return this.offsets.length - 1;
  }

  get featureCount(): number {
    return this.names.length;
  }

  /** Feature ids of item index `item`. */
  featuresOf(item: number): Int32Array {
    return this.ids.subarray(this.offsets[item], this.offsets[item + 1]);
  }

  /** Items (padding excluded) with at least one feature. */
  get coveredItems(): number {
    let n = 0;
    for (let i = 1; i < this.itemCount; i++) if (this.offsets[i + 1] > this.offsets[i]) n++;
    return n;
  }

  /**
   * These features with rows appended for new items (indices itemCount, itemCount + 1, ...),
   * each given as raw feature names; names not seen before get new ids (a model's feature table
   * has no row for them, so `extendItemsWithFeatures` refuses them).
   */
  withItems(rows: readonly (readonly string[])[]): ItemFeatures {
    const names = [...this.names];
    const byName = new Map(names.map((n, i) => [n, i]));
    const ids = Array.from(this.ids);
    const offsets = Array.from(this.offsets);
    for (const row of rows) {
      ids.push(...denseIds(row, byName, names));
      offsets.push(ids.length);
    }
    return new ItemFeatures(Int32Array.from(offsets), Int32Array.from(ids), names);
  }

  toJSON(): ItemFeaturesJSON {
    return { format: 'seqrec-item-features', version: 1, names: [...this.names], offsets: Array.from(this.offsets), ids: Array.from(this.ids) };
  }

  /** Reads `toJSON`'s form; a bad document is a `bundle_invalid` error naming `file`. */
  static fromJSON(json: unknown, file = 'item-features.json'): ItemFeatures {
    const parsed = ItemFeaturesFileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new SeqrecError('bundle_invalid', `${file}: ${issue.path.join('.') || 'document'}: ${issue.message}`, { file });
    }
    try {
      return new ItemFeatures(Int32Array.from(parsed.data.offsets), Int32Array.from(parsed.data.ids), parsed.data.names);
    } catch (err) {
      if (err instanceof SeqrecError) throw new SeqrecError('bundle_invalid', `${file}: ${err.message}`, { file, field: err.field });
      throw err;
    }
  }
}

/** `ItemFeatures` aligned with a vocabulary, and what was left out. */
export interface ItemFeatureIndex {
  features: ItemFeatures;
  /** Items of the raw map that are not in the vocabulary (ignored). */
  unknownItems: number;
  /** Vocabulary items the raw map has no features for. */
  itemsWithout: number;
}

/** One item's features as sorted distinct dense ids; a name seen for the first time gets the next id. */
function denseIds(row: readonly string[], byName: Map<string, number>, names: string[]): number[] {
  const dense = new Set<number>();
  for (const name of row) {
    let id = byName.get(name);
    if (id === undefined) {
      id = names.length;
      byName.set(name, id);
      names.push(name);
    }
    dense.add(id);
  }
  return [...dense].sort((a, b) => a - b);
}

/**
 * Maps raw features onto vocabulary indices. Feature ids are dense 0..F-1 in order of first
 * appearance along the item indices, so only features of vocabulary items get an id; items of
 * the map that are not in the vocabulary (e.g. removed by k-core) are ignored and counted.
 */
export function itemFeatureIndex(raw: RawItemFeatures, vocabulary: ItemVocabulary): ItemFeatureIndex {
  const items = vocabulary.items();
  const byName = new Map<string, number>();
  const names: string[] = [];
  const offsets = new Int32Array(vocabulary.size + 1);
  const ids: number[] = [];
  let itemsWithout = 0;
  for (let i = 0; i < items.length; i++) {
    const row = raw.get(items[i]);
    if (!row || row.length === 0) itemsWithout++;
    ids.push(...denseIds(row ?? [], byName, names));
    offsets[i + 2] = ids.length;
  }
  let unknownItems = 0;
  for (const item of raw.keys()) if (!vocabulary.has(item)) unknownItems++;
  return { features: new ItemFeatures(offsets, Int32Array.from(ids), names), unknownItems, itemsWithout };
}

function parseError(file: string, message: string, details: { line?: number; field?: string } = {}): SeqrecError {
  return new SeqrecError('data_parse', `${basename(file)}${details.line ? `:${details.line}` : ''}: ${message}`, { file, ...details });
}

/**
 * Parses a JSON object `{rawItem: [feature, ...]}`; features are integers or strings (kept as
 * their string form). Any other shape is a `data_parse` error naming the file and the item.
 */
export function parseFeatureJson(text: string, file = 'item features'): Map<string, string[]> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw parseError(file, `not valid JSON (${(err as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw parseError(file, 'expected a JSON object {"item id": [feature, ...]}');
  }
  const out = new Map<string, string[]>();
  for (const [item, value] of Object.entries(json as Record<string, unknown>)) {
    if (!Array.isArray(value)) throw parseError(file, `item '${item}': expected an array of feature ids, got ${JSON.stringify(value)}`, { field: item });
    const row: string[] = [];
    for (const f of value) {
      if ((typeof f === 'number' && Number.isInteger(f)) || (typeof f === 'string' && f.length > 0)) row.push(String(f));
      else throw parseError(file, `item '${item}': feature ${JSON.stringify(f)} is not an integer or a non-empty string`, { field: item });
    }
    out.set(item, row);
  }
  return out;
}

/** Parses MovieLens-1M `movies.dat` lines `id::title::Genre1|Genre2` (the genres become the features). */
export function parseMoviesDat(text: string, file = 'movies.dat'): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const parts = line.split('::');
    if (parts.length !== 3) throw parseError(file, `expected 'id::title::genres' (3 fields separated by '::'), got ${parts.length} fields`, { line: i + 1 });
    const [id, , genres] = parts;
    if (!/^\S+$/.test(id)) throw parseError(file, `bad movie id '${id}'`, { line: i + 1, field: 'id' });
    if (out.has(id)) throw parseError(file, `movie '${id}' appears twice`, { line: i + 1, field: 'id' });
    out.set(
      id,
      genres
        .split('|')
        .map((g) => g.trim())
        .filter((g) => g.length > 0),
    );
  }
  return out;
}

/**
 * Reads raw item features from `path`: `movies.dat` (or any `.dat`) as MovieLens-1M movies,
 * anything else as a JSON object. movies.dat is Latin-1 encoded; JSON is UTF-8.
 */
export async function readItemFeatures(path: string): Promise<Map<string, string[]>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new SeqrecError('invalid_argument', `cannot read item features ${path}: ${(err as Error).message}`, { file: path, field: 'itemFeatures' });
  }
  if (path.endsWith('.dat')) return parseMoviesDat(bytes.toString('latin1'), path);
  return parseFeatureJson(bytes.toString('utf8'), path);
}
