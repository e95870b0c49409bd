/**
 * Grouping parsed interactions into per-user, time-ordered sequences.
 */
import type { UserSequence } from './types.js';
import type { RecordSink } from './formats/parser.js';

interface UserAccumulator {
  items: string[];
  times: number[];
}

/** Sorts `items` by `times` in place, keeping file order among equal times (stable). */
function stableSortByTime(acc: UserAccumulator): void {
  const { items, times } = acc;
  let sorted = true;
  for (let i = 1; i < times.length && sorted; i++) sorted = times[i - 1] <= times[i];
  if (sorted) return;
  // Explicit index tie-break: the documented order of ties must not depend on the engine.
  const order = times.map((_, i) => i).sort((a, b) => times[a] - times[b] || a - b);
  acc.items = order.map((i) => items[i]);
  acc.times = order.map((i) => times[i]);
}

/**
 * Collects interactions by user. Users keep their order of first appearance; a missing
 * time becomes the user's running position, i.e. file order.
 */
export class SequenceCollector implements RecordSink {
  private readonly users = new Map<string, UserAccumulator>();
  private categoryMap: Map<string, string> | undefined;
  interactions = 0;
  dropped = 0;
  categoryConflicts = 0;

  add(user: string, item: string, time: number | undefined, category?: string): void {
    if (category !== undefined) {
      this.categoryMap ??= new Map();
      const known = this.categoryMap.get(item);
      if (known === undefined) this.categoryMap.set(item, category);
      else if (known !== category) this.categoryConflicts++;
    }
    let acc = this.users.get(user);
    if (!acc) {
      acc = { items: [], times: [] };
      this.users.set(user, acc);
    }
    acc.times.push(time ?? acc.items.length);
    acc.items.push(item);
    this.interactions++;
  }

  drop(): void {
    this.dropped++;
  }

  /** Item -> first category seen, when the format gave categories. */
  get categories(): Map<string, string> | undefined {
    return this.categoryMap;
  }

  /** The sequences, each sorted by time (stable). */
  finish(): UserSequence[] {
    const out: UserSequence[] = [];
    for (const [user, acc] of this.users) {
      stableSortByTime(acc);
      out.push({ user, items: acc.items, timestamps: acc.times });
    }
    return out;
  }
}
