/**
 * Issue #16: Trainer and trainSessionParallel options are strict. A typo'd option is an
 * `invalid_config` error naming it with a did-you-mean hint, bad values name their field, and
 * options of the other training mode are refused instead of ignored.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { SessionSet } from '../../src/data/session-parallel.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import { SeqrecError } from '../../src/errors.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { trainSessionParallel } from '../../src/train/session-parallel.js';
import { Trainer, type TrainerOptions } from '../../src/train/trainer.js';
import { setupBackend } from '../helpers.js';

before(setupBackend);

function configError(field: string, pattern: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof SeqrecError, String(e));
    assert.equal(e.code, 'invalid_config', e.message);
    assert.equal(e.field, field, e.message);
    assert.match(e.message, pattern);
    return true;
  };
}

function sessions(): SessionSet {
  return new SessionSet(
    [
      [1, 2, 3],
      [2, 3],
      [3, 1, 2, 4],
    ],
    ItemVocabulary.fromItems(['a', 'b', 'c', 'd']),
  );
}

describe('Trainer options', () => {
  const model = new GRU4Rec({ itemCount: 10, embeddingDim: 4 });

  it('a typo is an invalid_config with a did-you-mean hint', () => {
    assert.throws(
      () => new Trainer(model, { learningRte: 0.01 } as TrainerOptions),
      configError('learningRte', /unknown option 'learningRte' \(did you mean 'learningRate'\?\)/),
    );
    assert.throws(() => new Trainer(model, { pateince: 3 } as TrainerOptions), configError('pateince', /did you mean 'patience'/));
    // Nested: the callbacks object is strict too.
    assert.throws(
      () => new Trainer(model, { callbacks: { onBatchend: () => {} } } as TrainerOptions),
      configError('callbacks.onBatchend', /did you mean 'onBatchEnd'/),
    );
  });

  it('bad values name the field and the value', () => {
    assert.throws(() => new Trainer(model, { batchSize: 0 }), configError('batchSize', /batchSize: must be an integer >= 1, got 0/));
    assert.throws(() => new Trainer(model, { epochs: 2.5 }), configError('epochs', /must be an integer >= 1, got 2.5/));
    assert.throws(() => new Trainer(model, { learningRate: -1 }), configError('learningRate', /must be a finite number > 0, got -1/));
    assert.throws(() => new Trainer(model, { parallelism: 0 }), configError('parallelism', /'auto' or an integer >= 1/));
    assert.throws(() => new Trainer(model, { itemGradients: 'lazy' as never }), configError('itemGradients', /'auto', 'dense' or 'sparse', got 'lazy'/));
    assert.throws(() => new Trainer(model, { loss: 'bpr-maxx' as never }), configError('loss', /Unknown loss 'bpr-maxx'/));
  });

  it('callbacks may be a class instance whose methods use this', async () => {
    class Counter {
      batches = 0;
      epochs: number[] = [];
      onBatchEnd(): void {
        this.batches++;
      }
      onEpochEnd(r: { epoch: number }): void {
        this.epochs.push(r.epoch);
      }
    }
    const s = sessions();
    const m = new GRU4Rec({ itemCount: s.itemCount, embeddingDim: 4 });
    const counter = new Counter();
    const r = await new Trainer(m, { epochs: 2, batchSize: 2, loss: 'softmax' }).fitSessions(s, { callbacks: counter });
    assert.deepEqual(counter.epochs, [1, 2]);
    assert.equal(counter.batches, r.history[0].steps + r.history[1].steps);
    m.dispose();
  });

  it('options of the other mode are refused', async () => {
    const s = sessions();
    const m = new GRU4Rec({ itemCount: s.itemCount, embeddingDim: 4 });
    await assert.rejects(new Trainer(m, { patience: 2 }).fitSessions(s), configError('patience', /applies to fit \(windowed training\) only/));
    m.dispose();
  });

  it('trainSessionParallel: a typo is an invalid_config with a hint, and momentum is checked', async () => {
    const s = sessions();
    const m = new GRU4Rec({ itemCount: s.itemCount, embeddingDim: 4 });
    await assert.rejects(
      trainSessionParallel(m, s, { momentun: 0.1 } as never),
      configError('momentun', /trainSessionParallel: unknown option 'momentun' \(did you mean 'momentum'\?\)/),
    );
    await assert.rejects(trainSessionParallel(m, s, { momentum: 1 }), configError('momentum', /must be in \[0, 1\), got 1/));
    await assert.rejects(trainSessionParallel(m, s, { optimizer: 'sgd' as never }), configError('optimizer', /'adam' or 'adagrad', got 'sgd'/));
    await assert.rejects(
      trainSessionParallel(m, s, { evaluation: { sessions: s, cutof: [5] } as never }),
      configError('evaluation.cutof', /did you mean 'cutoffs'/),
    );
    m.dispose();
  });
});
