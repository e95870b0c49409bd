/**
 * npm run bench:serve — serving benchmark.
 *
 * 1. A loopback load test (autocannon) against `seqrec serve --workers 1` and `--workers 2`
 *    (child processes, in the same run) with a GRU4Rec bundle trained on amazon-beauty: POST
 *    /recommend with k=50 and real user histories, at concurrency 1, 16 and 64 (and 64 with
 *    request coalescing off, one worker), each for a bounded duration; throughput, p50/p99
 *    latency, non-2xx count, server CPU (from its /metrics, all workers) and RSS (/proc, the
 *    primary and its workers). Then 5 POST /admin/reload under concurrency 16 with 2 workers,
 *    counting non-2xx answers.
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
 *   BENCH_SECTIONS=...  comma list of sections to run: load, reload, inprocess, threads (default load,reload,inprocess)
 *   BENCH_CLIENT=wrk    drive the load section with wrk (C, one thread; `apt-get install wrk`)
 *                       instead of autocannon: on a 2-core machine the client shares the
 *                       server's cores, and wrk needs about a third of autocannon's CPU a request
 *
 * Section `threads` measures the wasm thread count under contention: in-process recommend()
 * latency and HTTP at concurrency 16, with SEQREC_WASM_THREADS=1 and =2, on a quiet machine
 * and with one busy process per core beside it. `seqrec serve`'s default thread count is
 * chosen from it (docs/serving.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { backendReport } from '../src/backend/index.js';
import { generateSynthetic } from '../src/data/synthetic.js';
import { parsePrometheus } from '../src/serve/metrics.js';
import { Recommender } from '../src/serve/recommender.js';
import { postLoad } from './http-load.js';

const ROOT = resolve(import.meta.dirname, '..');
const QUICK = process.env.BENCH_QUICK === '1';
const DURATION = Number(process.env.BENCH_DURATION ?? (QUICK ? 1 : 10));
const K = 50;
const CONCURRENCY = [1, 16, 64];
const WORKERS = [1, 2];
const RELOADS = 5;
const ADMIN_TOKEN = 'bench-serve-admin-token-0123456789abcdef';
const IN_PROCESS_TIMED = QUICK ? 300 : 10_000;
const IN_PROCESS_LEAK = QUICK ? 2_000 : 100_000;
const CLIENT = process.env.BENCH_CLIENT === 'wrk' ? 'wrk' : 'autocannon';

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
  if (process.env.BENCH_CHILD) return { bundle: process.env.BENCH_BUNDLE!, data: process.env.BENCH_DATA!, description: 'child' };
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
  // CURRENT: the versioned layout (src/bundle/atomic-dir.ts); model.json: a flat bundle of seqrec 0.1.
  if (!existsSync(join(bundle, 'CURRENT')) && !existsSync(join(bundle, 'model.json'))) {
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

async function startServer(bundle: string, extra: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<Server> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', '--model', bundle, '--port', '0', ...extra], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

/** Current and peak resident set of a process and its children (the workers), MB (Linux /proc). */
function rssMB(pid: number): { rss: number; peak: number } {
  let rss = 0;
  let peak = 0;
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    for (const p of [pid, ...children]) {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
      rss += kb('VmRSS') / 1024;
      peak += kb('VmHWM') / 1024;
    }
    return { rss, peak };
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
  const bodies = histories.map((h) => JSON.stringify({ history: h, k: K }));
  const cpu0 = await cpuSeconds(server.base);
  const t0 = performance.now();
  const result = await postLoad(CLIENT, server.base, connections, DURATION, bodies);
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = await cpuSeconds(server.base);
  const mem = rssMB(server.pid);
  const row: LoadRow = {
    label,
    rps: result.requests / result.seconds,
    p50: result.p50,
    p99: result.p99,
    total: result.requests,
    bad: result.bad,
    cpu: (100 * (cpu1 - cpu0)) / wall,
    rss: mem.rss,
    peak: mem.peak,
  };
  log(
    `${label}: ${row.rps.toFixed(0)} req/s, p50 ${row.p50} ms, p99 ${row.p99} ms, ${row.bad} failed, CPU ${row.cpu.toFixed(0)}%, RSS ${row.rss.toFixed(0)} MB`,
  );
  return row;
}

/** JIT and connections warm before measuring. */
async function warmUp(server: Server, histories: string[][]): Promise<void> {
  await postLoad('autocannon', server.base, 4, 1, [JSON.stringify({ history: histories[0], k: K })]);
}

async function reloadUnderLoad(bundle: string, histories: string[][]) {
  const server = await startServer(bundle, ['--workers', '2'], { ...process.env, SEQREC_ADMIN_TOKEN: ADMIN_TOKEN });
  try {
    await warmUp(server, histories);
    const bodies = histories.map((h) => JSON.stringify({ history: h, k: K }));
    let reloadsFailed = 0;
    const t0 = performance.now();
    const load = postLoad('autocannon', server.base, 16, Math.max(DURATION, 10), bodies);
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < RELOADS; i++) {
      const res = await fetch(`${server.base}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      if (res.status !== 200) reloadsFailed++;
      log(`reload ${i + 1}: ${res.status}`);
      await res.arrayBuffer();
    }
    const result = await load;
    const seconds = (performance.now() - t0) / 1000;
    return {
      total: result.requests,
      bad: result.bad,
      reloadsFailed,
      rps: result.requests / result.seconds,
      p99: result.p99,
      seconds,
    };
  } finally {
    await stopServer(server);
  }
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? 'load,reload,inprocess').split(',').map((s) => s.trim()));

interface InProcessResult {
  info: ReturnType<Recommender['info']>;
  backend: string;
  median: number;
  p99: number;
  tensorsBefore: number;
  tensorsAfter: number;
  rss0: number;
  rss1: number;
  callsPerSecond: number;
}

/** Times `timed` recommend() calls, then checks tensors and RSS over `leak` more. */
async function inProcess(bundle: string, histories: string[][], timed = IN_PROCESS_TIMED, leak = IN_PROCESS_LEAK): Promise<InProcessResult> {
  const rec = await Recommender.load(bundle);
  const report = backendReport();
  const info = rec.info();
  const times = new Float64Array(timed);
  for (let i = 0; i < timed; i++) {
    const h = histories[i % histories.length];
    const t0 = performance.now();
    rec.recommend(h, { k: K });
    times[i] = performance.now() - t0;
  }
  times.sort();
  const tensorsBefore = tf.memory().numTensors;
  const rss0 = process.memoryUsage().rss / 2 ** 20;
  const tLeak = performance.now();
  for (let i = 0; i < leak; i++) rec.recommend(histories[i % histories.length], { k: K });
  const leakSeconds = (performance.now() - tLeak) / 1000;
  const result: InProcessResult = {
    info,
    backend: `${report?.name ?? '?'}${report?.details ? ` (${report.details})` : ''}`,
    median: quantile(times, 0.5),
    p99: quantile(times, 0.99),
    tensorsBefore,
    tensorsAfter: tf.memory().numTensors,
    rss0,
    rss1: process.memoryUsage().rss / 2 ** 20,
    callsPerSecond: leak / leakSeconds,
  };
  rec.dispose();
  return result;
}

interface ThreadRow {
  threads: number;
  load: 'quiet' | 'loaded';
  median: number;
  p99: number;
  http: LoadRow;
}

/** One busy-looping process per core: the "busy 2-core machine" of the contention rows. */
function startBusyLoad(): ChildProcess[] {
  return cpus().map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

/** In-process latency in a child process, whose backend starts with `threads` wasm threads. */
async function inProcessChild(bundle: string, data: string, threads: number): Promise<{ median: number; p99: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/serve.ts')], {
    cwd: ROOT,
    env: { ...process.env, SEQREC_WASM_THREADS: String(threads), BENCH_CHILD: 'inprocess', BENCH_BUNDLE: bundle, BENCH_DATA: data },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((res) => child.on('exit', res));
  if (code !== 0) throw new Error(`in-process child exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!) as { median: number; p99: number };
}

async function threadsUnderContention(bundle: string, data: string, histories: string[][]): Promise<ThreadRow[]> {
  const rows: ThreadRow[] = [];
  for (const load of ['quiet', 'loaded'] as const) {
    for (const threads of [1, 2]) {
      const busy = load === 'loaded' ? startBusyLoad() : [];
      try {
        const { median, p99 } = await inProcessChild(bundle, data, threads);
        const server = await startServer(bundle, ['--workers', '1'], { ...process.env, SEQREC_WASM_THREADS: String(threads) });
        try {
          const http = await loadTest(server, `${threads} thread(s), ${load}`, 16, histories);
          rows.push({ threads, load, median, p99, http });
          log(`threads ${threads}, ${load}: in-process p50 ${median.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
        } finally {
          await stopServer(server);
        }
      } finally {
        for (const p of busy) p.kill('SIGKILL');
      }
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const { bundle, data, description } = await prepareBundle();
  const histories = sampleHistories(data);
  if (process.env.BENCH_CHILD === 'inprocess') {
    const r = await inProcess(bundle, histories, QUICK ? 300 : 3000, 0);
    process.stdout.write(`${JSON.stringify({ median: r.median, p99: r.p99 })}\n`);
    return;
  }
  log(`${histories.length} request histories from ${data}`);
  const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const cpu = cpus();
  const machine = `Machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores; Node ${process.version}.`;
  const md: string[] = [];
  const loadTable = (rows: LoadRow[], first: string) => [
    `| ${first} | requests/s | p50 latency (ms) | p99 latency (ms) | requests | failed | server CPU | server RSS (MB) | server peak RSS (MB) |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) => `| ${r.label} | ${f(r.rps, 0)} | ${f(r.p50)} | ${f(r.p99)} | ${r.total} | ${r.bad} | ${f(r.cpu, 0)}% | ${f(r.rss, 0)} | ${f(r.peak, 0)} |`,
    ),
  ];
  let failed = false;

  // 1. HTTP load test: one serving process, then two workers, in the same run.
  if (SECTIONS.has('load')) {
    const rows: LoadRow[] = [];
    for (const workers of WORKERS) {
      const server = await startServer(bundle, ['--workers', String(workers)]);
      try {
        await warmUp(server, histories);
        for (const c of CONCURRENCY) rows.push(await loadTest(server, `${workers} | ${c}`, c, histories));
      } finally {
        await stopServer(server);
      }
    }
    const server = await startServer(bundle, ['--workers', '1', '--coalesce', 'off']);
    try {
      rows.push(await loadTest(server, '1 | 64, coalescing off', 64, histories));
    } finally {
      await stopServer(server);
    }
    failed ||= rows.some((r) => r.bad > 0);
    const at = (w: number, c: number) => rows.find((r) => r.label === `${w} | ${c}`);
    const speedup = (at(2, 64)?.rps ?? NaN) / (at(1, 64)?.rps ?? NaN);
    md.push(
      `## Serving: \`seqrec serve --workers 1|2\` on loopback (${CLIENT}, POST /recommend, k=${K})`,
      '',
      `${machine} Shared by the server, ${CLIENT === 'wrk' ? 'wrk (one client thread)' : 'autocannon (in this process)'} and nothing else of this bench; ${description}.`,
      `Each row: ${DURATION} s; request bodies cycle through ${histories.length} real histories (last 50 items). CPU = server CPU time (all workers) / wall time (100% = one core); RSS: primary + workers.`,
      `--workers 2 against --workers 1 at concurrency 64: ${f(speedup, 2)}x the throughput.`,
      '',
      ...loadTable(rows, 'workers | concurrency'),
      '',
    );
  }

  // 1b. Reloads under load: two workers, concurrency 16, POST /admin/reload RELOADS times.
  if (SECTIONS.has('reload')) {
    const r = await reloadUnderLoad(bundle, histories);
    failed ||= r.bad > 0 || r.reloadsFailed > 0;
    md.push(
      `## Serving: ${RELOADS} reloads under load (2 workers, concurrency 16)`,
      '',
      `${machine} POST /admin/reload ${RELOADS} times, one after another, while autocannon sends POST /recommend (k=${K}) for ${r.seconds.toFixed(0)} s.`,
      '',
      '| requests | non-2xx or errors | reloads | reloads failed | requests/s | p99 latency (ms) |',
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
      `| ${r.total} | ${r.bad} | ${RELOADS} | ${r.reloadsFailed} | ${f(r.rps, 0)} | ${f(r.p99)} |`,
      '',
    );
  }

  // 2. In-process.
  if (SECTIONS.has('inprocess')) {
    const r = await inProcess(bundle, histories);
    failed ||= r.tensorsAfter !== r.tensorsBefore;
    md.push(
      `## Serving: in-process \`Recommender.recommend()\` (k=${K})`,
      '',
      `Model: ${r.info.model}, ${r.info.numItems} items, D=${r.info.embeddingDim}, maxLen ${r.info.maxLen}, ${r.info.retriever} retrieval. ${machine} TF.js backend ${r.backend}.`,
      '',
      '| calls timed | median (ms) | p99 (ms) | calls for the leak check | tensors before | tensors after | RSS before → after (MB) | calls/s |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| ${IN_PROCESS_TIMED.toLocaleString('en')} | ${f(r.median, 3)} | ${f(r.p99, 3)} | ${IN_PROCESS_LEAK.toLocaleString('en')} | ${r.tensorsBefore} | ${r.tensorsAfter} | ${f(r.rss0, 0)} → ${f(r.rss1, 0)} | ${f(r.callsPerSecond, 0)} |`,
      '',
    );
    if (r.tensorsAfter !== r.tensorsBefore) log(`tensor count grew from ${r.tensorsBefore} to ${r.tensorsAfter}`);
  }

  // 3. Threads under contention.
  if (SECTIONS.has('threads')) {
    const rows = await threadsUnderContention(bundle, data, histories);
    failed ||= rows.some((r) => r.http.bad > 0);
    md.push(
      '## Serving: wasm threads under contention',
      '',
      `${machine} "loaded" = one busy-looping process per core beside the server. In-process: ${QUICK ? 300 : 3000} recommend() calls (k=${K}) in a fresh process per row; HTTP: concurrency 16 for ${DURATION} s.`,
      '',
      '| SEQREC_WASM_THREADS | machine | in-process p50 (ms) | in-process p99 (ms) | HTTP req/s | HTTP p50 (ms) | HTTP p99 (ms) | failed |',
      '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map(
        (r) => `| ${r.threads} | ${r.load} | ${f(r.median, 2)} | ${f(r.p99, 2)} | ${f(r.http.rps, 0)} | ${f(r.http.p50)} | ${f(r.http.p99)} | ${r.http.bad} |`,
      ),
      '',
    );
  }

  const text = md.join('\n');
  process.stdout.write(text);
  if (process.env.BENCH_MD) {
    await mkdir(dirname(resolve(process.env.BENCH_MD)), { recursive: true });
    await writeFile(process.env.BENCH_MD, text);
  }
  if (failed) {
    log('some requests failed or tensors leaked');
    process.exitCode = 1;
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
