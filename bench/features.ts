/**
 * `npm run bench:features`: GRU4Rec with and without item features on amazon-beauty (issue #20
 * part 3, docs/models/features.md), overall and on the tail: test cases whose target item has
 * at most TAIL (5) training events.
 *
 * Protocol: section 4's GRU4Rec leave-one-out row of docs/benchmarks.md (and `npm run
 * bench:warm`'s cold run): leave-one-out, history items filtered, every-position training, full
 * softmax, batch 128, max-len 50, patience 5 on valid recall@50, best weights tested. Each run is
 * a `seqrec train` child (same seed, same split) writing a bundle; this process then loads each
 * bundle with the data settings it records and ranks the test users once, splitting the
 * metrics by the target's training count. Rows are appended to <BENCH_OUT>/runs.jsonl and the
 * table rewritten after each run, so a stopped benchmark keeps the finished rows.
 *
 * Env: DATA (../shared/data/amazon-beauty/Beauty.txt), FEATURES (Beauty_item2attributes.json
 * next to it), BENCH_OUT (runs/features), BENCH_EPOCHS (40), BENCH_MAX_MINUTES (per run, 16),
 * BENCH_RUNS ("none,simultaneous,interleaving"; also "parallel-simultaneous" and
 * "parallel-interleaving": --feature-architecture parallel with that strategy), TAIL (5).
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/backend/index.js';
import { loadBundle } from '../src/bundle/bundle.js';
import { buildDataset, type DataSettings } from '../src/cli/dataset.js';
import { MetricAccumulator } from '../src/metrics/index.js';
import { rankUsers } from '../src/train/evaluate.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const env = process.env;
const data = resolve(env.DATA ?? join(ROOT, '../shared/data/amazon-beauty/Beauty.txt'));
const features = resolve(env.FEATURES ?? join(dirname(data), 'Beauty_item2attributes.json'));
const out = resolve(env.BENCH_OUT ?? join(ROOT, 'runs/features'));
const epochs = env.BENCH_EPOCHS ?? '40';
const maxMinutes = env.BENCH_MAX_MINUTES ?? '16';
const runs = (env.BENCH_RUNS ?? 'none,simultaneous,interleaving').split(',');
const tail = Number(env.TAIL ?? 5);

if (!existsSync(data) || !existsSync(features)) {
  process.stdout.write(`bench:features: skipped, ${!existsSync(data) ? data : features} is not there\n`);
  process.exit(0);
}
mkdirSync(out, { recursive: true });

const FLAGS = ['--format', 'sequence', '--protocol', 'loo', '--model', 'gru4rec', '--max-len', '50', '--targets', 'every', '--batch', '128'];
const FLAGS_RUN = ['--epochs', epochs, '--patience', '5', '--exclude', 'history', '--max-minutes', maxMinutes, '--runs-dir', 'none'];
const trainJsonl = join(out, 'train.jsonl');
const rowsJsonl = join(out, 'runs.jsonl');
const NS = [10, 50];

interface Row {
  run: string;
  command: string;
  epochs: number;
  bestEpoch: number;
  stoppedBy: string;
  secondsPerEpoch: number;
  all: { cases: number; recall50: number; ndcg10: number };
  tail: { cases: number; recall50: number; ndcg10: number };
  head: { cases: number; recall50: number; ndcg10: number };
}

async function measure(run: string): Promise<Row> {
  const dir = join(out, run);
  // 'simultaneous' | 'interleaving' (shared architecture) or 'parallel-simultaneous' | 'parallel-interleaving' (p-RNN).
  const [architecture, strategy] = run.startsWith('parallel-') ? ['parallel', run.slice('parallel-'.length)] : [null, run];
  const extra =
    run === 'none' ? [] : ['--item-features', features, '--feature-strategy', strategy, ...(architecture ? ['--feature-architecture', architecture] : [])];
  const args = [
    '--import',
    'tsx',
    join(ROOT, 'src/cli/main.ts'),
    'train',
    '--data',
    data,
    ...FLAGS,
    ...FLAGS_RUN,
    ...extra,
    '--json',
    trainJsonl,
    '--out',
    dir,
    '--force',
  ];
  const command = `seqrec ${args.slice(3).join(' ')}`;
  process.stderr.write(`\n=== ${run}: ${command}\n`);
  execFileSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { ...env, SEQREC_PROGRESS: 'plain' } });

  const bundle = await loadBundle(dir);
  const meta = bundle.meta as { settings: DataSettings; bestEpoch: number };
  const dataset = await buildDataset(meta.settings, (m) => process.stderr.write(`${m}\n`));
  const counts = dataset.itemPopularity(); // training events per item (leave-one-out: all but the last two of each user)
  const acc = { all: new MetricAccumulator({ ns: NS }), tail: new MetricAccumulator({ ns: NS }), head: new MetricAccumulator({ ns: NS }) };
  rankUsers(bundle.model, dataset, 'test', { ns: NS, exclude: 'history', retrieval: 'exact' }, (batch, ranked) => {
    for (let b = 0; b < batch.batchSize; b++) {
      const ids = ranked.ids.subarray(b * ranked.k, (b + 1) * ranked.k);
      const targets = batch.targets[b];
      acc.all.addUser(ids, targets);
      // Leave-one-out has one target per test user.
      (counts[targets[0]] <= tail ? acc.tail : acc.head).addUser(ids, targets);
    }
  });
  bundle.model.dispose();
  const summary = (a: MetricAccumulator) => {
    const r = a.result() as unknown as Record<string, number>;
    return { cases: a.users, recall50: r['recall@50'], ndcg10: r['ndcg@10'] };
  };
  const { readFileSync } = await import('node:fs');
  const train = JSON.parse(readFileSync(trainJsonl, 'utf8').trim().split('\n').at(-1)!) as Record<string, unknown>;
  return {
    run,
    command,
    epochs: train.epochs as number,
    bestEpoch: train.bestEpoch as number,
    stoppedBy: train.stoppedBy as string,
    secondsPerEpoch: train.secondsPerEpoch as number,
    all: summary(acc.all),
    tail: summary(acc.tail),
    head: summary(acc.head),
  };
}

function table(rows: Row[]): string {
  const f = (x: number) => x.toFixed(4);
  return [
    `| item features | epochs (best) | stopped by | s/epoch | test R@50 | test NDCG@10 | tail (≤ ${tail} train events) R@50 | tail NDCG@10 | rest R@50 | rest NDCG@10 |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.run} | ${r.epochs} (${r.bestEpoch}) | ${r.stoppedBy} | ${r.secondsPerEpoch.toFixed(1)} | ${f(r.all.recall50)} | ${f(r.all.ndcg10)} | ${f(r.tail.recall50)} | ${f(r.tail.ndcg10)} | ${f(r.head.recall50)} | ${f(r.head.ndcg10)} |`,
    ),
    '',
    rows.length > 0 ? `Test cases: ${rows[0].all.cases} (tail ${rows[0].tail.cases}, rest ${rows[0].head.cases}).` : '',
  ].join('\n');
}

await initBackend();
const rows: Row[] = [];
for (const run of runs) {
  const row = await measure(run);
  rows.push(row);
  appendFileSync(rowsJsonl, JSON.stringify(row) + '\n');
  writeFileSync(join(out, 'table.md'), table(rows) + '\n');
  process.stdout.write(table(rows) + '\n');
}
