/**
 * `seqrec demo`: the whole pipeline on the embedded synthetic dataset, no download —
 * generate, split, train GRU4Rec, compare with MostPopular, show recommendations.
 */
import { SequenceDataset } from '../../data/dataset.js';
import { generateSynthetic } from '../../data/synthetic.js';
import { GRU4Rec } from '../../models/gru4rec.js';
import { ExactRetriever } from '../../retrieval/exact.js';
import { evaluatePopularity, itemMatrix, userMatrix } from '../../train/evaluate.js';
import { Trainer } from '../../train/trainer.js';
import { defineCommand, type Log } from '../command.js';
import { int, type FlagValues } from '../flags.js';
import { cliProgress, evaluateWithProgress, trainingProgress } from '../progress.js';
import { BACKEND_FLAGS } from '../shared-flags.js';
import { metricTable } from '../table.js';

const KEYS = ['recall@20', 'ndcg@20', 'hitRate@20', 'recall@50', 'ndcg@50', 'hitRate@50'];

const DEMO_FLAGS = {
  epochs: int('maximum epochs', { min: 1, default: 20 }),
  seed: int('seed of the synthetic data and the model', { min: 0, default: 42 }),
  ...BACKEND_FLAGS,
} as const;

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'train GRU4Rec on the embedded synthetic dataset and compare it with MostPopular',
  flags: DEMO_FLAGS,
  backend: true,
  run: runDemo,
});

async function runDemo(flags: FlagValues<typeof DEMO_FLAGS>, log: Log): Promise<void> {
  const { seed, epochs } = flags;
  const log0 = generateSynthetic({ seed });
  // 4 samples per user per epoch: one random cut per user (the tutorial's recipe) learns
  // little more than popularity in a few epochs.
  const dataset = SequenceDataset.fromLog(log0, { maxLen: 20, samplesPerUser: 4, seed, splitSeed: 2020 });
  const d = dataset.describe();
  log(`synthetic data: ${d.users} users, ${d.items} items, ${d.interactions} interactions; split ${d.trainUsers}/${d.validUsers}/${d.testUsers} users`);

  const model = new GRU4Rec({ itemCount: dataset.itemCount, embeddingDim: 64, maxLen: 20, seed });
  const trainer = new Trainer(model, {
    epochs,
    patience: 3,
    batchSize: 256,
    learningRate: 3e-3,
    log,
    callbacks: trainingProgress(cliProgress(), {
      epochs,
      stepsPerEpoch: Math.ceil(dataset.trainSamplesPerEpoch() / 256),
      validUsers: dataset.validUsers.length,
    }),
  });
  const fit = await trainer.fit(dataset);
  const rows = [
    { name: 'GRU4Rec valid', report: fit.bestValid },
    { name: 'MostPopular valid', report: evaluatePopularity(dataset, 'valid') },
    { name: 'GRU4Rec test', report: evaluateWithProgress(cliProgress(), model, dataset, 'test') },
    { name: 'MostPopular test', report: evaluatePopularity(dataset, 'test') },
  ];
  const out: string[] = [];
  out.push(`\nGRU4Rec on the synthetic default (best epoch ${fit.bestEpoch}/${fit.history.length}, ${fit.seconds.toFixed(0)} s):`);
  out.push(metricTable(rows, KEYS));
  const lift = rows[2].report['recall@50'] / rows[3].report['recall@50'];
  out.push(`test recall@50: GRU4Rec is ${lift.toFixed(2)}x MostPopular`);

  // Top-10 for the first test user, its history left out (as `seqrec recommend` and the API do).
  const batch = dataset.evalBatches('test', 1).next().value!;
  const vocab = dataset.vocabulary;
  const history = [...batch.history.subarray(0, batch.lengths[0])];
  const retriever = new ExactRetriever(itemMatrix(model), model.embeddingDim);
  const result = retriever.search(userMatrix(model, batch), { k: 10, exclude: [history] });
  const targets = new Set(batch.targets[0]);
  const top = [...result.ids].filter((i) => i > 0);
  const hits = top.filter((i) => targets.has(i)).length;
  out.push(
    `\nsample test user: last items ${history
      .slice(-8)
      .map((i) => vocab.decode(i))
      .join(' ')}`,
  );
  out.push(`top-10 next items, * = a hit (in the user's held-out future): ${hits} of ${top.length}`);
  out.push('  ' + top.map((i) => `${vocab.decode(i)}${targets.has(i) ? '*' : ''}`).join(' '));
  process.stdout.write(out.join('\n') + '\n');
  retriever.dispose();
  model.dispose();
}
