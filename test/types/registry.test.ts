/**
 * The run-time side of the typed API (test/types/api.types.ts checks the compile-time side):
 * what the type checker refuses is refused at run time too, for callers without types
 * (JavaScript, JSON configs, model.json).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { SeqrecError } from '../../src/errors.js';
import { ModelBaseConfigSchema } from '../../src/models/config.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { MIND } from '../../src/models/mind.js';
import { buildModel, createModel, modelFactory, registerModel } from '../../src/models/registry.js';
import { evaluateRankings } from '../../src/metrics/evaluate.js';
import { setupBackend } from '../helpers.js';

before(setupBackend);

function configError(field: string, message: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof SeqrecError, String(e));
    assert.equal(e.code, 'invalid_config', e.message);
    assert.equal(e.field, field, e.message);
    assert.match(e.message, message);
    return true;
  };
}

describe('typed API at run time', () => {
  it("createModel with a typo'd key throws invalid_config naming the key and the right one", () => {
    const typo = { itemCount: 10, hiddenDimm: 8 } as unknown as { itemCount: number };
    assert.throws(() => createModel('gru4rec', typo), configError('hiddenDimm', /gru4rec config: unknown option 'hiddenDimm' \(did you mean 'hiddenDim'\?\)/));
    assert.throws(() => new GRU4Rec(typo), configError('hiddenDimm', /GRU4Rec config: unknown option 'hiddenDimm' \(did you mean 'hiddenDim'\?\)/));
    // Reported before a bad value elsewhere: the typo is the likelier mistake.
    assert.throws(
      () => new MIND({ itemCount: 1, numInterest: 4 } as unknown as { itemCount: number }),
      configError('numInterest', /did you mean 'numInterests'/),
    );
  });

  it("a typo'd model name is refused with a hint", () => {
    assert.throws(
      () => createModel('gru4rc' as 'gru4rec', { itemCount: 10 }),
      configError('model', /Unknown model 'gru4rc' \(did you mean 'gru4rec'\?\)\. Should be one of: gru4rec, youtubednn, mind, comirec-dr, comirec-sa/),
    );
    assert.throws(() => buildModel('constructor', { itemCount: 10 }), configError('model', /Unknown model 'constructor'/));
  });

  it('a bad value keeps the wording and the field of the hand-written checks', () => {
    assert.throws(() => new GRU4Rec({ itemCount: 10, dropout: 1 }), configError('dropout', /^GRU4Rec: dropout must be in \[0, 1\), got 1$/));
    assert.throws(
      () => new GRU4Rec({ itemCount: 10, recurrence: 'cudnn' as 'ops' }),
      configError('recurrence', /^GRU4Rec: recurrence must be 'fused' or 'ops', got cudnn$/),
    );
    assert.throws(
      () => new MIND({ itemCount: 10, reluLayer: 'yes' as unknown as boolean }),
      configError('reluLayer', /^MIND: reluLayer must be a boolean, got yes$/),
    );
    assert.throws(
      () => buildModel('comirec-sa', { itemCount: 10, positionEmbeddings: false, valuesWithPositions: true }),
      configError('valuesWithPositions', /false when positionEmbeddings is false/),
    );
  });

  it('defaults come from the schema, derived ones included', () => {
    const gru = new GRU4Rec({ itemCount: 10, embeddingDim: 8 });
    assert.deepEqual(gru.getConfig(), {
      itemCount: 10,
      embeddingDim: 8,
      maxLen: 20,
      seed: 42,
      numLayers: 1,
      hiddenDim: 8,
      recurrence: 'fused',
      dropout: 0,
      hiddenDropout: 0,
      outputBias: false,
    });
    gru.dispose();
    const sa = buildModel('comirec-sa', { itemCount: 10, embeddingDim: 8, seed: 3 });
    assert.equal((sa.getConfig() as { attentionDim?: number }).attentionDim, 32);
    sa.dispose();
    const mind = new MIND({ itemCount: 10, embeddingDim: 4, seed: 9 });
    assert.equal(mind.getConfig().inferenceSeed, 9);
    mind.dispose();
  });

  it('registerModel refuses a taken or malformed name; capabilities default to false', () => {
    const def = { description: 'x', configSchema: ModelBaseConfigSchema, create: () => new GRU4Rec({ itemCount: 10 }) };
    assert.throws(
      () => registerModel('gru4rec', def),
      (e: unknown) => e instanceof SeqrecError && e.code === 'invalid_argument' && /already registered/.test(e.message),
    );
    assert.throws(
      () => registerModel('Bad Name', def),
      (e: unknown) => e instanceof SeqrecError && e.field === 'name',
    );
    const entry = registerModel('types-test-model', def);
    assert.deepEqual(entry.capabilities, { multiInterest: false, routing: false });
    assert.equal(modelFactory('types-test-model'), entry);
    assert.deepEqual(modelFactory('mind').capabilities, { multiInterest: true, routing: true });
    assert.deepEqual(modelFactory('comirec-sa').capabilities, { multiInterest: true, routing: false });
  });

  it('metric report keys are unchanged at run time', () => {
    const report = evaluateRankings([[3, 1, 2]], [[1]], { ns: [1, 2], metrics: ['recall', 'mrr'] });
    assert.deepEqual(report, { 'recall@1': 0, 'recall@2': 1, 'mrr@1': 0, 'mrr@2': 0.5, users: 1 });
  });
});
