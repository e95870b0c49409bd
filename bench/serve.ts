/**
 * npm run bench:serve — serving benchmark.
 *
 * 1. A loopback load test (autocannon) against `seqrec serve` (a child process) with a
 *    GRU4Rec bundle trained on amazon-beauty: POST /recommend with k=50 and real user
 *    histories, at concurrency 1, 16 and 64 (and 64 with request coalescing off), each for a
 *    bounded duration; throughput, p50/p99 latency, non-2xx count, server CPU (from its
 *    /metrics) and RSS (/proc).
 * 2. In-process `Recommender.recommend()` latency (median, p99 over 10,000 calls) and the
 *    TF.js tensor count before and after 100,000 calls.
 *
 * Prints Markdown tables (and writes them to BENCH_MD when set).
 *
 * Environment:
 *   BENCH_BUNDLE=dir    use this bundle (default runs/bench-serve/amazon-beauty-gru4rec; trained
 *                       there with `seqrec train --out` if missing)
 *   BENCH_DATA=file     training data (default ../shared/data/amazon-beauty/Beauty.txt)
 *   BENCH_EPOCHS=n      epochs when training the bundle (default 3; latency does not need a good model)
 *   BENCH_DURATION=s    seconds per load-test row (default 10)
 *   BENCH_QUICK=1       a tiny synthetic run that checks the whole pipeline in about a minute
 *   BENCH_MD=file       also write the tables there
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { backendReport } from '../src/backend/index.js';
import { generateSynthetic } from '../src/data/synthetic.js';
import { parsePrometheus } from '../src/serve/metrics.js';
import { Recommender } from '../src/serve/recommender.js';

const ROOT = resolve(import.meta.dirname, '..');
const QUICK = process.env.BENCH_QUICK === '1';
const DURATION = Number(process.env.BENCH_DURATION ?? (QUICK ? 1 : 10));
const K = 50;
const CONCURRENCY = [1, 16, 64];
const IN_PROCESS_TIMED = QUICK ? 300 : 10_000;
const IN_PROCESS_LEAK = QUICK ? 2_000 : 100_000;

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const log = (line: string) => process.stderr.write(`${line}\n`);

function cli(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function run(args: string[]): Promise<void> {
  const p = cli(args);
  p.stdout!.on('data', (d) => process.stderr.write(d));
  p.stderr!.on('data', (d) => process.stderr.write(d));
  const code = await new Promise<number | null>((res) => p.on('exit', res));
  if (code !== 0) throw new Error(`seqrec ${args.join(' ')} exited with ${code}`);
}

/** The bundle directory and the data file its histories come from. */
async function prepareBundle(): Promise<{ bundle: string; data: string; description: string }> {
  if (QUICK) {
    const dir = await mkdtemp(join(tmpdir(), 'seqrec-bench-serve-'));
    const data = join(dir, 'synthetic.txt');
    const synth = generateSynthetic({ numUsers: 400, numItems: 200, numClusters: 8, minLength: 8, maxLength: 30, seed: 1 });
    await writeFile(data, synth.sequences.map((s) => `${s.user} ${s.items.join(' ')}`).join('\n') + '\n');
    const bundle = join(dir, 'bundle');
    log('BENCH_QUICK: training a tiny GRU4Rec bundle on synthetic data');
    await run(['train', '--data', data, '--format', 'sequence', '--min-count', '0', '--dim', '16', '--epochs', '1', '--out', bundle]);
    return { bundle, data, description: 'GRU4Rec on a tiny synthetic dataset (BENCH_QUICK)' };
  }
  const data = resolve(process.env.BENCH_DATA ?? join(ROOT, '../shared/data/amazon-beauty/Beauty.txt'));
  const bundle = resolve(process.env.BENCH_BUNDLE ?? join(ROOT, 'runs/bench-serve/amazon-beauty-gru4rec'));
  if (!existsSync(join(bundle, 'model.json'))) {
    if (process.env.BENCH_BUNDLE) throw new Error(`BENCH_BUNDLE=${bundle} has no model.json`);
    if (!existsSync(data)) throw new Error(`no bundle at ${bundle} and no training data at ${data} (set BENCH_BUNDLE or BENCH_DATA)`);
    const epochs = process.env.BENCH_EPOCHS ?? '3';
    log(`training GRU4Rec on ${data} for ${epochs} epochs into ${bundle}`);
    await mkdir(dirname(bundle), { recursive: true });
    await run(['train', '--data', data, '--format', 'sequence', '--model', 'gru4rec', '--epochs', epochs, '--out', bundle]);
  }
  return { bundle, data, description: `bundle ${bundle}` };
}

/** Real histories: the last 50 items of up to 1,000 users of the data file (sequence format). */
function sampleHistories(data: string): string[][] {
  const lines = readFileSync(data, 'utf8').split('\n').filter(Boolean);
  const step = Math.max(1, Math.floor(lines.length / 1000));
  const out: string[][] = [];
  for (let i = 0; i < lines.length && out.length < 1000; i += step) {
    const items = lines[i].trim().split(/\s+/).slice(1);
    if (items.length) out.push(items.slice(-50));
  }
  return out;
}

interface Server {
  proc: ChildProcess;
  base: string;
  pid: number;
}

async function startServer(bundle: string, extra: string[] = []): Promise<Server> {
  const proc = cli(['serve', '--model', bundle, '--port', '0', ...extra]);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const t0 = Date.now();
  while (!/listening on (http:\/\/\S+)/.test(out)) {
    if (proc.exitCode !== null || Date.now() - t0 > 120_000) throw new Error(`seqrec serve did not start:\n${out}\n${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, base: /listening on (http:\/\/\S+)/.exec(out)![1], pid: proc.pid! };
}

async function stopServer(s: Server): Promise<void> {
  s.proc.kill('SIGTERM');
  await new Promise((r) => s.proc.once('exit', r));
}

async function cpuSeconds(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return parsePrometheus(text).get('process_cpu_seconds_total') ?? NaN;
}

/** Current and peak resident set of a process, MB (Linux /proc). */
function rssMB(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return { rss: NaN, peak: NaN };
  }
}

interface LoadRow {
  label: string;
  rps: number;
  p50: number;
  p99: number;
  total: number;
  bad: number;
  cpu: number;
  rss: number;
  peak: number;
}

async function loadTest(server: Server, label: string, connections: number, histories: string[][]): Promise<LoadRow> {
  let next = 0;
  const bodies = histories.map((h) => JSON.stringify({ history: h, k: K }));
  const cpu0 = await cpuSeconds(server.base);
  const t0 = performance.now();
  const result = await autocannon({
    url: server.base,
    connections,
    duration: DURATION,
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        method: 'POST',
        path: '/recommend',
        setupRequest: (req: Record<string, unknown>) => ({ ...req, body: bodies[next++ % bodies.length] }),
      },
    ],
  });
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = await cpuSeconds(server.base);
  const mem = rssMB(server.pid);
  const row: LoadRow = {
    label,
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    bad: result.non2xx + result.errors + result.timeouts,
    cpu: (100 * (cpu1 - cpu0)) / wall,
    rss: mem.rss,
    peak: mem.peak,
  };
  log(`${label}: ${row.rps.toFixed(0)} req/s, p50 ${row.p50} ms, p99 ${row.p99} ms, ${row.bad} failed, CPU ${row.cpu.toFixed(0)}%, RSS ${row.rss.toFixed(0)} MB`);
  return row;
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main(): Promise<void> {
  const { bundle, data, description } = await prepareBundle();
  const histories = sampleHistories(data);
  const manifest = JSON.parse(await readFile(join(bundle, 'model.json'), 'utf8')) as { model: string; config: Record<string, number> };
  log(`${histories.length} request histories from ${data}`);

  // 1. HTTP load test.
  const rows: LoadRow[] = [];
  let server = await startServer(bundle);
  try {
    // Warm the server (JIT, connections) before measuring.
    await autocannon({ url: server.base, connections: 4, duration: 1, method: 'POST', path: '/recommend', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ history: histories[0], k: K }) });
    for (const c of CONCURRENCY) rows.push(await loadTest(server, String(c), c, histories));
  } finally {
    await stopServer(server);
  }
  server = await startServer(bundle, ['--coalesce', 'off']);
  try {
    rows.push(await loadTest(server, '64, coalescing off', 64, histories));
  } finally {
    await stopServer(server);
  }

  // 2. In-process.
  const rec = await Recommender.load(bundle);
  const backend = backendReport();
  const info = rec.info();
  const times = new Float64Array(IN_PROCESS_TIMED);
  for (let i = 0; i < IN_PROCESS_TIMED; i++) {
    const h = histories[i % histories.length];
    const t0 = performance.now();
    rec.recommend(h, { k: K });
    times[i] = performance.now() - t0;
  }
  times.sort();
  const tensorsBefore = tf.memory().numTensors;
  const rss0 = process.memoryUsage().rss / 2 ** 20;
  const tLeak = performance.now();
  for (let i = 0; i < IN_PROCESS_LEAK; i++) rec.recommend(histories[i % histories.length], { k: K });
  const leakSeconds = (performance.now() - tLeak) / 1000;
  const tensorsAfter = tf.memory().numTensors;
  const rss1 = process.memoryUsage().rss / 2 ** 20;
  rec.dispose();

  const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const cpu = cpus();
  const md = [
    `## Serving: \`seqrec serve\` on loopback (autocannon, POST /recommend, k=${K})`,
    '',
    `Model: ${info.model}, ${info.numItems} items, D=${info.embeddingDim}, maxLen ${info.maxLen}, ${info.retriever} retrieval (${manifest.model}; ${description}).`,
    `Machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores (shared by the server, autocannon and nothing else of this bench); Node ${process.version}; TF.js backend ${backend?.name ?? '?'}${backend?.details ? ` (${backend.details})` : ''}.`,
    `Each row: ${DURATION} s; request bodies cycle through ${histories.length} real histories (last 50 items). CPU = server process CPU time / wall time (100% = one core).`,
    '',
    '| concurrency | requests/s | p50 latency (ms) | p99 latency (ms) | requests | failed | server CPU | server RSS (MB) | server peak RSS (MB) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.label} | ${f(r.rps, 0)} | ${f(r.p50)} | ${f(r.p99)} | ${r.total} | ${r.bad} | ${f(r.cpu, 0)}% | ${f(r.rss, 0)} | ${f(r.peak, 0)} |`),
    '',
    `## Serving: in-process \`Recommender.recommend()\` (k=${K})`,
    '',
    '| calls timed | median (ms) | p99 (ms) | calls for the leak check | tensors before | tensors after | RSS before → after (MB) | calls/s |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${IN_PROCESS_TIMED.toLocaleString('en')} | ${f(quantile(times, 0.5), 3)} | ${f(quantile(times, 0.99), 3)} | ${IN_PROCESS_LEAK.toLocaleString('en')} | ${tensorsBefore} | ${tensorsAfter} | ${f(rss0, 0)} → ${f(rss1, 0)} | ${f(IN_PROCESS_LEAK / leakSeconds, 0)} |`,
    '',
  ].join('\n');
  process.stdout.write(md);
  if (process.env.BENCH_MD) {
    await mkdir(dirname(resolve(process.env.BENCH_MD)), { recursive: true });
    await writeFile(process.env.BENCH_MD, md);
  }
  if (tensorsAfter !== tensorsBefore) {
    log(`tensor count grew from ${tensorsBefore} to ${tensorsAfter}`);
    process.exitCode = 1;
  }
  if (rows.some((r) => r.bad > 0)) {
    log('some requests failed');
    process.exitCode = 1;
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
