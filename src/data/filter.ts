/**
 * k-core filtering: drop rare items and short users until both thresholds hold.
 */
import { z } from 'zod';
import { count, parseOptions } from './rules.js';
import type { UserSequence } from './types.js';

export interface KCoreOptions {
  /** Users with fewer interactions (after item filtering) are dropped. Default 5. */
  minUserInteractions?: number;
  /** Items with fewer interactions are dropped. Default 5. */
  minItemInteractions?: number;
  /**
   * Repeat until nothing changes (default true): the (minUser, minItem)-core. false runs one
   * pass, items (counted over the whole input) then users (counted over the kept items), which
   * is what ComiRec's `preprocess/data.py` does; kept items can then end with fewer than
   * minItemInteractions interactions. CLI: `--k-core iterative|one-pass`.
   */
  iterative?: boolean;
}

const kCoreSchema = z.strictObject({
  minUserInteractions: count.optional(),
  minItemInteractions: count.optional(),
  iterative: z.boolean({ error: (iss) => `must be true or false, got ${String(iss.input)}` }).optional(),
});

export interface KCoreReport {
  usersBefore: number;
  usersAfter: number;
  itemsBefore: number;
  itemsAfter: number;
  interactionsBefore: number;
  interactionsAfter: number;
  /** Passes run, including the final pass that found nothing left to remove. */
  rounds: number;
}

function countItems(sequences: UserSequence[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of sequences) for (const item of s.items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

function total(sequences: UserSequence[]): number {
  return sequences.reduce((n, s) => n + s.items.length, 0);
}

/**
 * Keeps the users and items of the (minUser, minItem)-core. Counts are interactions, so an
 * item repeated within a user counts each time. Sequences keep their order and timestamps;
 * the input is not modified.
 */
export function kCore(sequences: UserSequence[], options: KCoreOptions = {}): { sequences: UserSequence[]; report: KCoreReport } {
  const { minUserInteractions = 5, minItemInteractions = 5, iterative = true } = parseOptions(kCoreSchema, options, 'kCore', 'invalid_argument');

  let current = sequences;
  let rounds = 0;
  for (;;) {
    rounds++;
    const counts = countItems(current);
    const before = total(current);
    const usersBefore = current.length;
    const next: UserSequence[] = [];
    for (const s of current) {
      const keep: number[] = [];
      for (let i = 0; i < s.items.length; i++) if (counts.get(s.items[i])! >= minItemInteractions) keep.push(i);
      if (keep.length < minUserInteractions) continue;
      next.push(keep.length === s.items.length ? s : { user: s.user, items: keep.map((i) => s.items[i]), timestamps: keep.map((i) => s.timestamps[i]) });
    }
    current = next;
    const changed = total(next) !== before || next.length !== usersBefore;
    if (!iterative || !changed) break;
  }

  // Untouched sequences were passed through above; copy them so the result never aliases the input.
  const originals = new Set(sequences);
  const result = current.map((s) => (originals.has(s) ? { user: s.user, items: s.items.slice(), timestamps: s.timestamps.slice() } : s));
  return {
    sequences: result,
    report: {
      usersBefore: sequences.length,
      usersAfter: result.length,
      itemsBefore: countItems(sequences).size,
      itemsAfter: countItems(result).size,
      interactionsBefore: total(sequences),
      interactionsAfter: total(result),
      rounds,
    },
  };
}
