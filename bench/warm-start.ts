/**
 * `npm run bench:warm`: warm start against training from scratch on a log that has grown.
 *
 * amazon-beauty cut in time: day 1 is the first 90% of each user's events (floor(0.9 n), the
 * file keeps no timestamps, so its order is time), day 2 the whole file. A parent GRU4Rec is
 * trained on day 1; on day 2 one run starts cold and one (or two: init and co-occurrence new
 * rows) continues the parent with `seqrec train --from`. All runs: leave-one-out, history
 * items filtered, every-position training, full softmax, patience 5 on valid recall@50, best
 * weights tested. Reported: epochs to the best valid recall@50, valid and test recall@50.
 * Each run is a `seqrec train` child process whose JSON line is appended to
 * <BENCH_OUT>.jsonl as it finishes (a stopped run keeps the finished rows).
 *
 * Env: DATA (../shared/data/amazon-beauty/Beauty.txt), BENCH_OUT (bench/results/warm-start),
 * BENCH_EPOCHS (40), BENCH_RULES ("init,cooccurrence"), BENCH_SLICE (first N users only, a quick check).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const env = process.env;
const data = resolve(env.DATA ?? join(ROOT, '../shared/data/amazon-beauty/Beauty.txt'));
const out = resolve(env.BENCH_OUT ?? join(ROOT, 'bench/results/warm-start'));
const epochs = env.BENCH_EPOCHS ?? '40';
const rules = (env.BENCH_RULES ?? 'init,cooccurrence').split(',');
mkdirSync(out, { recursive: true });

// Day 1 and day 2 files.
let lines = readFileSync(data, 'utf8').split('\n').filter(Boolean);
if (env.BENCH_SLICE) lines = lines.slice(0, Number(env.BENCH_SLICE));
const day2 = join(out, 'day2.txt');
const day1 = join(out, 'day1.txt');
writeFileSync(day2, lines.join('\n') + '\n');
writeFileSync(
  day1,
  lines
    .map((l) => {
      const [user, ...items] = l.trim().split(/\s+/);
      return [user, ...items.slice(0, Math.floor(0.9 * items.length))].join(' ');
    })
    .join('\n') + '\n',
);

const FLAGS = ['--format', 'sequence', '--protocol', 'loo', '--model', 'gru4rec', '--max-len', '50', '--targets', 'every', '--batch', '128'];
const FLAGS_RUN = ['--epochs', epochs, '--patience', '5', '--exclude', 'history'];
const jsonl = join(out, 'runs.jsonl');

function train(label: string, file: string, extra: string[]): Record<string, unknown> {
  const args = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'train', '--data', file, ...FLAGS, ...FLAGS_RUN, '--json', jsonl, ...extra];
  process.stderr.write(`\n=== ${label}: seqrec ${args.slice(3).join(' ')}\n`);
  const before = existsSync(jsonl) ? readFileSync(jsonl, 'utf8').trim().split('\n').length : 0;
  execFileSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { ...env, SEQREC_PROGRESS: 'plain' } });
  const rows = readFileSync(jsonl, 'utf8').trim().split('\n');
  if (rows.length !== before + 1) throw new Error(`${label}: expected one new line in ${jsonl}`);
  return { label, command: `seqrec ${args.slice(3).join(' ')}`, ...(JSON.parse(rows.at(-1)!) as Record<string, unknown>) };
}

const parentDir = join(out, 'parent');
const results = [train('parent (day 1)', day1, ['--out', parentDir, '--force'])];
// The cold bundle is kept: `seqrec eval --model <out>/cold --segments ...` reads it (docs/benchmarks.md).
results.push(train('cold (day 2)', day2, ['--out', join(out, 'cold'), '--force']));
for (const rule of rules) results.push(train(`warm, new rows: ${rule} (day 2)`, day2, ['--from', parentDir, '--new-rows', rule]));

const r50 = (m: unknown) => ((m as Record<string, number>)['recall@50'] ?? NaN).toFixed(4);
const table = [
  '| run | epochs to best valid R@50 | epochs run | valid R@50 | test R@50 | test NDCG@10 | training s | command |',
  '|---|---|---|---|---|---|---|---|',
  ...results.map((r) => {
    const seconds = (r.epochSeconds as { train: number; eval: number }[]).reduce((s, e) => s + e.train + e.eval, 0);
    return `| ${r.label} | ${r.bestEpoch} | ${r.epochs} | ${r50(r.valid)} | ${r50(r.test)} | ${((r.test as Record<string, number>)['ndcg@10'] ?? NaN).toFixed(4)} | ${seconds.toFixed(0)} | \`${r.command}\` |`;
  }),
].join('\n');
process.stdout.write(table + '\n');
mkdirSync(dirname(join(out, 'table.md')), { recursive: true });
writeFileSync(join(out, 'table.md'), table + '\n');
