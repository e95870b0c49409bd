/**
 * `seqrec recommend`: top-k next items for a history, through the same `Recommender` the API
 * and `seqrec serve` use, so the k limit and the exclusion of seen items are theirs.
 */
import { SeqrecError } from '../../errors.js';
import { Recommender } from '../../serve/recommender.js';
import { defineCommand } from '../command.js';
import { bool, choice, int, str } from '../flags.js';
import { BACKEND_FLAGS } from '../shared-flags.js';

export const recommendCommand = defineCommand({
  name: 'recommend',
  summary: 'top-k next items for a history of raw item ids',
  usage: '--model BUNDLE_DIR --history ID,ID,... [flags]',
  notes: '\nPrints JSON: the history, its unknown ids (skipped) and the recommendations, best first.',
  flags: {
    model: str('serving bundle (seqrec train --out, or seqrec export)', { required: true, placeholder: 'dir' }),
    history: str('item ids, oldest first, comma separated', { required: true, placeholder: 'ids' }),
    k: int('items to return', { min: 1, default: 10 }),
    includeSeen: bool('allow items of the history in the result (left out by default, as in the API)'),
    // Scripts and docs written before exclusion became the default pass it: accepted, no effect.
    excludeSeen: bool('leave the history out (the default; kept for older scripts)'),
    retriever: choice(['auto', 'exact', 'faiss'] as const, "retrieval: the bundle's faiss index when it has one and faiss-node loads (auto), or brute force", {
      default: 'auto',
      placeholder: 'name',
    }),
    ...BACKEND_FLAGS,
  },
  backend: true,
  async run(values, log) {
    if (values.includeSeen && values.excludeSeen)
      throw new SeqrecError('invalid_argument', 'give --include-seen or --exclude-seen, not both', { field: 'include-seen' });
    const history = values.history
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    // maxK and maxHistory guard a server against its clients; here the caller owns the process.
    // k above the catalogue is still capped by the Recommender, as in the API.
    const unlimited = Number.MAX_SAFE_INTEGER;
    const recommender = await Recommender.load(values.model, { retriever: values.retriever, warmUp: false, maxK: unlimited, maxHistory: unlimited });
    try {
      const result = recommender.recommend(history, { k: values.k, excludeSeen: !values.includeSeen });
      if (result.unknown.length) log(`unknown item ids skipped: ${result.unknown.join(', ')}`);
      // A mistyped history is an error here, not the API's popularity fallback.
      if (!history.some((id) => recommender.hasItem(id)))
        throw new SeqrecError('unknown_item', `none of the history's item ids are in the model's vocabulary`, { field: 'history' });
      // A cold-start fallback on known items (docs/serving.md, "Cold start") is said, not hidden.
      if (result.fallback) log(`answered by the ${result.fallback} fallback: ${result.reason ?? ''}`);
      const recommendations = result.items.map((r) => ({ item: r.id, score: r.score }));
      const fallback = result.fallback ? { fallback: result.fallback, reason: result.reason } : {};
      process.stdout.write(JSON.stringify({ history, unknown: result.unknown, ...fallback, recommendations }, null, 2) + '\n');
    } finally {
      recommender.dispose();
    }
  },
});
