import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../../src/util/random.js';
import {
  AliasTable,
  inBatchSampler,
  logUniformSampler,
  mixedSampler,
  popularitySampler,
  resolveSampler,
  sampleUnique,
  uniformSampler,
  type NegativeSampler,
} from '../../src/losses/samplers.js';

/** Upper χ² quantile by Wilson–Hilferty (accurate to < 1% for df ≥ 10). */
function chiSquareCritical(df: number, z: number): number {
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}
const Z_999 = 3.0902; // one-sided 0.1% level

/** Pearson's χ² of `draws` samples against the sampler's own `probability`, and its df. */
function chiSquare(s: NegativeSampler, draws: number, seed: number): { stat: number; df: number } {
  const counts = new Float64Array(s.itemCount);
  const ids = s.sample(draws, new Random(seed));
  for (const id of ids) counts[id]++;
  assert.equal(counts[0], 0, 'padding was drawn');
  let stat = 0;
  let df = -1;
  let mass = 0;
  for (let id = 1; id < s.itemCount; id++) {
    const p = s.probability(id);
    mass += p;
    if (p === 0) {
      assert.equal(counts[id], 0, `item ${id} has probability 0 but was drawn`);
      continue;
    }
    const e = draws * p;
    stat += (counts[id] - e) ** 2 / e;
    df++;
  }
  assert.ok(Math.abs(mass - 1) < 1e-9, `probabilities sum to ${mass}`);
  return { stat, df };
}

function assertFits(s: NegativeSampler, draws = 200_000, seed = 7): void {
  const { stat, df } = chiSquare(s, draws, seed);
  const crit = chiSquareCritical(df, Z_999);
  assert.ok(stat < crit, `${s.describe()}: χ² ${stat.toFixed(1)} >= critical ${crit.toFixed(1)} (df ${df})`);
}

// Zipf-like counts with some zeros (items never seen in training).
const COUNTS = Float64Array.from({ length: 201 }, (_, i) => (i === 0 ? 0 : i % 17 === 0 ? 0 : Math.floor(1000 / i) + 1));

describe('negative samplers: frequencies match the target distribution (χ² at a fixed seed)', () => {
  it('uniform', () => assertFits(uniformSampler(201)));
  it('popularity^1, ^0.5, ^0.75 and ^0 (alias table)', () => {
    for (const alpha of [1, 0.5, 0.75, 0]) assertFits(popularitySampler(COUNTS, alpha));
    const s = popularitySampler(COUNTS, 0.5);
    const total = COUNTS.reduce((a, c) => a + Math.sqrt(c), 0);
    assert.ok(Math.abs(s.probability(3) - Math.sqrt(COUNTS[3]) / total) < 1e-12);
    assert.equal(s.probability(17), 0); // unseen item, alpha > 0
    assert.ok(popularitySampler(COUNTS, 0).probability(17) > 0); // alpha 0 = uniform over all
  });
  it('log-uniform over frequency-ranked ids (TensorFlow formula)', () => {
    const s = logUniformSampler(1001);
    assertFits(s);
    // TensorFlow, range_max = 1001: P(c) = log((c + 2) / (c + 1)) / log(1002); seqrec = P(j | j ≥ 1).
    const tf = (c: number) => Math.log((c + 2) / (c + 1)) / Math.log(1002);
    for (const j of [1, 2, 500, 1000]) assert.ok(Math.abs(s.probability(j) - tf(j) / (1 - tf(0))) < 1e-12, `j=${j}`);
    assert.equal(s.probability(0), 0);
    assert.equal(s.probability(1001), 0);
  });
  it('log-uniform by hand: itemCount 4 (3 items), item j is TensorFlow class j, not j − 1', () => {
    const s = logUniformSampler(4);
    // TF range_max 4: P(0..3) = ln 2, ln 1.5, ln(4/3), ln 1.25 over ln 5 = .430677 .251929 .178747 .138647;
    // without class 0: .251929 / .569323 = .442507, .313964, .243529 (ln 1.5 / ln 2.5 etc.).
    const expected = [0, 0.442507, 0.313964, 0.243529];
    for (let j = 1; j <= 3; j++) assert.ok(Math.abs(s.probability(j) - expected[j]) < 1e-6, `j=${j}: ${s.probability(j)}`);
    const counts = [0, 0, 0, 0];
    for (const id of s.sample(200_000, new Random(11))) counts[id]++;
    for (let j = 1; j <= 3; j++) assert.ok(Math.abs(counts[j] / 200_000 - expected[j]) < 0.005, `draws of ${j}: ${counts[j]}`);
  });
  it('in-batch (training-target frequency)', () => {
    const s = inBatchSampler(COUNTS);
    assert.equal(s.inBatch, true);
    assertFits(s);
    const total = COUNTS.reduce((a, c) => a + c, 0);
    assert.ok(Math.abs(s.probability(5) - COUNTS[5] / total) < 1e-12);
  });
  it('mixed (0.3 uniform + 0.7 popularity^0.75)', () => {
    const u = uniformSampler(201);
    const p = popularitySampler(COUNTS, 0.75);
    const m = mixedSampler([
      { sampler: u, weight: 3 },
      { sampler: p, weight: 7 },
    ]);
    assertFits(m);
    assert.ok(Math.abs(m.probability(9) - (0.3 * u.probability(9) + 0.7 * p.probability(9))) < 1e-12);
  });
});

describe('negative samplers: mechanics', () => {
  it('is reproducible under a seed and never draws padding', () => {
    for (const s of [uniformSampler(50), popularitySampler(COUNTS, 0.3), logUniformSampler(50), inBatchSampler(COUNTS)]) {
      const a = s.sample(5000, new Random(3));
      const b = s.sample(5000, new Random(3));
      assert.deepEqual(a, b);
      assert.ok(a.every((id) => id >= 1 && id < s.itemCount));
      assert.notDeepEqual(s.sample(50, new Random(4)), s.sample(50, new Random(5)));
    }
  });

  it('alias table: 1,000,000 items build and draw (O(1) per draw)', () => {
    const n = 1_000_001;
    const counts = new Float64Array(n);
    for (let i = 1; i < n; i++) counts[i] = 1e6 / i; // Zipf
    const s = popularitySampler(counts, 0.75);
    const ids = s.sample(1_000_000, new Random(1));
    assert.equal(ids.length, 1_000_000);
    assert.ok(ids.every((id) => id >= 1 && id < n));
    // The head is drawn at its rate: item 1's share within 5 standard errors.
    const p1 = s.probability(1);
    const got = ids.filter((id) => id === 1).length / ids.length;
    assert.ok(Math.abs(got - p1) < 5 * Math.sqrt((p1 * (1 - p1)) / ids.length), `${got} vs ${p1}`);
  });

  it('AliasTable reproduces arbitrary weights exactly in expectation', () => {
    // Expected probability of each outcome from the table's own columns equals w / Σw.
    const w = [5, 0, 1, 3, 0.5, 10];
    const t = new AliasTable(w) as unknown as { keep: Float64Array; alias: Int32Array; size: number };
    const p = new Float64Array(w.length);
    for (let i = 0; i < t.size; i++) {
      p[i] += t.keep[i] / t.size;
      p[t.alias[i]] += (1 - t.keep[i]) / t.size;
    }
    const total = w.reduce((a, b) => a + b, 0);
    w.forEach((v, i) => assert.ok(Math.abs(p[i] - v / total) < 1e-12, `outcome ${i}: ${p[i]} vs ${v / total}`));
  });

  it('sampleUnique draws distinct ids and counts its tries', () => {
    const s = logUniformSampler(101);
    const { ids, tries } = sampleUnique(s, 60, new Random(2));
    assert.equal(new Set(ids).size, 60);
    assert.ok(tries >= 60);
    assert.throws(() => sampleUnique(s, 101, new Random(2)), /distinct/);
    assert.deepEqual(
      [...sampleUnique(uniformSampler(11), 10, new Random(1)).ids].sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
  });

  it('resolves specs against the data and says what is missing', () => {
    assert.equal(resolveSampler('uniform', { itemCount: 10 }).kind, 'uniform');
    assert.equal(resolveSampler({ kind: 'popularity', alpha: 0.2 }, { itemCount: 201, itemPopularity: COUNTS }).describe(), 'popularity^0.2');
    assert.throws(() => resolveSampler('popularity', { itemCount: 10 }), /item counts/);
    assert.throws(() => resolveSampler('popularity', { itemCount: 10, itemPopularity: COUNTS }), /itemPopularity has 201/);
    assert.throws(() => resolveSampler(uniformSampler(5), { itemCount: 10 }), /covers 5/);
    assert.throws(() => resolveSampler('zipf' as never, { itemCount: 10 }), /unknown sampler/);
    assert.throws(() => popularitySampler(new Float64Array(5), 1), /weight 0/);
  });
});
