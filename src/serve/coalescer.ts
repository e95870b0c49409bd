/**
 * Request coalescing for POST /recommend: concurrent calls are answered by one
 * `recommendMany` call per group of compatible options at the next turn of the event loop,
 * which amortises TF.js's per-operation overhead over the batch. Answers equal one
 * `recommend` per request (top-k lists are prefixes of top-k' lists). With an asynchronous
 * retriever (pgvector) the same batches are answered by `recommendManyAsync`.
 */
import type { ServerMetrics } from './metrics.js';
import type { ItemId, Recommendation, RecommendOptions, Recommender } from './recommender.js';

function truncate(r: Recommendation, k: number): Recommendation {
  return r.items.length <= k ? r : { ...r, items: r.items.slice(0, k) };
}

interface Pending {
  history: readonly ItemId[];
  options: RecommendOptions & { k: number };
  resolve(r: Recommendation): void;
  reject(e: unknown): void;
}

/**
 * Answers concurrent `recommend` calls with one `recommendMany` call per group of compatible
 * options, at the next turn of the event loop. Each flush is synchronous, so it uses one
 * consistent model even across a hot reload.
 */
export class Coalescer {
  private groups = new Map<string, Pending[]>();
  private scheduled = false;

  constructor(
    private readonly recommender: Recommender,
    private readonly metrics: ServerMetrics,
  ) {}

  recommend(history: readonly ItemId[], options: RecommendOptions & { k: number }): Promise<Recommendation> {
    return new Promise((resolve, reject) => {
      const key = `${options.excludeSeen ?? true}|${options.interests ?? 'merge'}`;
      let group = this.groups.get(key);
      if (!group) this.groups.set(key, (group = []));
      group.push({ history, options, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const groups = this.groups;
    this.groups = new Map();
    const maxBatch = this.recommender.limitsInForce.maxBatch;
    for (const list of groups.values()) {
      for (let start = 0; start < list.length; start += maxBatch) this.run(list.slice(start, start + maxBatch));
    }
  }

  private run(chunk: Pending[]): void {
    this.metrics.inc('coalesced_batches');
    this.metrics.inc('coalesced_requests', chunk.length);
    if (this.recommender.answersAsync) {
      void this.runAsync(chunk);
      return;
    }
    if (chunk.length > 1) {
      const k = Math.max(...chunk.map((p) => p.options.k));
      let results: Recommendation[] | null = null;
      try {
        results = this.recommender.recommendMany(
          chunk.map((p) => p.history),
          { ...chunk[0].options, k },
        );
      } catch {
        results = null; // answer one by one below, so each error reaches its own request
      }
      if (results) {
        chunk.forEach((p, i) => p.resolve(truncate(results![i], p.options.k)));
        return;
      }
    }
    for (const p of chunk) {
      try {
        p.resolve(this.recommender.recommend(p.history, p.options));
      } catch (err) {
        p.reject(err);
      }
    }
  }

  /** `run` for an asynchronous retriever. The model call happens before the first await, so it still uses one state. */
  private async runAsync(chunk: Pending[]): Promise<void> {
    if (chunk.length > 1) {
      const k = Math.max(...chunk.map((p) => p.options.k));
      try {
        const results = await this.recommender.recommendManyAsync(
          chunk.map((p) => p.history),
          { ...chunk[0].options, k },
        );
        chunk.forEach((p, i) => p.resolve(truncate(results[i], p.options.k)));
        return;
      } catch {
        // answer one by one below, so each error reaches its own request
      }
    }
    await Promise.all(chunk.map((p) => this.recommender.recommendAsync(p.history, p.options).then(p.resolve, p.reject)));
  }
}
