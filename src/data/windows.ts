/**
 * Building history windows into flat batch arrays, and per-epoch seeds.
 */
import { SeqrecError } from '../errors.js';
import { MAX_WINDOW_LENGTH } from './dataset-options.js';
import type { SequenceBatch } from './types.js';

/** A zeroed batch: zero is padding, so only real items need writing. */
export function allocBatch(batchSize: number, maxLen: number): SequenceBatch {
  return {
    batchSize,
    maxLen,
    history: new Int32Array(batchSize * maxLen),
    mask: new Float32Array(batchSize * maxLen),
    lengths: new Int32Array(batchSize),
  };
}

/**
 * Writes the window of `seq` that ends just before position `end` (the up-to-`maxLen`
 * most recent items `seq[max(0, end-maxLen) .. end)`) into row `row`, oldest first and
 * right-padded, and returns its length.
 */
export function fillWindow(batch: SequenceBatch, row: number, seq: Int32Array, end: number): number {
  const start = Math.max(0, end - batch.maxLen);
  const n = end - start;
  const offset = row * batch.maxLen;
  batch.history.set(seq.subarray(start, end), offset);
  batch.mask.fill(1, offset, offset + n);
  batch.lengths[row] = n;
  return n;
}

/**
 * The batch a model takes for `histories` (item indices, oldest first): row i is the window of
 * the last up-to-`maxLen` items of `histories[i]`, oldest first and right-padded with 0, exactly
 * as `SequenceDataset` builds its windows. Every history needs at least one item; the items in
 * its window must be integers >= 1 (0 is padding; items before the window are not read).
 */
export function windowBatch(histories: readonly ArrayLike<number>[], maxLen: number): SequenceBatch {
  if (!Number.isInteger(maxLen) || maxLen < 1 || maxLen > MAX_WINDOW_LENGTH) {
    throw new SeqrecError('invalid_argument', `windowBatch: maxLen must be an integer in [1, ${MAX_WINDOW_LENGTH}], got ${String(maxLen)}`, {
      field: 'maxLen',
    });
  }
  const batch = allocBatch(histories.length, maxLen);
  histories.forEach((h, row) => {
    if (h.length === 0) throw new SeqrecError('invalid_argument', `windowBatch: history ${row} is empty`, { field: 'histories' });
    // Only the window is read: a long history costs no more than a short one.
    const start = Math.max(0, h.length - maxLen);
    const window = new Int32Array(h.length - start);
    for (let i = start; i < h.length; i++) {
      const item = h[i];
      if (!(Number.isInteger(item) && item >= 1 && item <= 0x7fffffff)) {
        throw new SeqrecError('invalid_argument', `windowBatch: history ${row} position ${i} has item index ${item} (items are integers >= 1; 0 is padding)`, {
          field: 'histories',
        });
      }
      window[i - start] = item;
    }
    fillWindow(batch, row, window, window.length);
  });
  return batch;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The seed of one epoch's draws, a hash of (seed, epoch): any epoch can be replayed on its
 * own, without iterating the earlier ones.
 */
export function epochSeed(seed: number, epoch: number): number {
  return fmix32((fmix32(Math.floor(seed) >>> 0) + Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
}
