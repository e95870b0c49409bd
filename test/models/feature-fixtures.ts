/**
 * The planted data of the item-feature tests: 40 items in 4 groups of 10, each item's group as
 * a feature (plus `odd` on half of them), and training windows drawn inside one group.
 */
import assert from 'node:assert/strict';
import { itemFeatureIndex, type ItemFeatures } from '../../src/data/item-features.js';
import type { TrainBatch } from '../../src/data/types.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import type { BaseRecaller } from '../../src/models/base.js';
import type { Random } from '../../src/util/random.js';
import { batchOf } from '../helpers.js';

/** Raw ids '1'..'40'. */
export const groupVocabulary = (): ItemVocabulary => ItemVocabulary.fromItems(Array.from({ length: 40 }, (_, i) => String(i + 1)));

/** Items 1..40 in 4 groups of 10; item i has feature `g${group}` and half of them also `odd`. */
export function groupedFeatures(vocab: ItemVocabulary): ItemFeatures {
  const raw = new Map<string, string[]>();
  for (let i = 1; i <= 40; i++) raw.set(String(i), [`g${Math.floor((i - 1) / 10)}`, ...(i % 2 ? ['odd'] : [])]);
  return itemFeatureIndex(raw, vocab).features;
}

/** Windows inside one group: the planted structure items sharing a feature co-occur in. */
export function groupBatch(rng: Random, size: number, maxLen: number): TrainBatch {
  const histories: number[][] = [];
  const targets = new Int32Array(size);
  for (let r = 0; r < size; r++) {
    const g = rng.int(4);
    histories.push(Array.from({ length: 1 + rng.int(maxLen) }, () => 1 + g * 10 + rng.int(10)));
    targets[r] = 1 + g * 10 + rng.int(10);
  }
  return { ...batchOf(histories, maxLen), targets, users: Int32Array.from({ length: size }, (_, i) => i) };
}

/** A copy of the named weight's values. */
export function weightsOf(model: BaseRecaller, name: string): Float32Array {
  const w = model.namedWeights().find((x) => x.name === name);
  assert.ok(w, `weight ${name}`);
  return Float32Array.from(w.variable.dataSync() as Float32Array);
}
