/**
 * Issue #14 item 10: a model too large for memory (or an absurd embeddingDim) is refused with
 * an `invalid_config` error naming the field and the sizes, before anything is allocated,
 * instead of `RangeError: Invalid typed array length`.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { runTrain } from '../../src/cli/commands/train.js';
import type { StringFlags as CliFlags } from '../../src/cli/flags.js';
import { MAX_WINDOW_LENGTH, resolveDatasetOptions } from '../../src/data/dataset-options.js';
import { SeqrecError } from '../../src/errors.js';
import { estimateModelBytes, MAX_EMBEDDING_DIM, modelMemoryLimit } from '../../src/models/size.js';
import { createLoss } from '../../src/losses/index.js';
import type { ContextualLoss } from '../../src/losses/types.js';
import { ComiRecDR } from '../../src/models/comirec-dr.js';
import { ComiRecSA } from '../../src/models/comirec-sa.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { createModel } from '../../src/models/registry.js';
import { setupBackend } from '../helpers.js';

before(setupBackend);

function configError(field: string, pattern: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof SeqrecError, `expected a SeqrecError, got ${String(e)}`);
    assert.equal(e.code, 'invalid_config', e.message);
    assert.equal(e.field, field, e.message);
    assert.match(e.message, pattern);
    return true;
  };
}

describe('model size checks', () => {
  it('embeddingDim 1e9 is refused by validation, with the limit', () => {
    assert.throws(
      () => new GRU4Rec({ itemCount: 1350, embeddingDim: 1e9 }),
      configError('embeddingDim', new RegExp(`embeddingDim must be an integer in \\[1, ${MAX_EMBEDDING_DIM}\\], got 1000000000`)),
    );
    assert.throws(() => new GRU4Rec({ itemCount: 1350, embeddingDim: 64.5 }), configError('embeddingDim', /got 64\.5/));
  });

  it('a GRU with hiddenDim 40000 is refused with its size in GB against the limit', () => {
    assert.throws(
      () => new GRU4Rec({ itemCount: 1350, embeddingDim: 64, hiddenDim: 40000 }),
      configError('hiddenDim', /GRU4Rec: the model needs about \d+(\.\d)? GB .*hiddenDim 40000.*more than the \d+(\.\d)? GB/),
    );
  });

  it('an item table of 2e8 rows x 64 is refused, naming itemCount and embeddingDim', () => {
    assert.throws(() => createModel('youtubednn', { itemCount: 2e8, embeddingDim: 64 }), configError('itemCount', /item table 200000000 x 64/));
  });

  it("ComiRec-DR's per-position maps count too", () => {
    assert.throws(
      () => new ComiRecDR({ itemCount: 100, embeddingDim: 8192, maxLen: 20, numInterests: 4 }),
      configError('embeddingDim', /maps 20 x 8192 x 4 x 8192/),
    );
  });

  it('maxLen 1e9 is refused by the dataset and the model, naming the limit (no batch of 1e9 x batchSize)', () => {
    assert.throws(
      () => resolveDatasetOptions({ maxLen: 1e9 }),
      (e: unknown) => e instanceof SeqrecError && e.field === 'maxLen' && new RegExp(`at most ${MAX_WINDOW_LENGTH}`).test(e.message),
    );
    assert.throws(() => new GRU4Rec({ itemCount: 100, embeddingDim: 8, maxLen: 1e9 }), configError('maxLen', /an integer in \[1, 10000\], got 1000000000/));
    assert.equal(resolveDatasetOptions({ maxLen: MAX_WINDOW_LENGTH }).maxLen, MAX_WINDOW_LENGTH);
  });

  it('sizes that fit are accepted, and the estimate counts Adam twice', () => {
    const model = new GRU4Rec({ itemCount: 1000, embeddingDim: 32 });
    const params = model.trainableVariables().reduce((n, v) => n + v.size, 0);
    // 4 bytes for the weight and 8 for Adam's two moments.
    assert.equal(estimateModelBytes(model.getConfig()).bytes, params * 12);
    assert.ok(modelMemoryLimit().bytes > 100 * 2 ** 20);
    model.dispose();
  });

  it('seqrec train --dim 1e9 fails on --dim before reading the data', async () => {
    const flags = { data: '/nonexistent/file.txt', dim: '1e9' } as CliFlags;
    await assert.rejects(
      runTrain(flags, () => {}),
      (e: unknown) => {
        assert.ok(e instanceof SeqrecError, String(e));
        assert.equal(e.field, 'dim', e.message);
        assert.match(e.message, /--dim/);
        return true;
      },
    );
  });
});

describe('other sizes a typo can blow up (found by bench:audit)', () => {
  it('samplesPerUser, numInterests and the number of negatives have upper bounds with clear errors', () => {
    assert.throws(
      () => resolveDatasetOptions({ samplesPerUser: 1e9 }),
      (e: unknown) => e instanceof SeqrecError && e.field === 'samplesPerUser' && /at most 10000/.test(e.message),
    );
    assert.throws(
      () => new ComiRecSA({ itemCount: 50, embeddingDim: 8, numInterests: 1e6 }),
      configError('numInterests', /an integer in \[1, 256\], got 1000000/),
    );
    const ctx = { itemCount: 50, itemPopularity: new Float64Array(50).fill(1) };
    const sampled = createLoss('sampled-softmax', { numNegatives: 1e9, sampler: 'uniform' }) as ContextualLoss;
    assert.throws(
      () => sampled.withContext(ctx),
      (e: unknown) => e instanceof SeqrecError && e.field === 'numNegatives' && /\[0, 1000000\]/.test(e.message),
    );
    const comirec = createLoss('comirec-sampled', { negativesPerRow: 1e6 }) as ContextualLoss;
    assert.throws(
      () => comirec.withContext(ctx),
      (e: unknown) => e instanceof SeqrecError && e.field === 'negativesPerRow' && /\[0, 4096\]/.test(e.message),
    );
  });
});
