/**
 * `npm run bench:train`: training throughput of every model on every loadable backend, next to
 * the PyTorch peer measured in the same run, at the shapes of issue 3:
 *   (B 256, L 20, D 64, N 3,706) and (B 256, L 50, D 64, N 30,000).
 *
 * Each measurement is a fresh process (bench/train-step.ts or bench/peer_step.py); seqrec and
 * peer processes alternate, REPEATS times, and the table reports the median of the per-process
 * medians, so machine noise hits both sides alike. Options (env):
 *   BENCH_REPEATS (3), BENCH_STEPS (20), BENCH_MODELS (all registered; 'sasrec' runs
 *   bench/sasrec-step.ts, full softmax at every position of full windows, e.g.
 *   BENCH_SHAPES=128x200x64x3416; 'sasrec-sampled' the same with sampled softmax over 256
 *   uniform negatives, e.g. 128x50x64x12101),
 *   BENCH_BACKENDS (wasm,cpu),
 *   BENCH_THREADS (wasm thread counts, "1,<cores>"),
 *   BENCH_NATIVE ("0,1": the wasm backend without and with the native kernels),
 *   BENCH_SHAPES ("256x20x64x3706,256x50x64x30000"), BENCH_PARTS ("1,2": seqrec single-threaded and
 *   data-parallel over 2 cores), BENCH_CPU_SHAPES (shapes the slow cpu backend runs, default the
 *   first), PEER_DIR (../shared/peer-torch),
 *   BENCH_OUT (bench/results/train.json).
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { MODELS } from '../src/models/registry.js';

const env = process.env;
const repeats = Number(env.BENCH_REPEATS ?? 3);
const steps = Number(env.BENCH_STEPS ?? 20);
const models = (env.BENCH_MODELS ?? Object.keys(MODELS).join(',')).split(',');
const backends = (env.BENCH_BACKENDS ?? 'wasm,cpu').split(',');
const shapes = (env.BENCH_SHAPES ?? '256x20x64x3706,256x50x64x30000').split(',').map((s) => s.split('x').map(Number));
const partsList = (env.BENCH_PARTS ?? '1,2').split(',').map(Number);
const threadsList = (env.BENCH_THREADS ?? `1,${cpus().length}`).split(',').map(Number);
const nativeList = (env.BENCH_NATIVE ?? '0,1').split(',');
const cpuShapes = new Set((env.BENCH_CPU_SHAPES ?? '256x20x64x3706').split(','));
const peerDir = resolve(env.PEER_DIR ?? '../shared/peer-torch');
const python = env.PEER_PYTHON ?? '/usr/bin/python3';
const out = env.BENCH_OUT ?? 'bench/results/train.json';
const rowsOut = out.replace(/\.json$/, '') + '.rows.jsonl';
mkdirSync(dirname(out), { recursive: true });
const peerModels = new Set(['gru4rec', 'youtubednn', 'mind', 'comirec-dr', 'comirec-sa', 'sasrec', 'sasrec-sampled']);
const hasPeer = existsSync(`${peerDir}/peer_torch/bench.py`);

interface Row {
  side: string;
  model: string;
  shape: string;
  median_ms_per_step: number;
  samples_per_second: number;
  peak_rss_mb: number;
}

function run(cmd: string, args: string[], extraEnv: Record<string, string> = {}): Record<string, number | string> | null {
  try {
    const text = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 24, env: { ...process.env, ...extraEnv } });
    const line = text.trim().split('\n').pop()!;
    return JSON.parse(line);
  } catch (err) {
    process.stderr.write(`  failed: ${cmd} ${args.join(' ')}: ${(err as Error).message.split('\n')[0]}\n`);
    return null;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const results: Row[] = [];
const raw: unknown[] = [];
for (const [b, l, d, n] of shapes) {
  const shape = `B${b} L${l} D${d} N${n}`;
  for (const model of models) {
    const sides: { side: string; cmd: string; args: string[]; env?: Record<string, string> }[] = [];
    for (const backend of backends) {
      // The plain-JS cpu backend is ~20x slower: fewer steps and shapes keep the run bounded.
      if (backend === 'cpu' && !cpuShapes.has(`${b}x${l}x${d}x${n}`)) continue;
      const s = backend === 'cpu' ? Math.max(3, Math.floor(steps / 5)) : steps;
      for (const parts of backend === 'cpu' ? [1] : partsList) {
        if (model.startsWith('sasrec') && parts > 1) continue; // no data-parallel path for it yet
        // The wasm backend at each thread count (data-parallel parts run one thread each).
        for (const threads of backend === 'wasm' && parts === 1 ? threadsList : [1]) {
          // The wasm backend with the native kernels (SEQREC_NATIVE=1) and without (=0).
          for (const nat of backend === 'wasm' ? nativeList : ['0']) {
            const kind = backend === 'wasm' && nat === '1' ? 'native' : backend;
            const label = `seqrec ${kind}${backend === 'wasm' && parts === 1 ? ` ${threads}t` : ''}${parts > 1 ? ` x${parts} cores` : ''}`;
            // SASRec trains at every position: its own step script (the peer's bench_sasrec recipe).
            const args = model.startsWith('sasrec')
              ? ['--import', 'tsx', 'bench/sasrec-step.ts', backend, `${b}`, `${l}`, `${d}`, `${n}`, `${s}`, model === 'sasrec' ? 'softmax' : 'sampled', '256']
              : ['--import', 'tsx', 'bench/train-step.ts', backend, model, `${b}`, `${l}`, `${d}`, `${n}`, `${s}`, `${parts}`];
            // Native rows: the native pools get the threads and wasm one (the default split, see
            // wasmThreadsWanted); wasm-only rows: the wasm pool gets them.
            const threadEnv: Record<string, string> =
              nat === '1' ? { SEQREC_THREADS: `${threads}`, SEQREC_WASM_THREADS: '1' } : { SEQREC_WASM_THREADS: `${threads}` };
            sides.push({ side: label, cmd: process.execPath, args, env: { ...threadEnv, SEQREC_NATIVE: nat } });
          }
        }
      }
    }
    if (hasPeer && peerModels.has(model)) {
      for (const threads of [1, 2]) {
        sides.push({
          side: `peer torch ${threads}t`,
          cmd: python,
          args: ['bench/peer_step.py', peerDir, model, `${b}`, `${l}`, `${d}`, `${n}`, `${threads}`, `${steps}`],
        });
      }
    }
    const per = new Map<string, Record<string, number | string>[]>();
    for (let r = 0; r < repeats; r++) {
      for (const s of sides) {
        process.stderr.write(`${shape} ${model} ${s.side} (${r + 1}/${repeats})\n`);
        const res = run(s.cmd, s.args, s.env);
        if (res) {
          raw.push({ ...res, side: s.side, repeat: r });
          appendFileSync(rowsOut, JSON.stringify({ ...res, side: s.side, shape, repeat: r }) + '\n'); // rows survive a stopped run
          per.set(s.side, [...(per.get(s.side) ?? []), res]);
        }
      }
    }
    for (const [side, rs] of per) {
      const ms = median(rs.map((x) => Number(x.median_ms_per_step)));
      results.push({
        side,
        model,
        shape,
        median_ms_per_step: ms,
        samples_per_second: (b * 1000) / ms,
        peak_rss_mb: Math.max(...rs.map((x) => Number(x.peak_rss_mb))),
      });
    }
  }
}

const lines: string[] = [];
lines.push(
  `Machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}; node ${process.version}; ${repeats} processes per cell, ${steps} timed steps each after 3 warm-ups.`,
);
lines.push('');
lines.push('| shape | model | side | median ms/step | samples/s | peak RSS MB | seqrec / peer throughput, same threads |');
lines.push('|---|---|---|---|---|---|---|');
for (const r of results) {
  const threads = / (\d+)t$/.exec(r.side)?.[1] ?? '2';
  const peer = results.find((p) => p.shape === r.shape && p.model === r.model && p.side === `peer torch ${threads}t`);
  const ratio = peer && r.side.startsWith('seqrec') ? (r.samples_per_second / peer.samples_per_second).toFixed(3) : '';
  lines.push(
    `| ${r.shape} | ${r.model} | ${r.side} | ${r.median_ms_per_step.toFixed(1)} | ${Math.round(r.samples_per_second)} | ${r.peak_rss_mb.toFixed(0)} | ${ratio} |`,
  );
}
const table = lines.join('\n');
process.stdout.write(table + '\n');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), repeats, steps, results, raw }, null, 2));
process.stderr.write(`wrote ${out}\n`);
