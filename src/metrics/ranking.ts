/**
 * Per-user ranking metrics for top-n recommendation.
 *
 * Conventions shared by every function here:
 * - `ranked` holds item ids, best first. Entries < 0 mean "no item" (retrievers pad short
 *   lists with -1); they occupy their slot but never count as a hit.
 * - The "top-n" is the first `n` slots of `ranked`; an item repeated inside it counts once,
 *   at its first position.
 * - `targets` are the user's held-out items, duplicates allowed (ComiRec keeps them).
 * - `n` must be an integer in [1, ranked.length]: asking for recall@50 of a top-20 list is
 *   almost always a bug, so it is an error rather than a silently truncated value.
 * - An empty `targets` list is an error: every metric would be 0/0.
 */
import { SeqrecError } from '../errors.js';

/** Discount of the 0-based rank `r`: 1 / log2(r + 2). */
function discount(r: number): number {
  return 1 / Math.log2(r + 2);
}

/**
 * What one pass over the top-`maxN` of a ranked list yields; every metric at every n <= maxN
 * is computed from it, so `evaluateRankings` scans each list once.
 */
export interface RankScan {
  /** Distinct target items. */
  targetSet: Set<number>;
  /** For each target item found in the top-maxN, its first 0-based rank. */
  firstRank: Map<number, number>;
  /** The ranks of the distinct hits, ascending. */
  hitRanks: number[];
}

/** One pass over `ranked[0..maxN)`; the caller has validated `maxN <= ranked.length`. */
export function scanRanking(ranked: ArrayLike<number>, targets: ArrayLike<number>, maxN: number): RankScan {
  const targetSet = new Set<number>();
  for (let i = 0; i < targets.length; i++) targetSet.add(targets[i]);
  const firstRank = new Map<number, number>();
  const hitRanks: number[] = [];
  for (let r = 0; r < maxN; r++) {
    const item = ranked[r];
    if (!(item >= 0) || !targetSet.has(item) || firstRank.has(item)) continue;
    firstRank.set(item, r);
    hitRanks.push(r);
  }
  return { targetSet, firstRank, hitRanks };
}

/** Number of distinct hits in the top-n. */
function hitsAt(scan: RankScan, n: number): number {
  let h = 0;
  while (h < scan.hitRanks.length && scan.hitRanks[h] < n) h++;
  return h;
}

/** recall@n from a scan (see {@link recall}). */
export function recallFromScan(scan: RankScan, targets: ArrayLike<number>, n: number): number {
  return hitsAt(scan, n) / targets.length;
}

/** hitRate@n from a scan (see {@link hitRate}). */
export function hitRateFromScan(scan: RankScan, n: number): number {
  return scan.hitRanks.length > 0 && scan.hitRanks[0] < n ? 1 : 0;
}

/** mrr@n from a scan (see {@link mrr}). */
export function mrrFromScan(scan: RankScan, n: number): number {
  return scan.hitRanks.length > 0 && scan.hitRanks[0] < n ? 1 / (scan.hitRanks[0] + 1) : 0;
}

/** ndcg@n from a scan (see {@link ndcg}). */
export function ndcgFromScan(scan: RankScan, n: number): number {
  let dcg = 0;
  for (let h = 0; h < scan.hitRanks.length && scan.hitRanks[h] < n; h++) dcg += discount(scan.hitRanks[h]);
  if (dcg === 0) return 0;
  const ideal = Math.min(scan.targetSet.size, n);
  let idcg = 0;
  for (let r = 0; r < ideal; r++) idcg += discount(r);
  return dcg / idcg;
}

/** recallComiRecPaper@n from a scan (see {@link recallComiRecPaper}). */
export function recallComiRecPaperFromScan(scan: RankScan, targets: ArrayLike<number>, n: number): number {
  let hits = 0;
  for (let no = 0; no < targets.length; no++) {
    const r = scan.firstRank.get(targets[no]);
    if (r !== undefined && r < n) hits++;
  }
  return hits / targets.length;
}

/** ndcgComiRecMaster@n from a scan (see {@link ndcgComiRecMaster}). */
export function ndcgComiRecMasterFromScan(scan: RankScan, n: number): number {
  let dcg = 0;
  let hits = 0;
  for (; hits < scan.hitRanks.length && scan.hitRanks[hits] < n; hits++) dcg += discount(scan.hitRanks[hits]);
  if (hits === 0) return 0;
  let idcg = 0;
  for (let i = 0; i < hits; i++) idcg += discount(i);
  return dcg / idcg;
}

/** ndcgComiRec@n from a scan (see {@link ndcgComiRec}). */
export function ndcgComiRecFromScan(scan: RankScan, targets: ArrayLike<number>, n: number): number {
  let hits = 0;
  let dcg = 0;
  for (let no = 0; no < targets.length; no++) {
    const r = scan.firstRank.get(targets[no]);
    if (r !== undefined && r < n) {
      hits++;
      dcg += discount(no);
    }
  }
  if (hits === 0) return 0;
  let idcg = 0;
  for (let no = 0; no < hits; no++) idcg += discount(no);
  return dcg / idcg;
}

/**
 * Throws unless `n` is a usable cutoff for a list of `length` slots and `targets` is
 * non-empty. `where` names the user for batch callers (e.g. " for user 3").
 */
export function validateCutoff(n: number, length: number, targetCount: number, where = ''): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new SeqrecError('invalid_argument', `n must be an integer >= 1, got ${String(n)}`, { field: 'n' });
  }
  if (n > length) {
    throw new SeqrecError(
      'invalid_argument',
      `n=${n} exceeds the ranked list length ${length}${where}: retrieve at least ${n} items to compute @${n} metrics`,
      { field: 'n' },
    );
  }
  if (targetCount === 0) {
    throw new SeqrecError('invalid_argument', `targets must hold at least 1 item${where}, got an empty list`, {
      field: 'targets',
    });
  }
}

function scanFor(ranked: ArrayLike<number>, targets: ArrayLike<number>, n: number): RankScan {
  validateCutoff(n, ranked.length, targets.length);
  return scanRanking(ranked, targets, n);
}

/**
 * Recall at n, as ComiRec's master branch computes it (src/train.py since commit a3489df,
 * which loops over the retrieved list):
 *
 *   recall@n = |{distinct items in ranked[0..n)} ∩ targets| / |targets|
 *
 * where |targets| counts duplicates, so a user whose held-out list repeats an item can never
 * reach 1. The paper branch counts every target occurrence instead: {@link recallComiRecPaper}.
 */
export function recall(ranked: ArrayLike<number>, targets: ArrayLike<number>, n: number): number {
  return recallFromScan(scanFor(ranked, targets, n), targets, n);
}

/**
 * Hit rate at n: 1 if any item of ranked[0..n) is in targets, else 0.
 */
export function hitRate(ranked: ArrayLike<number>, targets: ArrayLike<number>, n: number): number {
  return hitRateFromScan(scanFor(ranked, targets, n), n);
}

/**
 * Standard (binary-relevance) NDCG at n:
 *
 *   DCG  = Σ_{r < n, ranked[r] ∈ targets} 1 / log2(r + 2)   (each distinct item once, at its first rank)
 *   IDCG = Σ_{r < min(|distinct targets|, n)} 1 / log2(r + 2)
 *   ndcg@n = DCG / IDCG
 *
 * Rank order inside the top-n matters: a hit at rank 0 is worth more than one at rank n-1.
 */
export function ndcg(ranked: ArrayLike<number>, targets: ArrayLike<number>, n: number): number {
  return ndcgFromScan(scanFor(ranked, targets, n), n);
}

/**
 * Recall at n as ComiRec's `paper` branch computes it (src/train.py of commit 6eca936, the code
 * behind the paper's tables), which loops over the held-out list:
 *
 *   recallComiRecPaper@n = |{j : targets[j] ∈ set(ranked[0..n))}| / |targets|
 *
 * Every occurrence of a retrieved target counts, so a user whose held-out list repeats an
 * item can reach 1. Equals {@link recall} when `targets` has no duplicates.
 */
export function recallComiRecPaper(ranked: ArrayLike<number>, targets: ArrayLike<number>, n: number): number {
  return recallComiRecPaperFromScan(scanFor(ranked, targets, n), targets, n);
}

/**
 * NDCG as ComiRec's master branch computes it (src/train.py since commit a3489df): the
 * discount is the rank in the retrieved list, and the ideal DCG has as many terms as there
 * are hits (not min(|targets|, n) as in {@link ndcg}):
 *
 *   DCG  = Σ_{distinct hits h in ranked[0..n)} 1 / log2(rank(h) + 2)
 *   IDCG = Σ_{i < number of distinct hits} 1 / log2(i + 2)
 *   ndcgComiRecMaster@n = DCG / IDCG   (0 without a hit)
 *
 * So it is 1 whenever the hits fill the first ranks, however many targets were missed.
 * ComiRec's retrieved list holds distinct items (its multi-interest merge drops repeats and
 * padding before ranking); seqrec's rank is the slot of an item's first occurrence.
 */
export function ndcgComiRecMaster(ranked: ArrayLike<number>, targets: ArrayLike<number>, n: number): number {
  return ndcgComiRecMasterFromScan(scanFor(ranked, targets, n), n);
}

/**
 * NDCG as computed by ComiRec's `paper` branch (src/train.py of commit 6eca936, the code behind
 * the paper's tables; master replaced it in a3489df, see {@link ndcgComiRecMaster}),
 * reproduced so that numbers can be compared with papers that used it:
 *
 *   S = set(distinct items of ranked[0..n))
 *   for (no, iid) in enumerate(targets): if iid ∈ S: hits += 1; dcg += 1 / log2(no + 2)
 *   idcg = Σ_{no < hits} 1 / log2(no + 2)
 *   ndcgComiRec@n = dcg / idcg   (0 if hits = 0)
 *
 * The discount is taken from the position in the TARGET list, not from the rank, and the
 * result is normalised by the number of hits. So it is independent of the rank order within
 * the top-n (any permutation of the top-n gives the same value), depends on the order of
 * the held-out items instead, and equals 1 whenever the hits are a prefix of `targets`.
 * Duplicate targets each count as a hit, as in ComiRec's loop. It is NOT comparable to
 * standard NDCG ({@link ndcg}); report it under its own name.
 */
export function ndcgComiRec(ranked: ArrayLike<number>, targets: ArrayLike<number>, n: number): number {
  return ndcgComiRecFromScan(scanFor(ranked, targets, n), targets, n);
}

/**
 * Mean reciprocal rank at n (per user): 1 / (r + 1) for the first 0-based rank r < n with
 * ranked[r] ∈ targets, 0 if there is none. Used for session-based next-item tasks, where
 * `targets` usually holds a single item.
 */
export function mrr(ranked: ArrayLike<number>, targets: ArrayLike<number>, n: number): number {
  return mrrFromScan(scanFor(ranked, targets, n), n);
}
