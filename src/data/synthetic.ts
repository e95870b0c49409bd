/**
 * The embedded synthetic dataset: no download, deterministic, with planted sequential and
 * multi-interest structure that a sequence model can find and a popularity ranking cannot.
 */
import { z } from 'zod';
import { SeqrecError, assertInteger } from '../errors.js';
import { count, finite, inRange, parseOptions } from './rules.js';
import { Random } from '../util/random.js';
import type { InteractionLog, UserSequence } from './types.js';

export interface SyntheticOptions {
  /** Default 2000. Users are `u0`, `u1`, ... */
  numUsers?: number;
  /** Default 1000. Items are `i0`, `i1`, ... */
  numItems?: number;
  /** Default 20. Each cluster needs at least 2 items. */
  numClusters?: number;
  /** Latent interests (clusters) per user. Default 2; ignored when `multiInterest` is set. */
  interestsPerUser?: number;
  /** Plant 3 or 4 interests per user (for multi-interest models). Default false. */
  multiInterest?: boolean;
  /** Sequence length is uniform in [minLength, maxLength]. Defaults 20 and 50. */
  minLength?: number;
  maxLength?: number;
  /** Probability that a (non-noise) step moves forward in the current cluster. Default 0.8. */
  sequential?: number;
  /** Probability that a step is a uniformly random item. Default 0.02. */
  noise?: number;
  /** Forward steps are uniform in 1..maxStep cluster positions. Default 3. */
  maxStep?: number;
  /** Zipf exponent of item popularity inside a cluster (entry points of jumps). Default 1. */
  zipf?: number;
  /** Default 42. */
  seed?: number;
}

const syntheticSchema = z.strictObject({
  numUsers: count.optional(),
  numItems: count.optional(),
  numClusters: count.optional(),
  interestsPerUser: count.optional(),
  multiInterest: z.boolean({ error: (iss) => `must be true or false, got ${String(iss.input)}` }).optional(),
  minLength: count.optional(),
  maxLength: count.optional(),
  sequential: inRange(0, 1).optional(),
  noise: inRange(0, 1).optional(),
  maxStep: count.optional(),
  zipf: inRange(0, 10).optional(),
  seed: finite.optional(),
});

/** The planted ground truth, for tests and diagnostics. */
export interface SyntheticTruth {
  /** Cluster of item `i${j}` at index j. */
  itemCluster: Int32Array;
  /** Item numbers of each cluster in walking order (the cycle forward steps follow). */
  clusterOrder: Int32Array[];
  /** Interest clusters of user `u${u}` at index u. */
  userInterests: Int32Array[];
}

export interface SyntheticLog extends InteractionLog {
  truth: SyntheticTruth;
}

interface Cluster {
  /** Item numbers in the cluster's walking order (a cycle). */
  items: Int32Array;
  /** Cumulative Zipf weights over `items` (popularity ranks are shuffled, not the walking order). */
  cumulative: Float64Array;
}

function buildClusters(numItems: number, numClusters: number, zipf: number, rng: Random): Cluster[] {
  const perm = rng.shuffle(Int32Array.from({ length: numItems }, (_, i) => i));
  const clusters: Cluster[] = [];
  for (let c = 0; c < numClusters; c++) {
    const items = perm.slice(Math.floor((c * numItems) / numClusters), Math.floor(((c + 1) * numItems) / numClusters));
    const rank = rng.shuffle(Int32Array.from({ length: items.length }, (_, i) => i));
    const cumulative = new Float64Array(items.length);
    let sum = 0;
    for (let i = 0; i < items.length; i++) cumulative[i] = sum += 1 / Math.pow(rank[i] + 1, zipf);
    clusters.push({ items, cumulative });
  }
  return clusters;
}

/** A cluster position drawn by Zipf popularity. */
function zipfPosition(cluster: Cluster, rng: Random): number {
  const r = rng.next() * cluster.cumulative[cluster.cumulative.length - 1];
  let i = 0;
  while (i < cluster.cumulative.length - 1 && cluster.cumulative[i] <= r) i++;
  return i;
}

/**
 * Generates the synthetic interaction log.
 *
 * Generative process (all draws from `Random(seed)`):
 * 1. Items are shuffled into `numClusters` equal clusters; each cluster's order is a cycle
 *    (the walking order), and each cluster has its own Zipf popularity over a separately
 *    shuffled ranking. Clusters are equally popular overall, so no few items dominate.
 * 2. Each user gets `interestsPerUser` distinct clusters (3 or 4 with `multiInterest`), chosen
 *    uniformly, and a length uniform in [minLength, maxLength]. The first item is a
 *    Zipf-popular item of one of the user's interests.
 * 3. Each next item is, with probability `noise`, a uniformly random item (the walk state
 *    is left unchanged); otherwise, with probability `sequential`, the item 1..maxStep
 *    positions further along the current cluster's cycle; otherwise a jump to another of
 *    the user's interests (chosen at random) at a Zipf-popular item there.
 *
 * So the next item is mostly predictable from the last few items (sequential structure),
 * and a user's future items come from a small set of clusters (multi-interest structure),
 * while global popularity is nearly flat.
 */
export function generateSynthetic(options: SyntheticOptions = {}): SyntheticLog {
  const {
    numUsers = 2000,
    numItems = 1000,
    numClusters = 20,
    multiInterest = false,
    minLength = 20,
    maxLength = 50,
    sequential = 0.8,
    noise = 0.02,
    maxStep = 3,
    zipf = 1,
    seed = 42,
    interestsPerUser = 2,
  } = parseOptions(syntheticSchema, options, 'generateSynthetic', 'invalid_argument');
  // The bounds that depend on another option.
  assertInteger(numItems, 'numItems', 2 * numClusters);
  assertInteger(maxLength, 'maxLength', minLength);
  const maxInterests = multiInterest ? 4 : interestsPerUser;
  if (maxInterests > numClusters) {
    throw new SeqrecError('invalid_argument', `${maxInterests} interests per user need at least that many clusters, got ${numClusters}`, {
      field: 'numClusters',
    });
  }

  const rng = new Random(seed);
  const clusters = buildClusters(numItems, numClusters, zipf, rng);
  const itemCluster = new Int32Array(numItems);
  clusters.forEach((cl, c) => cl.items.forEach((item) => (itemCluster[item] = c)));

  const sequences: UserSequence[] = [];
  const userInterests: Int32Array[] = [];
  let interactions = 0;
  for (let u = 0; u < numUsers; u++) {
    const k = multiInterest ? rng.range(3, 5) : interestsPerUser;
    const interests = rng.shuffle(Int32Array.from({ length: numClusters }, (_, c) => c)).slice(0, k);
    userInterests.push(interests);
    const length = rng.range(minLength, maxLength + 1);

    let current = rng.int(k);
    let pos = zipfPosition(clusters[interests[current]], rng);
    const items: string[] = [];
    for (let t = 0; t < length; t++) {
      if (t > 0) {
        const r = rng.next();
        if (r < noise) {
          items.push(`i${rng.int(numItems)}`);
          continue;
        }
        if (rng.next() < sequential) {
          pos = (pos + rng.range(1, maxStep + 1)) % clusters[interests[current]].items.length;
        } else {
          if (k > 1) current = (current + rng.range(1, k)) % k; // any interest but the current one
          pos = zipfPosition(clusters[interests[current]], rng);
        }
      }
      items.push(`i${clusters[interests[current]].items[pos]}`);
    }
    interactions += items.length;
    sequences.push({ user: `u${u}`, items, timestamps: items.map((_, i) => i) });
  }

  return {
    sequences,
    stats: { source: `synthetic(seed=${seed})`, lines: 0, interactions, skipped: 0, skipReasons: [], format: 'synthetic', filtered: 0 },
    truth: { itemCluster, clusterOrder: clusters.map((c) => c.items), userInterests },
  };
}
