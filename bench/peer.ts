/**
 * `npm run bench:peer`: seqrec and the PyTorch peer (../shared/peer-torch) side by side on
 * identical data — the peer exports its re-indexed sequences and user split, seqrec trains on
 * that export — model by model, alternating, on this machine. Writes the JSON lines of both
 * sides to bench/results/ and Markdown tables with ratios to bench/results/peer-comparison.md
 * (rewritten after every run, so a long run can be read while it goes).
 *
 * Env:
 *   BENCH_DATASETS   "amazon-beauty=../shared/data/amazon-beauty/Beauty.txt,ml-100k=../shared/data/ml-100k/u.data"
 *   BENCH_PROTOCOLS  "comirec" (comma list of comirec, loo)
 *   BENCH_MODELS     "mostpopular,gru4rec,youtubednn,mind,comirec-dr,comirec-sa"
 *   BENCH_EPOCHS (30), BENCH_LOO_EPOCHS (BENCH_EPOCHS), BENCH_PATIENCE (5)
 *   BENCH_SPU        training samples per train user per epoch, ComiRec protocol (1)
 *   BENCH_SIDES ("seqrec,peer"), PEER_DIR, PEER_PYTHON, BENCH_TAG (suffix of the output files)
 *   BENCH_JOBS       runs at once (1). With more than one, every run gets one core: the peer
 *                    --threads 1 (OpenMP pools spin against each other when they share cores)
 *                    and seqrec SEQREC_WASM_THREADS=1. Alone, each side uses 2 threads.
 *   BENCH_SEQREC_IMPORTS  comma list of modules preloaded into seqrec's runs with --import, e.g.
 *                    ./bench/parity/adam-epsilon.ts (Adam epsilon 1e-8) or ./bench/parity/torch-init.ts
 *                    (ComiRec-SA attention init as torch.nn.Linear's); the tag should say so.
 *   BENCH_SEED (42)  training seed, passed to both sides (--seed); the split stays the peer's (2020)
 *   BENCH_READOUT ("hard"), BENCH_POW_P (2): label-aware attention of the multi-interest
 *                    models, passed to BOTH sides (peer --readout/--pow-p, seqrec readout/readoutPower).
 *   BENCH_PEER_LOSS ("softmax"): the peer's --loss (softmax, sampled, bpr, top1).
 *   BENCH_SEQREC_FLAGS: extra `seqrec bench` flags, space-separated "--name value" pairs, e.g.
 *                    "--loss comirec-sampled --item-gradients dense"; the tag should say so.
 *
 * Like-for-like settings both sides get (see modelSettings): the readout above, and for MIND
 * plain-normal routing logits (the peer draws torch.randn and has no flag for it, so seqrec
 * gets logitInit 'normal' instead of its truncated default), no bilinear bias and the ReLU
 * layer (the peer's defaults, stated explicitly for seqrec).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const env = process.env;
const datasets = (env.BENCH_DATASETS ?? 'amazon-beauty=../shared/data/amazon-beauty/Beauty.txt,ml-100k=../shared/data/ml-100k/u.data')
  .split(',')
  .map((s) => s.split('='))
  .map(([name, path]) => ({ name, path: resolve(path) }));
const protocols = (env.BENCH_PROTOCOLS ?? 'comirec').split(',');
const models = (env.BENCH_MODELS ?? 'mostpopular,gru4rec,youtubednn,mind,comirec-dr,comirec-sa').split(',');
const epochsFor = (protocol: string) => (protocol === 'loo' ? (env.BENCH_LOO_EPOCHS ?? env.BENCH_EPOCHS ?? '30') : (env.BENCH_EPOCHS ?? '30'));
const patience = env.BENCH_PATIENCE ?? '5';
const spu = env.BENCH_SPU ?? '1';
const sides = (env.BENCH_SIDES ?? 'seqrec,peer').split(',');
const tag = env.BENCH_TAG ? `-${env.BENCH_TAG}` : '';
const peerDir = resolve(env.PEER_DIR ?? '../shared/peer-torch');
const python = env.PEER_PYTHON ?? '/usr/bin/python3';
const jobs = Math.max(1, Number(env.BENCH_JOBS ?? 1));
const peerThreads = jobs > 1 ? '1' : '2';
// With several runs at once each side gets one core: the peer --threads 1, seqrec's wasm
// backend one XNNPACK thread (unless SEQREC_WASM_THREADS says otherwise).
// One core per run: the wasm pool and the native kernels' pool (SEQREC_THREADS) one thread each.
const seqrecEnv: Record<string, string> = jobs > 1 && !env.SEQREC_WASM_THREADS ? { SEQREC_WASM_THREADS: '1', SEQREC_THREADS: '1' } : {};
const seqrecImports = (env.BENCH_SEQREC_IMPORTS ?? '')
  .split(',')
  .filter(Boolean)
  .flatMap((m) => ['--import', m]);
const seed = env.BENCH_SEED ?? '42';
const readout = env.BENCH_READOUT ?? 'hard';
const powP = env.BENCH_POW_P ?? '2';
if (readout !== 'hard' && readout !== 'soft') throw new Error(`BENCH_READOUT must be hard or soft, got ${readout}`);
const peerLoss = env.BENCH_PEER_LOSS ?? 'softmax';
const seqrecFlags = (env.BENCH_SEQREC_FLAGS ?? '').split(' ').filter(Boolean);
const MULTI_INTEREST = new Set(['mind', 'comirec-dr', 'comirec-sa']);
/** Per model: the peer's extra flags and the seqrec config that matches them. */
function modelSettings(model: string): { peer: string[]; seqrec: Record<string, unknown> } {
  if (!MULTI_INTEREST.has(model)) return { peer: [], seqrec: {} };
  const peer = ['--readout', readout, '--pow-p', powP];
  const seqrec: Record<string, unknown> = { readout, readoutPower: Number(powP) };
  if (model === 'mind') Object.assign(seqrec, { logitInit: 'normal', logitStd: 1, bilinearBias: false, reluLayer: true });
  return { peer, seqrec };
}
const outDir = resolve('bench/results');
mkdirSync(outDir, { recursive: true });

/** Test metrics under one naming (the peer's keys are mapped onto seqrec's). */
type Metrics = Record<string, number>;
interface Side {
  test: Metrics;
  validR50: number;
  sPerEpoch: number;
  epochs: string;
  seconds: number;
}

const PEER_KEYS: Record<string, string> = { hitrate: 'hitRate', ndcg_comirec: 'ndcgComiRec', recall: 'recall', ndcg: 'ndcg' };
function fromPeer(m: Record<string, number>): Metrics {
  const out: Metrics = {};
  for (const [k, v] of Object.entries(m)) {
    const [name, n] = k.split('@');
    if (n && PEER_KEYS[name]) out[`${PEER_KEYS[name]}@${n}`] = v;
  }
  return out;
}

/** Runs a child process to completion; its stderr goes to ours, its stdout is returned. */
function run(cmd: string, args: string[], cwd?: string, extraEnv: Record<string, string> = {}): Promise<string> {
  return new Promise((done, fail) => {
    const options = { cwd, encoding: 'utf8' as const, maxBuffer: 1 << 26, env: { ...process.env, ...extraEnv } };
    const child = execFile(cmd, args, options, (error, stdout) => (error ? fail(error) : done(stdout)));
    child.stderr?.pipe(process.stderr);
  });
}

function lastJson(text: string): Record<string, unknown> {
  return JSON.parse(
    text
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .pop()!,
  );
}

async function runPeer(data: string, protocol: string, model: string, name: string): Promise<Side> {
  const out = `${outDir}/peer-${name}-${protocol}${tag}.jsonl`;
  const t0 = performance.now();
  if (model === 'mostpopular') {
    const text = await run(python, ['scripts/mostpop.py', '--data', data, '--name', name, '--protocol', protocol, '--out', out], peerDir);
    const r = lastJson(text) as { test: Record<string, number>; valid: Record<string, number> };
    return { test: fromPeer(r.test), validR50: r.valid['recall@50'], sPerEpoch: 0, epochs: '-', seconds: (performance.now() - t0) / 1000 };
  }
  const text = await run(
    python,
    [
      '-m',
      'peer_torch',
      'train',
      '--data',
      data,
      '--name',
      name,
      '--model',
      model,
      '--protocol',
      protocol,
      '--loss',
      peerLoss,
      '--dim',
      '64',
      '--max-len',
      '20',
      '--max-epochs',
      epochsFor(protocol),
      '--patience',
      patience,
      '--samples-per-user',
      spu,
      '--threads',
      peerThreads,
      '--no-normalize',
      '--seed',
      seed,
      ...modelSettings(model).peer,
      '--out',
      out,
    ],
    peerDir,
  );
  const r = lastJson(text) as {
    test: Record<string, number>;
    valid: Record<string, number>;
    epochs_run: number;
    best_epoch: number;
    seconds_per_epoch_train: number;
  };
  return {
    test: fromPeer(r.test),
    validR50: r.valid['recall@50'],
    sPerEpoch: r.seconds_per_epoch_train,
    epochs: `${r.epochs_run} (${r.best_epoch})`,
    seconds: (performance.now() - t0) / 1000,
  };
}

async function runSeqrec(split: string, protocol: string, model: string, name: string): Promise<Side> {
  const out = `${outDir}/seqrec-${name}-${protocol}${tag}.jsonl`;
  const t0 = performance.now();
  await run(
    process.execPath,
    [
      '--import',
      'tsx',
      ...seqrecImports,
      'bench/peer-seqrec.ts',
      JSON.stringify({ [model]: modelSettings(model).seqrec }),
      '--split',
      split,
      '--data',
      name,
      '--protocol',
      protocol,
      '--models',
      model,
      '--dim',
      '64',
      '--max-len',
      '20',
      '--epochs',
      epochsFor(protocol),
      '--patience',
      patience,
      '--samples-per-user',
      spu,
      '--seed',
      seed,
      '--out',
      out,
      ...seqrecFlags,
    ],
    undefined,
    seqrecEnv,
  );
  // Runs of other models may append to the same file meanwhile: take this model's last line.
  const lines = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => (JSON.parse(l) as { model: string }).model === model);
  const r = JSON.parse(lines[lines.length - 1]) as { test: Metrics; valid: Metrics; epochs: number; bestEpoch: number; secondsPerEpoch: number };
  return {
    test: r.test,
    validR50: r.valid['recall@50'],
    sPerEpoch: r.secondsPerEpoch,
    epochs: r.epochs ? `${r.epochs} (${r.bestEpoch})` : '-',
    seconds: (performance.now() - t0) / 1000,
  };
}

const f = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(4));
const sections: string[] = [];
const started = performance.now();

/** Runs the tasks `jobs` at a time, in order; each task starts when a slot frees up. */
async function pool(tasks: (() => Promise<void>)[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) await tasks[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));
}

for (const ds of datasets) {
  const split = `${outDir}/${ds.name}-split.json`;
  if (!existsSync(split)) {
    execFileSync(python, ['-m', 'peer_torch', 'export', '--data', ds.path, '--out', split], { cwd: peerDir, stdio: ['ignore', 'inherit', 'inherit'] });
  }
  for (const protocol of protocols) {
    const sectionStart = performance.now();
    const ks =
      protocol === 'loo'
        ? ['hitRate@10', 'ndcg@10', 'recall@20', 'ndcg@20', 'recall@50', 'ndcg@50']
        : ['recall@20', 'ndcg@20', 'hitRate@20', 'recall@50', 'ndcg@50', 'hitRate@50'];
    const head = [
      `\n**${ds.name}, ${protocol} protocol** (${protocol === 'loo' ? `leave-one-out, at most ${epochsFor(protocol)} epochs` : `${spu} sample(s) per train user per epoch, at most ${epochsFor(protocol)} epochs`}, patience ${patience}, seed ${seed}; multi-interest readout ${readout}${readout === 'soft' ? ` p=${powP}` : ''} on both sides, MIND routing logits N(0, 1) on both${seqrecImports.length ? `; seqrec preloads ${env.BENCH_SEQREC_IMPORTS}` : ''}; seqrec on the peer's exported data; ${jobs} run(s) at a time, peer --threads ${peerThreads}, seqrec ${seqrecEnv.SEQREC_WASM_THREADS ?? env.SEQREC_WASM_THREADS ?? 'all cores'} thread(s), native kernels ${env.SEQREC_NATIVE === '0' ? 'off' : 'on where built'})\n`,
      '| model | seqrec test R@50 | peer test R@50 | R@50 ratio | seqrec s/epoch | peer s/epoch | time ratio | epochs (best) seqrec / peer |',
      '|---|---|---|---|---|---|---|---|',
    ];
    const results = new Map<string, Side>();
    const table = (): string => {
      const rows: string[] = [];
      const details: string[] = [];
      for (const model of models) {
        const s = results.get(`seqrec ${model}`) ?? null;
        const p = results.get(`peer ${model}`) ?? null;
        if (!s && !p) continue;
        const ratio = s && p ? (s.test['recall@50'] / p.test['recall@50']).toFixed(3) : '';
        const tratio = s && p && p.sPerEpoch > 0 ? (s.sPerEpoch / p.sPerEpoch).toFixed(2) : '';
        const sec = (x: Side | null) => (x && x.sPerEpoch > 0 ? x.sPerEpoch.toFixed(2) : '-');
        rows.push(
          `| ${model} | ${f(s?.test['recall@50'])} | ${f(p?.test['recall@50'])} | ${ratio} | ${sec(s)} | ${sec(p)} | ${tratio} | ${s?.epochs ?? '-'} / ${p?.epochs ?? '-'} |`,
        );
        details.push(`| ${model} | ${ks.map((k) => `${f(s?.test[k])} / ${f(p?.test[k])}`).join(' | ')} |`);
      }
      const wall = (performance.now() - sectionStart) / 60000;
      const detail = [
        '',
        `All test metrics, seqrec / peer (${ds.name}, ${protocol}):`,
        '',
        `| model | ${ks.join(' | ')} |`,
        `|---|${ks.map(() => '---').join('|')}|`,
      ];
      return [...head, ...rows, ...detail, ...details, '', `Wall time of this comparison: ${wall.toFixed(1)} min.`].join('\n');
    };
    // Model by model, both sides: a run stopped half way still has complete rows.
    const tasks = models.flatMap((model) =>
      sides.map((side) => async () => {
        process.stderr.write(`\n=== ${ds.name} ${protocol} ${side} ${model}\n`);
        results.set(
          `${side} ${model}`,
          side === 'seqrec' ? await runSeqrec(split, protocol, model, ds.name) : await runPeer(ds.path, protocol, model, ds.name),
        );
        writeFileSync(`${outDir}/peer-comparison${tag}.md`, [...sections, table()].join('\n') + '\n');
      }),
    );
    await pool(tasks);
    sections.push(table());
  }
}
process.stdout.write(sections.join('\n') + `\n\nTotal wall time: ${((performance.now() - started) / 60000).toFixed(1)} min.\n`);
