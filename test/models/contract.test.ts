/**
 * The model contract, checked for every model in the registry: a model enlists by being
 * registered (this file registers one of its own too, as a user would). For each: an unknown
 * config key is refused with a hint, the forward pass is [B, K, D], padding never changes the
 * user vector, getConfig() round-trips through the registry, and save -> load gives identical
 * scores.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { loadModel, saveModel } from '../../src/bundle/checkpoint.js';
import type { SequenceBatch } from '../../src/data/types.js';
import { SeqrecError } from '../../src/errors.js';
import { BaseRecaller } from '../../src/models/base.js';
import { ModelBaseConfigSchema } from '../../src/models/config.js';
import { buildModel, modelFactory, modelNames, registerModel } from '../../src/models/registry.js';
import { Random } from '../../src/util/random.js';
import { batchOf, setupBackend } from '../helpers.js';

/** A config key of its own, so checkpoints of a registered model are checked by its schema, not the built-ins'. */
const ScaledMeanSchema = ModelBaseConfigSchema.extend({ scaleInit: z.number().min(0).default(0.5) });
type ScaledMeanConfig = z.output<typeof ScaledMeanSchema>;

/** Masked mean of the history times a learned per-dimension scale: the smallest model that is not trivial. */
class ScaledMean extends BaseRecaller<ScaledMeanConfig> {
  readonly name = 'contract-scaled-mean';
  readonly numInterests = 1;
  private readonly scale: tf.Variable;
  constructor(private readonly config: ScaledMeanConfig) {
    super(config);
    this.scale = this.addWeight(
      'scale',
      Float32Array.from({ length: config.embeddingDim }, () => config.scaleInit + this.initRng.next()),
      [config.embeddingDim],
    );
  }
  getConfig(): ScaledMeanConfig {
    return { ...this.config };
  }
  userEmbeddings(batch: SequenceBatch): tf.Tensor3D {
    return tf.tidy(() => {
      const { history, mask } = this.toTensors(batch);
      const sum = tf.sum(tf.mul(this.embed(history), tf.expandDims(mask, 2)), 1);
      const mean = tf.div(sum, tf.sum(mask, 1, true));
      return tf.expandDims(tf.mul(mean, this.scale), 1) as tf.Tensor3D;
    });
  }
}
registerModel('contract-scaled-mean', { description: 'test model', configSchema: ScaledMeanSchema, create: (c) => new ScaledMean(c) });

const ITEMS = 12;
const DIM = 4;
const MAXLEN = 5;
const CONFIG = { itemCount: ITEMS, embeddingDim: DIM, maxLen: MAXLEN, seed: 3 };
const HISTORIES = [[1], [2, 3], [4, 5, 6, 7], [8, 9, 10, 11, 1]];

function scores(model: BaseRecaller, batch: SequenceBatch): Float32Array {
  return tf.tidy(() => model.userEmbeddings(batch).dataSync() as Float32Array).slice();
}

/** The batch with every padded slot holding a real item id (mask still 0). */
function withGarbageInPadding(batch: SequenceBatch, rng: Random): SequenceBatch {
  const history = batch.history.slice();
  for (let i = 0; i < history.length; i++) if (batch.mask[i] === 0) history[i] = 1 + rng.int(ITEMS - 1);
  return { ...batch, history };
}

let root: string;
before(async () => {
  await setupBackend();
  root = await mkdtemp(join(tmpdir(), 'seqrec-contract-'));
});
after(() => rm(root, { recursive: true, force: true }));

describe('model contract', () => {
  it('covers every registered model, the one registered here included', () => {
    for (const name of ['gru4rec', 'youtubednn', 'mind', 'comirec-dr', 'comirec-sa', 'contract-scaled-mean']) assert.ok(modelNames().includes(name), name);
  });

  for (const name of modelNames()) {
    describe(name, () => {
      it('refuses an unknown config key with a hint and the field', () => {
        assert.throws(
          () => buildModel(name, { ...CONFIG, embedingDim: 8 }),
          (e: unknown) => e instanceof SeqrecError && e.code === 'invalid_config' && e.field === 'embedingDim' && /did you mean 'embeddingDim'/.test(e.message),
        );
      });

      it('gives [B, K, D] user vectors', () => {
        const model = buildModel(name, CONFIG);
        const out = model.userEmbeddings(batchOf(HISTORIES, MAXLEN));
        assert.deepEqual(out.shape, [HISTORIES.length, model.numInterests, model.embeddingDim]);
        assert.equal(model.embeddingDim, model.itemEmbeddings().shape[1]);
        assert.equal(modelFactory(name).capabilities.multiInterest, model.numInterests > 1);
        out.dispose();
        model.dispose();
      });

      it('padding does not change the user vector', () => {
        const model = buildModel(name, CONFIG);
        const batch = batchOf(HISTORIES, MAXLEN);
        const clean = scores(model, batch);
        // What sits in a padded slot is never read.
        assert.deepEqual(scores(model, withGarbageInPadding(batch, new Random(1))), clean);
        // Each row alone gives what it gave among batch-mates (no leak across rows).
        const per = model.numInterests * model.embeddingDim;
        HISTORIES.forEach((h, row) => {
          const alone = scores(model, batchOf([h], MAXLEN));
          assert.ok(maxDiff(alone, clean.subarray(row * per, (row + 1) * per)) < 1e-6, `row ${row}`);
        });
        model.dispose();
      });

      it('getConfig() parses under the strict schema and rebuilds the same model', () => {
        const model = buildModel(name, CONFIG);
        const config = model.getConfig();
        assert.ok(modelFactory(name).configSchema.safeParse(config).success, JSON.stringify(config));
        const rebuilt = buildModel(name, JSON.parse(JSON.stringify(config)));
        assert.deepEqual(rebuilt.getConfig(), config);
        const batch = batchOf(HISTORIES, MAXLEN);
        assert.deepEqual(scores(rebuilt, batch), scores(model, batch), 'same config and seed, same weights');
        rebuilt.dispose();
        model.dispose();
      });

      it('save -> load gives identical scores', async () => {
        const model = buildModel(name, { ...CONFIG, seed: 11 });
        // Move the weights off their initial values, so a load that rebuilt from the seed would show.
        for (const { variable } of model.namedWeights())
          tf.tidy(() => variable.assign(tf.add(variable, tf.randomUniform(variable.shape, -0.1, 0.1, 'float32', 5))));
        const dir = join(root, name);
        await saveModel(model, dir);
        const loaded = await loadModel(dir);
        assert.equal(loaded.model.name, name);
        assert.deepEqual(loaded.model.getConfig(), model.getConfig());
        const batch = batchOf(HISTORIES, MAXLEN);
        assert.deepEqual(scores(loaded.model, batch), scores(model, batch));
        assert.deepEqual(loaded.model.itemEmbeddings().dataSync(), model.itemEmbeddings().dataSync());
        loaded.model.dispose();
        model.dispose();
      });
    });
  }
});

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
