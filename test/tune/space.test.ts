/**
 * The search space and the successive-halving schedule of `seqrec tune`: budgets and survivor
 * counts by hand, draws within bounds and repeatable per (seed, trial), bad spaces named.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configArgs, halvingRungs, parseSpace, sampleConfig } from '../../src/tune/space.js';

describe('tune space', () => {
  it('halving rungs: budgets times eta up to the maximum, survivors divided by eta', () => {
    assert.deepEqual(halvingRungs(20, 3, 30), [
      { epochs: 3, trials: 20 },
      { epochs: 9, trials: 7 },
      { epochs: 30, trials: 3 },
    ]);
    assert.deepEqual(halvingRungs(4, 1, 3), [
      { epochs: 1, trials: 4 },
      { epochs: 3, trials: 2 },
    ]);
    // One configuration: a single rung with the whole budget.
    assert.deepEqual(halvingRungs(1, 2, 10), [{ epochs: 10, trials: 1 }]);
    assert.throws(() => halvingRungs(5, 10, 3), /--min-epochs 10 exceeds --epochs 3/);
  });
  it('draws stay in bounds, repeat for the same seed and trial, differ across trials', () => {
    const space = parseSpace(
      { lr: { log: [1e-4, 1e-2] }, dropout: { uniform: [0, 0.5] }, dim: [16, 32, 64], batch: { int: [32, 40] } },
      ['lr', 'dropout', 'dim', 'batch'],
      's.json',
    );
    const draws = Array.from({ length: 200 }, (_, t) => sampleConfig(space, 7, t));
    for (const d of draws) {
      assert.ok((d.lr as number) >= 1e-4 && (d.lr as number) <= 1e-2);
      assert.ok((d.dropout as number) >= 0 && (d.dropout as number) < 0.5);
      assert.ok([16, 32, 64].includes(d.dim as number));
      assert.ok(Number.isInteger(d.batch) && (d.batch as number) >= 32 && (d.batch as number) <= 40);
    }
    assert.deepEqual(sampleConfig(space, 7, 3), draws[3]);
    assert.notDeepEqual(sampleConfig(space, 8, 3), draws[3]);
    assert.equal(new Set(draws.map((d) => d.lr)).size, 200);
    // Log-uniform: about half the draws below the geometric mean 1e-3.
    const below = draws.filter((d) => (d.lr as number) < 1e-3).length;
    assert.ok(below > 70 && below < 130, `${below} of 200 below 1e-3`);
    assert.deepEqual(configArgs({ lr: 0.01, dim: 32, 'skip-malformed': true }), ['--lr', '0.01', '--dim', '32', '--skip-malformed']);
  });
  it('a bad space is an error naming the key', () => {
    assert.throws(() => parseSpace({ lrr: [1] }, ['lr'], 's.json'), /s\.json: 'lrr' is not a flag a trial can set/);
    assert.throws(() => parseSpace({ lr: { log: [0, 1] } }, ['lr'], 's.json'), /s\.json: lr.*log bounds must be > 0/);
    assert.throws(() => parseSpace({}, ['lr'], 's.json'), /no parameters/);
  });
});
