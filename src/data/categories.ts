/**
 * Item categories from a log (`InteractionLog.categories`, raw ids) in the index form that
 * controllable aggregation and `categoryDiversity` take.
 */
import type { ItemVocabulary } from './vocabulary.js';

export interface CategoryIndex {
  /** `[vocabulary.size]`: dense category of each item index; -1 for padding (0) and items without one. */
  itemCategory: Int32Array;
  /** Raw category id of each dense category (`names[c]`), numbered in item-index order. */
  names: string[];
}

/**
 * Maps raw `item -> category` pairs onto vocabulary indices. Categories get dense numbers
 * 0..C-1 in order of first appearance along the item indices; items of the map that are not
 * in the vocabulary (e.g. removed by k-core) are ignored.
 */
export function categoryIndex(categories: ReadonlyMap<string, string>, vocabulary: ItemVocabulary): CategoryIndex {
  const itemCategory = new Int32Array(vocabulary.size).fill(-1);
  const dense = new Map<string, number>();
  const names: string[] = [];
  const items = vocabulary.items();
  for (let i = 0; i < items.length; i++) {
    const raw = categories.get(items[i]);
    if (raw === undefined) continue;
    let c = dense.get(raw);
    if (c === undefined) {
      c = names.length;
      dense.set(raw, c);
      names.push(raw);
    }
    itemCategory[i + 1] = c;
  }
  return { itemCategory, names };
}
