/**
 * `npm run bench:memory`: tensor count, TF.js bytes, RSS and JS heap over many training steps
 * of every model (full softmax, the Trainer's FusedAdam; SASRec at every position), to show
 * that memory does not grow with training time, on the active path (native kernels where built;
 * SEQREC_NATIVE=0 for the WebAssembly path). Each model runs in this one process, one after the
 * other; a model's rows are printed as soon as it finishes.
 *
 * "flat" means: the same tensor count at every checkpoint after the first step, and RSS at the
 * last step within BENCH_RSS_SLACK_MB (default 16) of RSS at a quarter of the steps.
 * Env: STEPS (1000), B (64), L (20), N (3706), MODELS (all registered).
 */
import * as tf from '@tensorflow/tfjs-core';
import { describeBackend, initBackend } from '../src/backend/index.js';
import { Random } from '../src/util/random.js';
import { buildModel, MODELS } from '../src/models/registry.js';
import { FusedAdam } from '../src/train/fused-adam.js';
import { randomTrainBatch } from '../test/helpers.js';

const env = process.env;
const [steps, b, l, n] = [env.STEPS ?? '1000', env.B ?? '64', env.L ?? '20', env.N ?? '3706'].map(Number);
const slackMb = Number(env.BENCH_RSS_SLACK_MB ?? 16);
const models = (env.MODELS ?? Object.keys(MODELS).join(',')).split(',');
const report = await initBackend();
console.log(`${describeBackend(report)}\nB ${b}, L ${l}, N ${n}, ${steps} steps per model\n`);
const checkpoints = [1, 10, Math.round(steps / 4), Math.round(steps / 2), steps];
let allFlat = true;
for (const name of models) {
  const model = buildModel(name, { itemCount: n + 1, embeddingDim: 64, maxLen: l, seed: 0 });
  const optimizer = new FusedAdam(1e-3);
  const rng = new Random(0);
  const loss = model.defaultTargets === 'every' && model.sequenceLoss ? model.sequenceLoss.bind(model) : model.loss.bind(model);
  const rows: string[] = [`${name}:`, '', '| step | tensors | TF.js MB | RSS MB | JS heap MB |', '|---|---|---|---|---|'];
  const seen: { step: number; tensors: number; rss: number }[] = [];
  for (let step = 1; step <= steps; step++) {
    const batch = randomTrainBatch(rng, b, l, n + 1);
    const cost = optimizer.minimize(() => loss(batch), true, model.trainableVariables());
    cost!.dispose();
    if (checkpoints.includes(step)) {
      const m = tf.memory();
      const mu = process.memoryUsage();
      seen.push({ step, tensors: m.numTensors, rss: mu.rss / 2 ** 20 });
      rows.push(
        `| ${step} | ${m.numTensors} | ${(m.numBytes / 2 ** 20).toFixed(1)} | ${(mu.rss / 2 ** 20).toFixed(0)} | ${(mu.heapUsed / 2 ** 20).toFixed(0)} |`,
      );
    }
  }
  const after = seen.filter((s) => s.step >= 10);
  const sameTensors = after.every((s) => s.tensors === after[0].tensors);
  const quarter = seen.find((s) => s.step === Math.round(steps / 4))!;
  const rssGrowth = seen[seen.length - 1].rss - quarter.rss;
  const flat = sameTensors && rssGrowth <= slackMb;
  allFlat &&= flat;
  rows.push(
    '',
    `flat: ${flat ? 'yes' : 'NO'} (tensors ${sameTensors ? 'constant' : 'growing'} from step 10; RSS ${rssGrowth >= 0 ? '+' : ''}${rssGrowth.toFixed(0)} MB from step ${quarter.step} to ${steps})`,
    '',
  );
  console.log(rows.join('\n'));
  model.dispose();
  optimizer.dispose();
}
if (!allFlat) process.exitCode = 1;
