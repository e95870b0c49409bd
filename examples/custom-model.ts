/**
 * A model of your own on seqrec's model interface: extend `BaseRecaller`, create weights with
 * `addWeight`, and implement `userEmbeddings` (a batch of right-padded histories -> user vectors
 * [B, 1, D] in the item-embedding space). Register it with `registerModel` and it is a model
 * like the built-in ones: the Trainer, the losses, evaluation and retrieval work unchanged, and
 * it saves, loads (`loadModel` rebuilds models by their registered name), exports as a bundle
 * and is served by `createServer` / `seqrec serve`.
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
 * In your own project: import from 'seqrec' (and 'seqrec/serve') and '@tensorflow/tfjs-core' (seqrec's TF.js), and
 * write `declare module 'seqrec'` below.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  BaseRecaller,
  ModelBaseConfigSchema,
  Random,
  SequenceDataset,
  Trainer,
  createModel,
  evaluateModel,
  evaluatePopularity,
  generateSynthetic,
  initBackend,
  loadModel,
  registerModel,
  saveModel,
  type ModelBaseConfig,
  type ModelBaseOptions,
  type SequenceBatch,
} from '../src/index.js';
import { Recommender, createServer, exportBundle } from '../src/serve/index.js';

// Tells the type checker the new name and its options, so createModel('attention-pooling', ...)
// is checked like a built-in model.
declare module '../src/index.js' {
  interface ModelConfigs {
    'attention-pooling': ModelBaseOptions;
  }
}

/** Glorot-uniform initial values from a seeded stream (TF's default initialiser). */
function glorot(rng: Random, rows: number, cols: number): Float32Array {
  const limit = Math.sqrt(6 / (rows + cols));
  return Float32Array.from({ length: rows * cols }, () => (rng.next() * 2 - 1) * limit);
}

/** The config: seqrec's base fields (itemCount, embeddingDim, maxLen, seed); strict, so a typo is an error. */
const AttentionPoolingConfigSchema = ModelBaseConfigSchema;

class AttentionPooling extends BaseRecaller<ModelBaseConfig> {
  readonly name = 'attention-pooling';
  readonly numInterests = 1;
  private readonly config: ModelBaseConfig;
  private readonly w: tf.Variable;
  private readonly positions: tf.Variable;
  private readonly query: tf.Variable;
  private readonly v: tf.Variable;

  constructor(config: ModelBaseConfig) {
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

registerModel('attention-pooling', {
  description: 'Attention pooling over the history plus the last item',
  configSchema: AttentionPoolingConfigSchema,
  create: (config) => new AttentionPooling(config),
});

const quick = process.env.EXAMPLE_QUICK === '1';
await initBackend();
const data = SequenceDataset.fromLog(generateSynthetic({ numUsers: quick ? 400 : 2000, numItems: quick ? 300 : 1000, seed: 5 }), {
  maxLen: 20,
  samplesPerUser: 4,
  seed: 5,
});
const model = createModel('attention-pooling', { itemCount: data.itemCount, embeddingDim: 32, maxLen: 20, seed: 5 });
console.log(
  `custom model '${model.name}': ${model.trainableVariables().length} weights, ${model.trainableVariables().reduce((n, v) => n + v.size, 0)} parameters`,
);
// parallelism: 1 -- the data-parallel trainer rebuilds the model in worker threads, whose
// registry holds only seqrec's own models.
const fit = await new Trainer(model, { epochs: quick ? 1 : 15, patience: 3, learningRate: 3e-3, parallelism: 1, log: console.log }).fit(data);
const test = evaluateModel(model, data, 'test');
const popular = evaluatePopularity(data, 'test');
console.log(`attention pooling, best epoch ${fit.bestEpoch}: test recall@50 ${test['recall@50'].toFixed(4)}, MostPopular ${popular['recall@50'].toFixed(4)}`);

const root = await mkdtemp(join(tmpdir(), 'seqrec-custom-'));
try {
  // Save and load: loadModel finds 'attention-pooling' in the registry.
  await saveModel(model, join(root, 'checkpoint'), { vocabulary: data.vocabulary });
  const loaded = await loadModel(join(root, 'checkpoint'));
  const again = evaluateModel(loaded.model, data, 'test');
  console.log(
    `reloaded ${loaded.model.name}: test recall@50 ${again['recall@50'].toFixed(4)} (${again['recall@50'] === test['recall@50'] ? 'identical' : 'DIFFERENT'})`,
  );
  loaded.model.dispose();

  // A serving bundle, answered over HTTP by seqrec's server (what `seqrec serve --model DIR` runs).
  const bundle = join(root, 'bundle');
  await exportBundle(model, bundle, { vocabulary: data.vocabulary, popularity: data.itemPopularity(), popularitySource: 'synthetic training users' });
  const recommender = await Recommender.load(bundle);
  const app = await createServer(recommender);
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const history = [1, 2, 3].map((i) => data.vocabulary.decode(i));
    const res = await fetch(`${address}/recommend`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ history, k: 5 }),
    });
    const body = (await res.json()) as { items: { id: string; score: number }[] };
    console.log(`POST /recommend -> ${res.status}, ${body.items.length} items: ${body.items.map((it) => it.id).join(', ')}`);
  } finally {
    await app.close();
    recommender.dispose();
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
model.dispose();
