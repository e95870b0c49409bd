import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GRU4REC_OFFICIAL_PRESETS, GRU4REC_PRESET_NAMES, presetLoss, presetModel } from '../../src/cli/presets.js';
import { isContextualLoss } from '../../src/losses/index.js';

describe('--preset gru4rec-official-<dataset>', () => {
  it('has one preset per published paramfile', () => {
    assert.deepEqual(
      GRU4REC_PRESET_NAMES.map((n) => n.replace('gru4rec-official-', '')),
      ['coveo', 'diginetica', 'retailrocket', 'rees46', 'rsc15', 'yoochoose'],
    );
  });
  it('diginetica: the values of paramfiles/diginetica_bprmax_shared_best.py', () => {
    const p = GRU4REC_OFFICIAL_PRESETS['gru4rec-official-diginetica'];
    assert.deepEqual(
      [p.loss, p.hidden, p.batchSize, p.dropoutEmbed, p.dropoutHidden, p.learningRate, p.momentum, p.nSample, p.sampleAlpha, p.bpreg, p.elu, p.logq, p.epochs],
      ['bpr-max', 512, 128, 0.5, 0.3, 0.05, 0.15, 2048, 0.3, 0.9, 1, 0, 10],
    );
    assert.deepEqual(presetModel(p), { embeddingDim: 512, hiddenDim: 512, dropout: 0.5, hiddenDropout: 0.3, outputBias: true });
    const loss = presetLoss(p);
    assert.ok(isContextualLoss(loss));
    assert.equal(loss.lossName, 'bpr-max');
    assert.deepEqual(
      { ...loss.settings },
      { inBatch: true, numNegatives: 2048, sampler: { kind: 'popularity', alpha: 0.3 }, removeAccidentalHits: false, bpreg: 0.9, elu: 1 },
    );
  });
  it('retailrocket is ELU 0.5 with BPR-max; the cross-entropy ones use the official logQ form', () => {
    assert.equal(GRU4REC_OFFICIAL_PRESETS['gru4rec-official-retailrocket'].elu, 0.5);
    const loss = presetLoss(GRU4REC_OFFICIAL_PRESETS['gru4rec-official-rsc15']);
    assert.ok(isContextualLoss(loss));
    assert.equal(loss.lossName, 'in-batch');
    assert.equal(loss.settings.logQ, 1);
    assert.equal(loss.settings.logQForm, 'gru4rec');
    assert.equal(loss.settings.removeAccidentalHits, false);
  });
});
