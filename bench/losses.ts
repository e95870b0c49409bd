/**
 * `npm run bench:losses`: the losses issue's benchmark rows.
 *
 *   (a) amazon-beauty (Beauty.txt, ComiRec protocol: users split 8/1/1, 80% history / 20%
 *       targets, maxLen 20): GRU4Rec trained by the Trainer with full softmax, sampled softmax
 *       (popularity^0.75, logQ), BPR-max and TOP1-max (in-batch + 2,048 popularity^0.5 shared
 *       negatives): test recall@50 (and @20, hit rate@50) and training seconds per epoch.
 *       Every loss runs single-threaded (parallelism 1) so the seconds compare losses, not
 *       worker counts.
 *   (b) diginetica (SR-GNN preprocessing, train.txt / test.txt): GRU4Rec with session-parallel
 *       mini-batches and BPR-max, the official GRU4Rec's tuned Diginetica setting where seqrec
 *       has it (batch 128, dropout 0.5 / 0.3, Adagrad lr 0.05 momentum 0.15, 2,048
 *       popularity^0.3 extra negatives, bpreg 0.9, ELU 1, 10 epochs): next-item recall@20 and
 *       MRR@20 over all 60,858 test events, ties 'standard'. The layer size defaults to 128,
 *       not the official 512 (BENCH_B_DIM=512 for the official size; about 4x slower). Next to
 *       it the neighbourhood baselines ItemKNN and SessionKNN (V-SKNN), fitted on the training
 *       sessions and ranked by their own top lists (BENCH_B_MODELS, default
 *       "itemknn,sknn,gru4rec").
 *   (c) sampled-softmax training step at 30,000 vs 1,000,000 items (GRU4Rec, B 256, L 20, D 64,
 *       1,024 popularity^0.75 negatives, logQ), with the Trainer's dense Adam and with the
 *       session-parallel trainer's row-sparse Adagrad, each case in a fresh process: median step
 *       time, the loss's own forward+backward time (scores of the positive and the 1,024 drawn
 *       columns only), peak RSS and the item table's size; full softmax at 30,000 for contrast.
 *       A case that crashes (e.g. the wasm backend's 4 GB heap) is reported as failed.
 *
 * Env: BENCH_QUICK=1 (tiny slices, 1 epoch, 3 steps: proves the script runs, numbers mean
 * nothing), BENCH_PARTS (default "a,b,c"), BENCH_A_EPOCHS (30, early stopping patience 5 on
 * valid recall@50), BENCH_A_DIM (64), BENCH_A_SAMPLES (random targets per train user per epoch,
 * 1 as ComiRec), BENCH_B_EPOCHS (10), BENCH_B_DIM (128), BENCH_STEPS (20),
 * BENCH_OUT (bench/results/losses.json), DATA_DIR (../shared/data).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, useBackend } from '../src/backend/index.js';
import { SequenceDataset } from '../src/data/dataset.js';
import { kCore } from '../src/data/filter.js';
import { loadInteractions } from '../src/data/loaders.js';
import { Random } from '../src/util/random.js';
import { SessionSet, loadSessions } from '../src/data/session-parallel.js';
import { ItemKNN } from '../src/models/knn/item-knn.js';
import { SessionKNN } from '../src/models/knn/session-knn.js';
import { bprMax, resolveLoss, sampledSoftmax, softmaxCrossEntropy, top1Max, type LossFunction } from '../src/losses/index.js';
import { GRU4Rec } from '../src/models/gru4rec.js';
import { evaluateModel } from '../src/train/evaluate.js';
import { AdagradMomentum, evaluateSessionParallel, trainSessionParallel } from '../src/train/session-parallel.js';
import { evaluateSessionsRanked } from '../src/train/session-evaluate.js';
import { AdamStep } from '../src/train/step.js';
import { Trainer } from '../src/train/trainer.js';
import { median } from './stats.js';

const env = process.env;
const quick = env.BENCH_QUICK === '1';
const dataDir = resolve(env.DATA_DIR ?? '../shared/data');
const out = env.BENCH_OUT ?? (quick ? 'bench/results/losses-quick.json' : 'bench/results/losses.json');
const log = (line: string) => process.stderr.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------
// (c) child process: one item count, one loss.
if (process.argv[2] === '--step') {
  const [, , , backend, nArg, lossName, stepsArg, optimizerName = 'adam'] = process.argv;
  await useBackend(backend);
  const n = Number(nArg);
  const steps = Number(stepsArg);
  const b = 256;
  const l = 20;
  const d = 64;
  const rng = new Random(0);
  const model = new GRU4Rec({ itemCount: n + 1, embeddingDim: d, maxLen: l, seed: 0 });
  const counts = Float64Array.from({ length: n + 1 }, (_, i) => (i ? 1e6 / i : 0)); // Zipf popularity
  const lossFn: LossFunction =
    lossName === 'softmax'
      ? softmaxCrossEntropy
      : resolveLoss(sampledSoftmax({ numNegatives: 1024, sampler: { kind: 'popularity', alpha: 0.75 }, logQ: true }), {
          itemCount: n + 1,
          itemPopularity: counts,
        });
  const histories: number[][] = Array.from({ length: b }, () => Array.from({ length: 1 + rng.int(l) }, () => 1 + rng.int(n)));
  const history = new Int32Array(b * l);
  const mask = new Float32Array(b * l);
  const lengths = new Int32Array(b);
  histories.forEach((h, i) => {
    history.set(h, i * l);
    mask.fill(1, i * l, i * l + h.length);
    lengths[i] = h.length;
  });
  const batch = { batchSize: b, maxLen: l, history, mask, lengths, targets: Int32Array.from({ length: b }, () => 1 + rng.int(n)), users: new Int32Array(b) };
  // 'adam-dense': the Trainer's step with the item table as a dense Adam variable.
  // 'adam-sparse': the Trainer's step with row-sparse item gradients and row-wise Adam (its
  // default for sampled losses). 'adagrad': the session-parallel trainer's official Adagrad,
  // row-sparse on the item table.
  const run: () => void =
    optimizerName === 'adagrad'
      ? (() => {
          const opt = new AdagradMomentum(0.05, 0, model.itemEmbeddings() as tf.Variable<tf.Rank.R2>);
          return () => opt.minimize(() => model.loss(batch, lossFn), true, model.trainableVariables()).dispose();
        })()
      : (() => {
          const step = new AdamStep(model, lossFn, { learningRate: 1e-3, itemGradients: optimizerName === 'adam-sparse' ? 'sparse' : 'dense' });
          return () => void step.run(batch);
        })();
  const rssBefore = process.memoryUsage().rss;
  const times: number[] = [];
  for (let i = 0; i < 2 + steps; i++) {
    const t0 = performance.now();
    run();
    if (i >= 2) times.push(performance.now() - t0);
  }
  // The loss alone: forward + backward w.r.t. the user vectors, given the model's table.
  const lossTimes: number[] = [];
  const targets = tf.tensor1d(batch.targets, 'int32');
  for (let i = 0; i < Math.max(3, Math.floor(steps / 2)); i++) {
    const t0 = performance.now();
    tf.tidy(() => {
      const user = tf.randomNormal([b, d]) as tf.Tensor2D;
      const table = model.itemEmbeddings();
      const targetEmbeddings = tf.gather(table, targets) as tf.Tensor2D; // no table gradient needed here
      tf.grad((u: tf.Tensor) => lossFn({ user: u as tf.Tensor2D, items: table, targets, targetIds: batch.targets, targetEmbeddings, rng }))(user).dataSync();
    });
    lossTimes.push(performance.now() - t0);
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  console.log(
    JSON.stringify({
      items: n,
      loss: lossName,
      optimizer: optimizerName,
      steps,
      median_step_ms: +med(times).toFixed(1),
      median_loss_fwd_bwd_ms: +med(lossTimes).toFixed(1),
      table_mb: +(((n + 1) * d * 4) / 2 ** 20).toFixed(1),
      rss_before_training_mb: +(rssBefore / 2 ** 20).toFixed(0),
      peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(0),
    }),
  );
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
const parts = new Set((env.BENCH_PARTS ?? 'a,b,c').split(','));
await initBackend();
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  quick,
  machine: `${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GB`,
  node: process.version,
  backend: tf.getBackend(),
};
const md: string[] = [];
if (quick) md.push('**BENCH_QUICK=1: tiny slices, 1 epoch: the numbers below only prove the script runs.**', '');

// (a) amazon-beauty, ComiRec protocol ------------------------------------------------------------
if (parts.has('a')) {
  const path = join(dataDir, 'amazon-beauty/Beauty.txt');
  const raw = await loadInteractions(path, { format: 'sequence' });
  let sequences = raw.sequences;
  if (quick) sequences = sequences.slice(0, 1500);
  else sequences = kCore(sequences, { minUserInteractions: 5, minItemInteractions: 5 }).sequences; // already 5-core: a no-op check
  const samplesPerUser = Number(env.BENCH_A_SAMPLES ?? 1);
  const dataset = SequenceDataset.fromLog({ sequences, stats: raw.stats }, { protocol: 'comirec', maxLen: 20, seed: 42, splitSeed: 2020, samplesPerUser });
  const desc = dataset.describe();
  log(`(a) ${path}: ${desc.users} users, ${desc.items} items; comirec split ${desc.trainUsers}/${desc.validUsers}/${desc.testUsers}`);
  const epochs = quick ? 1 : Number(env.BENCH_A_EPOCHS ?? 30);
  const dim = Number(env.BENCH_A_DIM ?? (quick ? 16 : 64));
  const losses: { name: string; settings: string; loss: LossFunction | 'softmax' }[] = [
    { name: 'softmax', settings: 'full softmax over all items', loss: 'softmax' },
    {
      name: 'sampled-softmax',
      settings: '1,024 shared popularity^0.75, logQ',
      loss: sampledSoftmax({ numNegatives: 1024, sampler: { kind: 'popularity', alpha: 0.75 }, logQ: true }),
    },
    {
      name: 'bpr-max',
      settings: 'in-batch + 2,048 popularity^0.5, bpreg 1',
      loss: bprMax({ inBatch: true, numNegatives: 2048, sampler: { kind: 'popularity', alpha: 0.5 }, bpreg: 1 }),
    },
    {
      name: 'top1-max',
      settings: 'in-batch + 2,048 popularity^0.5',
      loss: top1Max({ inBatch: true, numNegatives: 2048, sampler: { kind: 'popularity', alpha: 0.5 } }),
    },
  ];
  const rows: Record<string, unknown>[] = [];
  for (const l of losses) {
    const model = new GRU4Rec({ itemCount: dataset.itemCount, embeddingDim: dim, maxLen: 20, seed: 42 });
    const trainer = new Trainer(model, {
      loss: l.loss,
      epochs,
      patience: 5,
      batchSize: 256,
      learningRate: 1e-3,
      parallelism: 1,
      log: (s) => log(`  ${l.name}: ${s}`),
    });
    const fit = await trainer.fit(dataset);
    const test = evaluateModel(model, dataset, 'test');
    // Median over epochs: one slow epoch (another process waking up) does not move it.
    const epochSeconds = fit.history.map((r) => r.trainSeconds);
    const sPerEpoch = median(epochSeconds);
    rows.push({ loss: l.name, settings: l.settings, epochs: fit.history.length, bestEpoch: fit.bestEpoch, secondsPerEpoch: sPerEpoch, epochSeconds, test });
    log(`  ${l.name}: test recall@50 ${test['recall@50'].toFixed(4)}, ${sPerEpoch.toFixed(2)} s/epoch`);
    model.dispose();
  }
  results.a = {
    data: path,
    protocol: 'comirec (8/1/1 users, 80/20 history/targets, maxLen 20)',
    samplesPerUser,
    dim,
    batchSize: 256,
    optimizer: 'adam 1e-3',
    maxEpochs: epochs,
    patience: 5,
    users: desc.users,
    items: desc.items,
    rows,
  };
  md.push(
    `### (a) GRU4Rec on amazon-beauty, ComiRec protocol (D ${dim}, B 256, Adam 1e-3, ${samplesPerUser} random target(s) per train user per epoch, ≤ ${epochs} epochs, patience 5 on valid recall@50, 1 thread)`,
    '',
  );
  md.push('| loss | negatives | test recall@50 | recall@20 | hit rate@50 | s/epoch (median) | epochs (best) |', '|---|---|---|---|---|---|---|');
  for (const r of rows as { loss: string; settings: string; test: Record<string, number>; secondsPerEpoch: number; epochs: number; bestEpoch: number }[]) {
    md.push(
      `| ${r.loss} | ${r.settings} | ${r.test['recall@50'].toFixed(4)} | ${r.test['recall@20'].toFixed(4)} | ${r.test['hitRate@50'].toFixed(4)} | ${r.secondsPerEpoch.toFixed(2)} | ${r.epochs} (${r.bestEpoch}) |`,
    );
  }
  md.push('');
}

// (b) diginetica, session-parallel BPR-max -------------------------------------------------------
if (parts.has('b')) {
  const trainPath = join(dataDir, 'diginetica/train.txt');
  const testPath = join(dataDir, 'diginetica/test.txt');
  let { train, test } = await loadSessions(trainPath, testPath);
  if (quick) {
    // The first 2,000 training and 300 test sessions (test items re-encoded against the slice).
    const slice = (s: SessionSet, n: number) => Array.from({ length: Math.min(n, s.count) }, (_, i) => s.session(i));
    train = new SessionSet(slice(train, 2000), train.vocabulary);
    test = new SessionSet(slice(test!, 300), train.vocabulary);
  }
  const dim = Number(env.BENCH_B_DIM ?? (quick ? 32 : 128));
  const epochs = quick ? 1 : Number(env.BENCH_B_EPOCHS ?? 10);
  const settings = {
    batchSize: 128,
    dropout: 0.5,
    hiddenDropout: 0.3,
    optimizer: 'adagrad' as const,
    learningRate: 0.05,
    momentum: 0.15,
    numNegatives: 2048,
    sampleAlpha: 0.3,
    bpreg: 0.9,
    elu: 1,
    epochs,
    dim,
  };
  log(`(b) ${trainPath}: ${train.count} sessions, ${train.pairs()} training pairs; ${test!.pairs()} test events; ${JSON.stringify(settings)}`);
  const bModels = new Set((env.BENCH_B_MODELS ?? 'itemknn,sknn,gru4rec').split(','));
  const knnRows: string[] = [];
  const baselines = [
    ['itemknn', 'ItemKNN', () => ItemKNN.fit(train)],
    ['sknn', 'SessionKNN (V-SKNN)', () => SessionKNN.fit(train)],
  ] as const;
  for (const [name, label, fitKnn] of baselines.filter(([name]) => bModels.has(name))) {
    const t0 = performance.now();
    const knn = fitKnn();
    const fitSeconds = (performance.now() - t0) / 1000;
    const r = evaluateSessionsRanked(knn, test!, { cutoffs: [5, 10, 20] });
    const evalSeconds = (performance.now() - t0) / 1000 - fitSeconds;
    log(`  ${name}: fit ${fitSeconds.toFixed(1)} s, evaluation ${evalSeconds.toFixed(1)} s, ${JSON.stringify(r)}`);
    results[`b_${name}`] = { config: knn.config, report: r, fitSeconds, evalSeconds };
    const row = [r['recall@20'], r['mrr@20'], r['recall@10'], r['mrr@10']].map((v) => v.toFixed(4)).join(' | ');
    knnRows.push(`| seqrec ${label} ${JSON.stringify(knn.config)} | ${row} | fit ${fitSeconds.toFixed(1)} s |`);
  }
  let gruRow = '';
  if (bModels.has('gru4rec')) {
    const model = new GRU4Rec({
      itemCount: train.itemCount,
      embeddingDim: dim,
      maxLen: 20,
      seed: 42,
      dropout: settings.dropout,
      hiddenDropout: settings.hiddenDropout,
    });
    const fit = await trainSessionParallel(model, train, {
      loss: bprMax({
        inBatch: true,
        numNegatives: settings.numNegatives,
        sampler: { kind: 'popularity', alpha: settings.sampleAlpha },
        bpreg: settings.bpreg,
        elu: settings.elu,
      }),
      batchSize: settings.batchSize,
      epochs,
      optimizer: settings.optimizer,
      learningRate: settings.learningRate,
      momentum: settings.momentum,
      maxStepsPerEpoch: quick ? 40 : undefined,
      log: (s) => log(`  ${s}`),
    });
    const t0 = performance.now();
    const report = evaluateSessionParallel(model, test!, { cutoffs: [5, 10, 20] });
    const evalSeconds = (performance.now() - t0) / 1000;
    const sPerEpoch = median(fit.history.map((r) => r.seconds));
    results.b = { train: trainPath, test: testPath, settings, history: fit.history, report, evalSeconds, secondsPerEpoch: sPerEpoch };
    gruRow = `| seqrec GRU4Rec BPR-max (D ${dim}) | ${report['recall@20'].toFixed(4)} | ${report['mrr@20'].toFixed(4)} | ${report['recall@10'].toFixed(4)} | ${report['mrr@10'].toFixed(4)} | ${sPerEpoch.toFixed(1)} |`;
    model.dispose();
  }
  md.push(`### (b) diginetica (SR-GNN split): GRU4Rec with session-parallel mini-batches and BPR-max, and the neighbourhood baselines`, '');
  md.push(
    `Next item only, ranked against all ${train.itemCount - 1} items, ${test!.pairs()} test events; GRU4Rec ties 'standard', the baselines by their own top lists.`,
  );
  if (gruRow)
    md.push(
      `GRU4Rec settings: ${Object.entries(settings)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}.`,
    );
  md.push('', '| model | recall@20 | MRR@20 | recall@10 | MRR@10 | s/epoch |', '|---|---|---|---|---|---|', ...knnRows, ...(gruRow ? [gruRow] : []));
  md.push('| official GRU4Rec README (its OWN Diginetica split, D 512; not the same test set) | 0.4995 | 0.1542 | 0.3542 | 0.1442 | — |', '');
}

// (c) 30,000 vs 1,000,000 items ----------------------------------------------------------------
if (parts.has('c')) {
  const steps = quick ? 3 : Number(env.BENCH_STEPS ?? 20);
  const backend = tf.getBackend();
  const cases: [number, string, string][] = [
    [30000, 'sampled-softmax', 'adam-sparse'],
    [1000000, 'sampled-softmax', 'adam-sparse'],
    [30000, 'sampled-softmax', 'adagrad'],
    [1000000, 'sampled-softmax', 'adagrad'],
    [30000, 'sampled-softmax', 'adam-dense'],
    [1000000, 'sampled-softmax', 'adam-dense'],
    [30000, 'softmax', 'adam-dense'],
  ];
  const rows: Record<string, number | string>[] = [];
  for (const [n, loss, optimizer] of cases) {
    log(`(c) ${loss}, ${n} items, ${optimizer}, ${steps} steps (fresh process)`);
    try {
      const text = execFileSync(process.execPath, ['--import', 'tsx', 'bench/losses.ts', '--step', backend, String(n), loss, String(steps), optimizer], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 1 << 26,
      });
      rows.push(JSON.parse(text.trim().split('\n').pop()!));
    } catch (err) {
      const e = err as { status?: number; stderr?: string };
      const why = /Aborted|out of memory|RangeError/i.exec(e.stderr ?? '')?.[0] ?? `exit ${e.status}`;
      log(`  failed: ${why}`);
      rows.push({ items: n, loss, optimizer, failed: why });
    }
  }
  results.c = { backend, shape: 'B 256, L 20, D 64', negatives: '1,024 shared popularity^0.75 (Zipf counts), logQ', optimizer: 'per row', rows };
  md.push(
    `### (c) Training step vs catalogue size (GRU4Rec, B 256, L 20, D 64, sampled softmax 1,024 popularity^0.75 + logQ, ${backend}, median of ${steps} steps, fresh process each)`,
    '',
  );
  md.push(
    '| loss | items | optimizer | step ms | loss fwd+bwd ms | item table MB | RSS before training MB | peak RSS MB |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const r of rows) {
    if (r.failed) md.push(`| ${r.loss} | ${Number(r.items).toLocaleString('en-US')} | ${r.optimizer} | failed: ${r.failed} | | | | |`);
    else
      md.push(
        `| ${r.loss} | ${Number(r.items).toLocaleString('en-US')} | ${r.optimizer} | ${r.median_step_ms} | ${r.median_loss_fwd_bwd_ms} | ${r.table_mb} | ${r.rss_before_training_mb} | ${r.peak_rss_mb} |`,
      );
  }
  md.push(
    '',
    "'adam-sparse' is the Trainer's default for sampled losses: the item table's gradient is kept as the rows the batch touched (history, targets, drawn negatives) and the table is updated by row-wise Adam, so nothing in the step is O(items × D). 'adagrad' is the session-parallel trainer's optimizer (official GRU4Rec update, lr 0.05), row-sparse the same way. 'adam-dense' treats the table as one more Adam variable: its gradient is a dense [items, D] array and Adam reads and writes the table and its two moments every step, O(items × D); at 1M items that path can exhaust the wasm backend's 4 GB heap.",
    '',
  );
}

const table = md.join('\n');
process.stdout.write(table + '\n');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ ...results, markdown: table }, null, 2));
log(`wrote ${out}`);
