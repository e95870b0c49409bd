import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SequenceDataset } from '../../src/data/dataset.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { seqrecError } from './helpers.js';

const itemNumber = (id: string): number => Number(id.slice(1));

describe('generateSynthetic', () => {
  const log = generateSynthetic();
  const { itemCluster, userInterests } = log.truth;

  test('defaults: 2000 users, ids like u3 / i17, lengths in [20, 50]', () => {
    assert.equal(log.sequences.length, 2000);
    assert.equal(log.sequences[3].user, 'u3');
    let total = 0;
    const items = new Set<string>();
    for (const s of log.sequences) {
      assert.ok(s.items.length >= 20 && s.items.length <= 50, `length ${s.items.length}`);
      assert.deepEqual(
        s.timestamps,
        s.items.map((_, i) => i),
      );
      for (const i of s.items) {
        assert.match(i, /^i\d+$/);
        assert.ok(itemNumber(i) < 1000);
        items.add(i);
      }
      total += s.items.length;
    }
    assert.equal(log.stats.interactions, total);
    assert.ok(items.size > 990, `only ${items.size} distinct items`);
    assert.equal(itemCluster.length, 1000);
  });

  test('deterministic under seed', () => {
    assert.deepEqual(generateSynthetic({ numUsers: 50 }).sequences, generateSynthetic({ numUsers: 50 }).sequences);
    assert.notDeepEqual(generateSynthetic({ numUsers: 50, seed: 1 }).sequences, generateSynthetic({ numUsers: 50, seed: 2 }).sequences);
  });

  test('sequential structure: consecutive items share a cluster far more often than chance', () => {
    const position = new Map<number, number>(); // item -> index in its cluster's walking order
    for (const order of log.truth.clusterOrder) order.forEach((item, i) => position.set(item, i));
    let same = 0;
    let forward = 0;
    let pairs = 0;
    for (const s of log.sequences) {
      for (let t = 1; t < s.items.length; t++) {
        const a = itemNumber(s.items[t - 1]);
        const b = itemNumber(s.items[t]);
        pairs++;
        if (itemCluster[a] !== itemCluster[b]) continue;
        same++;
        const size = log.truth.clusterOrder[itemCluster[a]].length;
        const step = (position.get(b)! - position.get(a)! + size) % size;
        if (step >= 1 && step <= 3) forward++;
      }
    }
    // 20 equal clusters: two unrelated items share a cluster with probability 0.05, and are
    // 1-3 steps apart with probability 0.003. Planted: 0.8 * 0.98 forward steps, plus jumps.
    assert.ok(same / pairs > 0.7, `same-cluster rate ${same / pairs}`);
    assert.ok(forward / pairs > 0.7, `forward-step rate ${forward / pairs}`);
  });

  test('users stay within their interests (up to the 2% noise)', () => {
    let inside = 0;
    let total = 0;
    log.sequences.forEach((s, u) => {
      assert.equal(userInterests[u].length, 2);
      assert.equal(new Set(userInterests[u]).size, 2);
      for (const i of s.items) {
        total++;
        if (userInterests[u].includes(itemCluster[itemNumber(i)])) inside++;
      }
    });
    assert.ok(inside / total > 0.97, `inside rate ${inside / total}`);
  });

  test('popularity is flat: the 50 most popular items are a small share of interactions', () => {
    const counts = new Map<string, number>();
    for (const s of log.sequences) for (const i of s.items) counts.set(i, (counts.get(i) ?? 0) + 1);
    const sorted = [...counts.values()].sort((a, b) => b - a);
    const top = sorted.slice(0, 50).reduce((a, b) => a + b, 0);
    assert.ok(top / log.stats.interactions < 0.2, `top-50 share ${top / log.stats.interactions}`);
  });

  test('multiInterest plants 3-4 interests, and sequences visit at least 3 of them', () => {
    const multi = generateSynthetic({ multiInterest: true, numUsers: 300 });
    const sizes = new Set(multi.truth.userInterests.map((x) => x.length));
    assert.deepEqual([...sizes].sort(), [3, 4]);
    let visitsThree = 0;
    multi.sequences.forEach((s, u) => {
      const visited = new Set(s.items.map((i) => multi.truth.itemCluster[itemNumber(i)]).filter((c) => multi.truth.userInterests[u].includes(c)));
      if (visited.size >= 3) visitsThree++;
    });
    assert.ok(visitsThree / multi.sequences.length > 0.9, `only ${visitsThree} users visit 3 interests`);
  });

  test('a sequence-aware baseline beats popularity by >= 2x recall@50 under the comirec protocol', () => {
    const ds = SequenceDataset.fromLog(log);
    const n = ds.itemCount;
    const pop = ds.itemPopularity();
    const topPop = new Set(
      Array.from({ length: n - 1 }, (_, i) => i + 1)
        .sort((a, b) => pop[b] - pop[a])
        .slice(0, 50),
    );
    // Item-to-next-items co-occurrence within 6 steps, from training users only.
    const co = new Float64Array(n * n);
    for (const u of ds.trainUsers) {
      const s = ds.sequence(u);
      for (let i = 0; i < s.length; i++) for (let j = i + 1; j < Math.min(s.length, i + 7); j++) co[s[i] * n + s[j]]++;
    }
    let recallPop = 0;
    let recallSeq = 0;
    let users = 0;
    for (const b of ds.evalBatches('test', 64)) {
      for (let r = 0; r < b.batchSize; r++) {
        const score = new Float64Array(n);
        const len = b.lengths[r];
        for (let h = 0; h < len; h++) {
          const item = b.history[r * b.maxLen + h];
          const w = Math.pow(0.8, len - 1 - h);
          for (let i = 1; i < n; i++) score[i] += w * co[item * n + i];
        }
        const top = new Set(
          Array.from({ length: n - 1 }, (_, i) => i + 1)
            .sort((a, c) => score[c] - score[a])
            .slice(0, 50),
        );
        const targets = b.targets[r];
        recallPop += targets.filter((t) => topPop.has(t)).length / targets.length;
        recallSeq += targets.filter((t) => top.has(t)).length / targets.length;
        users++;
      }
    }
    recallPop /= users;
    recallSeq /= users;
    assert.ok(recallSeq >= 2 * recallPop, `sequence ${recallSeq.toFixed(3)} vs popularity ${recallPop.toFixed(3)}`);
    assert.ok(recallPop < 0.2, `popularity recall@50 ${recallPop.toFixed(3)} is too high for a flat catalogue`);
  });

  test('invalid options', () => {
    assert.throws(() => generateSynthetic({ numItems: 30, numClusters: 20 }), seqrecError('invalid_argument', /numItems/));
    assert.throws(() => generateSynthetic({ minLength: 10, maxLength: 5 }), seqrecError('invalid_argument', /maxLength/));
    assert.throws(() => generateSynthetic({ sequential: 1.5 }), seqrecError('invalid_argument', /sequential/));
    assert.throws(() => generateSynthetic({ numClusters: 3, numItems: 30, multiInterest: true }), seqrecError('invalid_argument', /4 interests/));
  });
});
