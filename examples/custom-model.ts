/**
 * A model of your own on seqrec's model interface: extend `BaseRecaller`, create weights with
 * `addWeight`, and implement `userEmbeddings` (a batch of right-padded histories -> user vectors
 * [B, 1, D] in the item-embedding space). The Trainer, the losses, evaluation and retrieval then
 * work unchanged.
 *
 * The model here is attention pooling with a recency boost:
 *
 *   h_i = tanh(e_i W + p_i)              e_i item embedding, p_i learned position embedding
 *   a   = softmax_i(h_i · q)              over the real items of the window (padding masked)
 *   u   = (Σ_i a_i e_i) V + e_last       attention summary, projected, plus the last item
 *
 *   node --import tsx examples/custom-model.ts
 *
 * EXAMPLE_QUICK=1: small data, one epoch (used by the test of the examples).
 * In your own project: import from 'seqrec' and '@tensorflow/tfjs-core' (seqrec's TF.js).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  BaseRecaller,
  Random,
  SequenceDataset,
  Trainer,
  evaluateModel,
  evaluatePopularity,
  generateSynthetic,
  initBackend,
  type ModelBaseConfig,
  type SequenceBatch,
} from '../src/index.js';

/** Glorot-uniform initial values from a seeded stream (TF's default initialiser). */
function glorot(rng: Random, rows: number, cols: number): Float32Array {
  const limit = Math.sqrt(6 / (rows + cols));
  return Float32Array.from({ length: rows * cols }, () => (rng.next() * 2 - 1) * limit);
}

class AttentionPooling extends BaseRecaller {
  readonly name = 'attention-pooling';
  readonly numInterests = 1;
  private readonly config: ModelBaseConfig;
  private readonly w: tf.Variable;
  private readonly positions: tf.Variable;
  private readonly query: tf.Variable;
  private readonly v: tf.Variable;

  constructor(options: Partial<ModelBaseConfig> & { itemCount: number }) {
    const config: ModelBaseConfig = { embeddingDim: 64, maxLen: 20, seed: 42, ...options };
    super(config);
    this.config = config;
    const d = config.embeddingDim;
    // Weights are created in a fixed order from `initRng`, so the same seed gives the same model.
    this.w = this.addWeight('attention/w', glorot(this.initRng, d, d), [d, d]);
    this.positions = this.addWeight('attention/positions', glorot(this.initRng, config.maxLen, d), [config.maxLen, d]);
    this.query = this.addWeight('attention/query', glorot(this.initRng, d, 1), [d, 1]);
    this.v = this.addWeight('output/v', glorot(this.initRng, d, d), [d, d]);
  }

  getConfig(): ModelBaseConfig {
    return { ...this.config };
  }

  userEmbeddings(batch: SequenceBatch): tf.Tensor3D {
    return tf.tidy(() => {
      const { history, mask } = this.toTensors(batch); // [B, L] int32 item indices, [B, L] float32 1 = real item
      const b = batch.batchSize;
      const l = batch.maxLen;
      const d = this.embeddingDim;
      const e = this.embed(history) as tf.Tensor3D; // [B, L, D]; sparse gradient into the item table
      const p = tf.slice(this.positions, [0, 0], [l, d]);
      const h = tf.tanh(tf.add(tf.reshape(tf.matMul(tf.reshape(e, [b * l, d]), this.w), [b, l, d]), p));
      const logits = tf.reshape(tf.matMul(tf.reshape(h, [b * l, d]), this.query), [b, l]);
      const masked = tf.add(logits, tf.mul(tf.sub(1, mask), -1e9)); // padding -> weight 0
      const a = tf.softmax(masked); // [B, L]
      const summary = tf.squeeze(tf.matMul(tf.expandDims(a, 1), e), [1]); // [B, D]
      // The last real item of each right-padded row is at position length-1.
      // (A one-hot weighting rather than tf.gather: gather's gradient has no WebAssembly kernel.)
      const onehot = new Float32Array(b * l);
      batch.lengths.forEach((len, row) => (onehot[row * l + len - 1] = 1));
      const last = tf.squeeze(tf.matMul(tf.tensor3d(onehot, [b, 1, l]), e), [1]); // [B, D]
      return tf.expandDims(tf.add(tf.matMul(summary, this.v), last), 1) as tf.Tensor3D;
    });
  }
}

const quick = process.env.EXAMPLE_QUICK === '1';
await initBackend();
const data = SequenceDataset.fromLog(generateSynthetic({ numUsers: quick ? 400 : 2000, numItems: quick ? 300 : 1000, seed: 5 }), {
  maxLen: 20,
  samplesPerUser: 4,
  seed: 5,
});
const model = new AttentionPooling({ itemCount: data.itemCount, embeddingDim: 32, maxLen: 20, seed: 5 });
console.log(`custom model '${model.name}': ${model.trainableVariables().length} weights, ${model.trainableVariables().reduce((n, v) => n + v.size, 0)} parameters`);
// parallelism: 1 -- the data-parallel trainer rebuilds the model in worker threads from the
// model registry, which knows only seqrec's own models.
const fit = await new Trainer(model, { epochs: quick ? 1 : 15, patience: 3, learningRate: 3e-3, parallelism: 1, log: console.log }).fit(data);
const test = evaluateModel(model, data, 'test');
const popular = evaluatePopularity(data, 'test');
console.log(`attention pooling, best epoch ${fit.bestEpoch}: test recall@50 ${test['recall@50'].toFixed(4)}, MostPopular ${popular['recall@50'].toFixed(4)}`);
// Note: saveModel works for any BaseRecaller, but loadModel rebuilds models by registry name,
// so a custom model is restored with `new AttentionPooling(config)` + `setNamedWeights(...)`.
model.dispose();
