/**
 * Building history windows into flat batch arrays, and per-epoch seeds.
 */
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
