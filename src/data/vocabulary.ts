/**
 * The mapping between raw item ids (strings) and dense item indices used by models.
 */
import { SeqrecError } from '../errors.js';
import type { UserSequence } from './types.js';

/** Serialized form of an `ItemVocabulary` (stored in model bundles). */
export interface VocabularyJSON {
  format: 'seqrec-vocabulary';
  version: 1;
  /** Raw ids of items 1..numItems, in index order (padding is not listed). */
  items: string[];
}

export interface VocabularyBuildOptions {
  /**
   * `'frequency'` (default): index 1 is the most frequent item, ties broken by first
   * appearance. Log-uniform negative samplers assume this frequency ranking.
   * `'firstSeen'`: indices in order of first appearance.
   */
  order?: 'frequency' | 'firstSeen';
}

function invalidBundle(message: string): SeqrecError {
  return new SeqrecError('bundle_invalid', `invalid item vocabulary: ${message}`, { field: 'vocabulary' });
}

/**
 * Item index 0 is padding and never maps to an item; real items are 1..numItems.
 * `decode(0)` throws (an `invalid_argument` error) rather than returning a fake id, so a
 * padding index leaking into results is noticed.
 */
export class ItemVocabulary {
  private readonly ids: readonly string[];
  private readonly index: Map<string, number>;

  private constructor(ids: readonly string[], index: Map<string, number>) {
    this.ids = ids;
    this.index = index;
  }

  /** Builds a vocabulary from user sequences or plain lists of raw ids. */
  static build(sequences: UserSequence[] | string[][], options: VocabularyBuildOptions = {}): ItemVocabulary {
    const order = options.order ?? 'frequency';
    if (order !== 'frequency' && order !== 'firstSeen') {
      throw new SeqrecError('invalid_argument', `vocabulary order must be 'frequency' or 'firstSeen', got '${String(order)}'`, {
        field: 'order',
      });
    }
    // Map iteration order is insertion order, i.e. first appearance.
    const counts = new Map<string, number>();
    for (const s of sequences) {
      const items = Array.isArray(s) ? s : s.items;
      for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
    }
    let ids = [...counts.keys()];
    if (order === 'frequency') {
      const firstSeen = new Map(ids.map((id, i) => [id, i]));
      ids = ids.sort((a, b) => counts.get(b)! - counts.get(a)! || firstSeen.get(a)! - firstSeen.get(b)!);
    }
    return ItemVocabulary.fromItems(ids);
  }

  /**
   * This vocabulary followed by the ids of `more` it does not have, in their order: every id
   * of this vocabulary keeps its index (the warm start of a model with new items).
   */
  extendedWith(more: readonly string[]): ItemVocabulary {
    return ItemVocabulary.fromItems([...this.ids, ...new Set(more.filter((id) => !this.index.has(id)))]);
  }

  /** A vocabulary whose item `i + 1` is `items[i]`. Throws `bundle_invalid` on duplicates or non-strings. */
  static fromItems(items: readonly unknown[]): ItemVocabulary {
    const index = new Map<string, number>();
    items.forEach((id, i) => {
      if (typeof id !== 'string') throw invalidBundle(`item at position ${i} is ${id === null ? 'null' : typeof id}, not a string`);
      if (index.has(id)) throw invalidBundle(`duplicate item id '${id}' at positions ${index.get(id)! - 1} and ${i}`);
      index.set(id, i + 1);
    });
    return new ItemVocabulary(Object.freeze(items.slice() as string[]), index);
  }

  /**
   * Restores a vocabulary from `toJSON()` output (an object, or its JSON text). Throws
   * `bundle_invalid` saying what is wrong with anything else.
   */
  static fromJSON(json: unknown): ItemVocabulary {
    let value = json;
    if (typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch (e) {
        throw invalidBundle(`not valid JSON (${(e as Error).message})`);
      }
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidBundle('expected an object');
    const obj = value as Record<string, unknown>;
    if (obj.format !== 'seqrec-vocabulary') {
      throw invalidBundle(`format tag is ${JSON.stringify(obj.format)}, expected "seqrec-vocabulary"`);
    }
    if (obj.version !== 1) throw invalidBundle(`unsupported version ${JSON.stringify(obj.version)} (this build reads version 1)`);
    if (!Array.isArray(obj.items)) throw invalidBundle('"items" must be an array of strings');
    return ItemVocabulary.fromItems(obj.items);
  }

  /** Number of indices including padding (the embedding table height). */
  get size(): number {
    return this.ids.length + 1;
  }

  /** Number of real items (`size - 1`). */
  get numItems(): number {
    return this.ids.length;
  }

  /** The index of a raw id, or undefined when unknown. */
  encode(raw: string): number | undefined {
    return this.index.get(raw);
  }

  /** The index of a raw id; throws `unknown_item` naming the id when unknown. */
  encodeOrThrow(raw: string): number {
    const i = this.index.get(raw);
    if (i === undefined) throw new SeqrecError('unknown_item', `unknown item id '${raw}' (not in the vocabulary of ${this.numItems} items)`);
    return i;
  }

  /** Encodes a whole list of raw ids; throws `unknown_item` on the first unknown one. */
  encodeAll(raw: readonly string[]): Int32Array {
    const out = new Int32Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = this.encodeOrThrow(raw[i]);
    return out;
  }

  /** The raw id of an index. Throws `invalid_argument` for 0 (padding) and `unknown_item` out of range. */
  decode(index: number): string {
    if (index === 0) throw new SeqrecError('invalid_argument', 'item index 0 is padding and has no raw id', { field: 'index' });
    const id = Number.isInteger(index) && index > 0 ? this.ids[index - 1] : undefined;
    if (id === undefined) throw new SeqrecError('unknown_item', `item index ${index} is out of range 1..${this.numItems}`);
    return id;
  }

  has(raw: string): boolean {
    return this.index.has(raw);
  }

  /** Raw ids of items 1..numItems, in index order. */
  items(): readonly string[] {
    return this.ids;
  }

  toJSON(): VocabularyJSON {
    return { format: 'seqrec-vocabulary', version: 1, items: this.ids.slice() };
  }
}
