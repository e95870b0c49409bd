/**
 * `npm run bench:peer`: seqrec and the PyTorch peer (../shared/peer-torch) side by side on
 * identical data — the peer exports its re-indexed sequences and user split, seqrec trains on
 * that export — model by model, alternating, on this machine. Writes the JSON lines of both
 * sides to bench/results/ and prints a Markdown table with ratios.
 *
 * Env: BENCH_DATASETS ("amazon-beauty=../shared/data/amazon-beauty/Beauty.txt,ml-100k=../shared/data/ml-100k/u.data"),
 * BENCH_PROTOCOLS ("comirec"), BENCH_MODELS ("gru4rec,youtubednn,mind,comirec-dr,comirec-sa"),
 * BENCH_EPOCHS (30), BENCH_PATIENCE (5), BENCH_SPU (samples per user, 1), PEER_DIR, PEER_PYTHON,
 * BENCH_SIDES ("seqrec,peer").
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const env = process.env;
const datasets = (env.BENCH_DATASETS ?? 'amazon-beauty=../shared/data/amazon-beauty/Beauty.txt,ml-100k=../shared/data/ml-100k/u.data')
  .split(',')
  .map((s) => s.split('='))
  .map(([name, path]) => ({ name, path: resolve(path) }));
const protocols = (env.BENCH_PROTOCOLS ?? 'comirec').split(',');
const models = (env.BENCH_MODELS ?? 'gru4rec,youtubednn,mind,comirec-dr,comirec-sa').split(',');
const epochs = env.BENCH_EPOCHS ?? '30';
const patience = env.BENCH_PATIENCE ?? '5';
const spu = env.BENCH_SPU ?? '1';
const sides = (env.BENCH_SIDES ?? 'seqrec,peer').split(',');
const peerDir = resolve(env.PEER_DIR ?? '../shared/peer-torch');
const python = env.PEER_PYTHON ?? '/usr/bin/python3';
const outDir = resolve('bench/results');
mkdirSync(outDir, { recursive: true });

type Metrics = Record<string, number>;
interface Side { recall50: number; hr50: number; ndcg50: number; ndcgc50: number; hr10: number; ndcg10: number; sPerEpoch: number; epochs: string; seconds: number }

function lastJson(text: string): Record<string, unknown> {
  return JSON.parse(text.trim().split('\n').filter((l) => l.startsWith('{')).pop()!);
}

function runPeer(data: string, protocol: string, model: string, name: string): Side {
  const out = `${outDir}/peer-${name}-${protocol}.jsonl`;
  const t0 = performance.now();
  const text = execFileSync(python, ['-m', 'peer_torch', 'train', '--data', data, '--name', name, '--model', model, '--protocol', protocol, '--loss', 'softmax',
    '--dim', '64', '--max-len', '20', '--max-epochs', epochs, '--patience', patience, '--samples-per-user', spu, '--threads', '2', '--no-normalize', '--out', out],
  { cwd: peerDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  const r = lastJson(text) as { test: Metrics; epochs_run: number; best_epoch: number; seconds_per_epoch_train: number };
  return { recall50: r.test['recall@50'], hr50: r.test['hitrate@50'], ndcg50: r.test['ndcg@50'], ndcgc50: r.test['ndcg_comirec@50'], hr10: r.test['hitrate@10'], ndcg10: r.test['ndcg@10'],
    sPerEpoch: r.seconds_per_epoch_train, epochs: `${r.epochs_run} (${r.best_epoch})`, seconds: (performance.now() - t0) / 1000 };
}

function runSeqrec(split: string | null, data: string, protocol: string, model: string, name: string): Side {
  const out = `${outDir}/seqrec-${name}-${protocol}.jsonl`;
  const source = split ? ['--split', split, '--data', name] : ['--data', data];
  const t0 = performance.now();
  execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'bench', ...source, '--protocol', protocol, '--models', model,
    '--dim', '64', '--max-len', '20', '--epochs', epochs, '--patience', patience, '--samples-per-user', spu, '--out', out],
  { encoding: 'utf8', stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 26 });
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  const r = JSON.parse(lines[lines.length - 1]) as { test: Metrics; epochs: number; bestEpoch: number; secondsPerEpoch: number };
  return { recall50: r.test['recall@50'], hr50: r.test['hitRate@50'], ndcg50: r.test['ndcg@50'], ndcgc50: r.test['ndcgComiRec@50'], hr10: r.test['hitRate@10'], ndcg10: r.test['ndcg@10'],
    sPerEpoch: r.secondsPerEpoch, epochs: `${r.epochs} (${r.bestEpoch})`, seconds: (performance.now() - t0) / 1000 };
}

const f = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(4));
const lines: string[] = [];
for (const ds of datasets) {
  const split = `${outDir}/${ds.name}-split.json`;
  if (!existsSync(split)) {
    execFileSync(python, ['-m', 'peer_torch', 'export', '--data', ds.path, '--out', split], { cwd: peerDir, stdio: ['ignore', 'inherit', 'inherit'] });
  }
  for (const protocol of protocols) {
    lines.push(`\n**${ds.name}, ${protocol} protocol** (seqrec on the peer's exported split${protocol === 'loo' ? '; leave-one-out needs no split list' : ''})\n`);
    lines.push('| model | seqrec test R@50 | peer test R@50 | R@50 ratio | seqrec HR@50 | peer HR@50 | seqrec NDCG@50 | peer NDCG@50 | seqrec s/epoch | peer s/epoch | time ratio | epochs (best) seqrec / peer |');
    lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const model of models) {
      process.stderr.write(`\n=== ${ds.name} ${protocol} ${model}\n`);
      const s = sides.includes('seqrec') ? runSeqrec(split, ds.path, protocol, model, ds.name) : null;
      const p = sides.includes('peer') ? runPeer(ds.path, protocol, model, ds.name) : null;
      const ratio = s && p ? (s.recall50 / p.recall50).toFixed(3) : '';
      const tratio = s && p ? (s.sPerEpoch / p.sPerEpoch).toFixed(2) : '';
      lines.push(`| ${model} | ${f(s?.recall50)} | ${f(p?.recall50)} | ${ratio} | ${f(s?.hr50)} | ${f(p?.hr50)} | ${f(s?.ndcg50)} | ${f(p?.ndcg50)} | ${s?.sPerEpoch.toFixed(2) ?? '-'} | ${p?.sPerEpoch.toFixed(2) ?? '-'} | ${tratio} | ${s?.epochs ?? '-'} / ${p?.epochs ?? '-'} |`);
      writeFileSync(`${outDir}/peer-comparison.md`, lines.join('\n') + '\n');
    }
  }
}
process.stdout.write(lines.join('\n') + '\n');
