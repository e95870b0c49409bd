/** Shared test helpers: backend setup and tiny batches. */
import { initBackend } from '../src/backend/index.js';
import type { SequenceBatch, TrainBatch } from '../src/data/types.js';
import { Random } from '../src/util/random.js';

/** Tests run on the backend seqrec picks (SEQREC_BACKEND overrides), like users do. */
export async function setupBackend(): Promise<void> {
  await initBackend();
}

/** A batch of right-padded histories from explicit lists. */
export function batchOf(histories: number[][], maxLen: number): SequenceBatch {
  const b = histories.length;
  const history = new Int32Array(b * maxLen);
  const mask = new Float32Array(b * maxLen);
  const lengths = new Int32Array(b);
  histories.forEach((h, i) => {
    const w = h.slice(-maxLen);
    history.set(w, i * maxLen);
    mask.fill(1, i * maxLen, i * maxLen + w.length);
    lengths[i] = w.length;
  });
  return { batchSize: b, maxLen, history, mask, lengths };
}

/** A random training batch over items 1..itemCount-1. */
export function randomTrainBatch(rng: Random, batchSize: number, maxLen: number, itemCount: number): TrainBatch {
  const histories = Array.from({ length: batchSize }, () => Array.from({ length: 1 + rng.int(maxLen) }, () => 1 + rng.int(itemCount - 1)));
  const base = batchOf(histories, maxLen);
  return {
    ...base,
    targets: Int32Array.from({ length: batchSize }, () => 1 + rng.int(itemCount - 1)),
    users: Int32Array.from({ length: batchSize }, (_, i) => i),
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
