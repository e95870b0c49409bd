/**
 * Warm start: continue training from a saved model on a log that has grown. The item
 * vocabulary is extended, never renumbered (`SequenceDataset.withVocabulary`): every item of
 * the parent keeps its index and its rows, exactly; items new in the log get new rows.
 *
 * New rows start by one of two rules (`newRows`):
 * - 'init' (default): the model's own initialisation for those rows, as if trained from scratch;
 * - 'cooccurrence': the mean of the parent rows of the old items that share a training
 *   sequence with the new item, weighted by how often they co-occur (c_s(new) · c_s(old),
 *   summed over sequences); an item that co-occurs with no old item keeps the model's init.
 * The rule applies to every weight with one row per item (item table, output table, output
 * bias). Every other weight is the parent's.
 *
 * Optimizer state: when the parent was saved with it (`saveOptimizerState`), the Trainer
 * restores it (src/train/optimizer-state.ts): old weights' and old rows' moments exactly, new
 * rows at zero moments, the step count continued. Otherwise, or when it does not fit this fit's
 * optimizer, Adam starts afresh, and the fit's log and `warmStart.optimizer` say so.
 */
import type { SequenceDataset } from '../data/dataset.js';
import { SeqrecError } from '../errors.js';
import type { BaseRecaller } from '../models/base.js';
import { loadModel } from '../bundle/checkpoint.js';
import { readOptimizerState, type OptimizerState } from '../bundle/optimizer-state.js';
import type { OptimizerRestore } from './optimizer-state.js';

export type NewRowInit = 'init' | 'cooccurrence';

export interface WarmStartReport {
  /** SHA-256 of the parent's model.json: the new bundle records it as its parent. */
  parentDigest: string;
  /** Items of the parent (all kept with their vectors). */
  parentItems: number;
  /** Items new in this data. */
  newItems: number;
  newRows: NewRowInit;
  /** New items whose rows came from co-occurring old items ('cooccurrence' only). */
  seededItems: number;
  /** Whether Adam continued from the parent's saved state or started afresh, and why (set by the Trainer). */
  optimizer?: OptimizerRestore;
}

/** Config fields that may differ between the parent and the continued model. */
const MAY_DIFFER = new Set(['itemCount']);

function checkCompatible(model: BaseRecaller, parent: BaseRecaller, from: string): void {
  if (parent.name !== model.name) {
    throw new SeqrecError('invalid_config', `warm start from ${from}: the parent is a ${parent.name} model, this one ${model.name}`, { field: 'from' });
  }
  const a = parent.getConfig() as Record<string, unknown>;
  const b = model.getConfig() as Record<string, unknown>;
  const differ = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !MAY_DIFFER.has(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  if (differ.length > 0) {
    throw new SeqrecError(
      'invalid_config',
      `warm start from ${from}: the model's config differs from the parent's in ${differ.map((k) => `${k} (${JSON.stringify(b[k])} vs ${JSON.stringify(a[k])})`).join(', ')}; build it from the parent's config with only itemCount changed`,
      { field: differ[0] },
    );
  }
}

/** For each new item (index >= parentRows), its co-occurrence weight with each old item. */
function cooccurrenceWeights(dataset: SequenceDataset, parentRows: number): Map<number, Map<number, number>> {
  const weights = new Map<number, Map<number, number>>();
  for (const user of dataset.trainUsers) {
    const counts = new Map<number, number>();
    for (const item of dataset.trainSequence(user)) counts.set(item, (counts.get(item) ?? 0) + 1);
    const old = [...counts].filter(([item]) => item < parentRows);
    if (old.length === 0) continue;
    for (const [item, c] of counts) {
      if (item < parentRows) continue;
      let w = weights.get(item);
      if (!w) weights.set(item, (w = new Map()));
      for (const [o, co] of old) w.set(o, (w.get(o) ?? 0) + c * co);
    }
  }
  return weights;
}

/** Writes into `data` each seeded new item's row: the weighted mean of its old items' rows of `table`. */
function seedRows(data: Float32Array, table: Float32Array, width: number, weights: Map<number, Map<number, number>>): void {
  for (const [item, w] of weights) {
    const row = new Float64Array(width);
    let total = 0;
    for (const [o, weight] of w) {
      total += weight;
      for (let d = 0; d < width; d++) row[d] += weight * table[o * width + d];
    }
    for (let d = 0; d < width; d++) data[item * width + d] = row[d] / total;
  }
}

/**
 * Loads the model saved at `from` into `model` (built with the parent's config and
 * `dataset.itemCount` rows): the parent's weights, its item rows at their indices, new rows by
 * `newRows`. `dataset` must carry the parent's vocabulary as its prefix
 * (`dataset.withVocabulary(parentVocabulary)`).
 */
export async function warmStart(model: BaseRecaller, dataset: SequenceDataset, from: string, newRows: NewRowInit = 'init'): Promise<WarmStartReport> {
  return (await loadWarmStart(model, dataset, from, newRows)).report;
}

/**
 * `warmStart`, and the parent's optimizer state (null when it was saved without one) for the
 * Trainer to restore once its optimizer exists.
 */
export async function loadWarmStart(
  model: BaseRecaller,
  dataset: SequenceDataset,
  from: string,
  newRows: NewRowInit = 'init',
): Promise<{ report: WarmStartReport; optimizerState: OptimizerState | null }> {
  if (newRows !== 'init' && newRows !== 'cooccurrence') {
    throw new SeqrecError('invalid_config', `newRows must be 'init' or 'cooccurrence', got ${JSON.stringify(newRows)}`, { field: 'newRows' });
  }
  const parent = await loadModel(from);
  try {
    if (!parent.vocabulary)
      throw new SeqrecError('bundle_invalid', `warm start from ${from}: it has no vocabulary.json, so its item rows cannot be matched to ids`, { file: from });
    checkCompatible(model, parent.model, from);
    const parentIds = parent.vocabulary.items();
    const ids = dataset.vocabulary.items();
    const moved = parentIds.findIndex((id, i) => ids[i] !== id);
    if (moved >= 0 || ids.length < parentIds.length) {
      throw new SeqrecError(
        'shape_mismatch',
        `warm start from ${from}: item '${parentIds[Math.max(moved, 0)]}' has index ${Math.max(moved, 0) + 1} in the parent but not in this dataset; encode the data with dataset.withVocabulary(parent vocabulary) so old ids keep their index`,
        { field: 'vocabulary' },
      );
    }
    const parentRows = parent.model.itemCount;
    const own = new Map(model.namedWeights().map(({ name, variable }) => [name, variable]));
    const values = new Map<string, { shape: number[]; data: Float32Array }>();
    const weights = newRows === 'cooccurrence' ? cooccurrenceWeights(dataset, parentRows) : new Map<number, Map<number, number>>();
    for (const { name, variable } of parent.model.namedWeights()) {
      const target = own.get(name);
      if (!target) throw new SeqrecError('bundle_invalid', `warm start from ${from}: the parent has a weight '${name}' this model lacks`, { field: name });
      const from0 = variable.shape;
      const to0 = target.shape;
      const parentData = variable.dataSync() as Float32Array;
      if (from0.join(',') === to0.join(',')) {
        values.set(name, { shape: to0.slice(), data: Float32Array.from(parentData) });
        continue;
      }
      const itemRows = from0[0] === parentRows && to0[0] === model.itemCount && from0.slice(1).join(',') === to0.slice(1).join(',');
      if (!itemRows)
        throw new SeqrecError('shape_mismatch', `warm start from ${from}: weight '${name}' is [${from0}] in the parent and [${to0}] here`, { field: name });
      const data = Float32Array.from(target.dataSync() as Float32Array); // the model's init for the new rows
      data.set(parentData); // old rows exactly
      seedRows(data, parentData, parentData.length / parentRows, weights);
      values.set(name, { shape: to0.slice(), data });
    }
    const optimizerState = await readOptimizerState(parent);
    model.setNamedWeights(values);
    return {
      report: { parentDigest: parent.digest, parentItems: parentRows - 1, newItems: model.itemCount - parentRows, newRows, seededItems: weights.size },
      optimizerState,
    };
  } finally {
    parent.model.dispose();
  }
}
