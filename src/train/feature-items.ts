/**
 * New items that have features but no events yet (docs/models/features.md): a model with item
 * features gets rows for them whose id part is zero, so each new item's vector is exactly its
 * feature vector (the mean of its features' trained rows). It is then retrievable (recommend,
 * similarItems) before its first interaction; once events arrive, warm start
 * (src/train/warm-start.ts) continues training from this model and vocabulary.
 */
import type { ItemVocabulary } from '../data/vocabulary.js';
import { SeqrecError } from '../errors.js';
import type { BaseRecaller } from '../models/base.js';
import { buildModel } from '../models/registry.js';

/** A new item: its raw id and raw feature names (as in the features file the model was trained with). */
export interface FeatureOnlyItem {
  id: string;
  features: readonly string[];
}

export interface ExtendedModel {
  /** A new model (the caller owns and disposes it); the given one is left as it was. */
  model: BaseRecaller;
  /** The vocabulary with the new items appended (old indices unchanged). */
  vocabulary: ItemVocabulary;
}

/**
 * `model` with rows appended for `items`: every weight copied, the new rows of every per-item
 * weight (item table, GRU4Rec's output-bias column) zero, and the item features extended. Each
 * item needs at least one feature the model knows; an unknown feature name, an id already in the
 * vocabulary or a model without item features is an error.
 */
export function addItemsWithFeatures(model: BaseRecaller, vocabulary: ItemVocabulary, items: readonly FeatureOnlyItem[]): ExtendedModel {
  const features = model.itemFeatures();
  if (model.itemFeatureStrategy === 'none' || !features) {
    throw new SeqrecError('invalid_config', `addItemsWithFeatures: the ${model.name} model has no item features`, { field: 'itemFeatures' });
  }
  if (vocabulary.size !== model.itemCount) {
    throw new SeqrecError('shape_mismatch', `addItemsWithFeatures: the vocabulary has ${vocabulary.size} entries, the model ${model.itemCount} item rows`, {
      field: 'vocabulary',
    });
  }
  const known = new Set(features.names);
  const seen = new Set<string>();
  for (const item of items) {
    if (vocabulary.has(item.id) || seen.has(item.id)) {
      throw new SeqrecError('invalid_argument', `addItemsWithFeatures: item '${item.id}' is already in the vocabulary or given twice`, { field: 'items' });
    }
    seen.add(item.id);
    const unknown = item.features.filter((f) => !known.has(f));
    if (unknown.length > 0) {
      throw new SeqrecError('invalid_argument', `addItemsWithFeatures: item '${item.id}' has feature(s) the model has no row for: ${unknown.join(', ')}`, {
        field: 'items',
      });
    }
    if (item.features.length === 0) {
      throw new SeqrecError('invalid_argument', `addItemsWithFeatures: item '${item.id}' has no features, so it would get a zero vector`, { field: 'items' });
    }
  }
  const rows = model.itemCount + items.length;
  const extended = buildModel(model.name, { ...model.getConfig(), itemCount: rows });
  try {
    const values = new Map<string, { shape: number[]; data: Float32Array }>();
    const own = new Map(extended.namedWeights().map(({ name, variable }) => [name, variable.shape]));
    for (const { name, variable } of model.namedWeights()) {
      const shape = own.get(name)!;
      const same = shape.join(',') === variable.shape.join(',');
      const itemRows = shape[0] === rows && variable.shape[0] === model.itemCount && shape.slice(1).join(',') === variable.shape.slice(1).join(',');
      if (!same && !itemRows)
        throw new SeqrecError('shape_mismatch', `addItemsWithFeatures: weight '${name}' is [${variable.shape}], the extended model's [${shape}]`);
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      data.set(variable.dataSync() as Float32Array); // old rows exactly; new rows (if any) zero
      values.set(name, { shape, data });
    }
    extended.setNamedWeights(values);
    extended.setItemFeatures(features.withItems(items.map((i) => i.features)));
  } catch (err) {
    extended.dispose();
    throw err;
  }
  return { model: extended, vocabulary: vocabulary.extendedWith(items.map((i) => i.id)) };
}
