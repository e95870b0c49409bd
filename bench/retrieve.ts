/**
 * `npm run bench:retrieve`: queries/s of top-50 retrieval over 30,000 and 1,000,000 random
 * items at dim 64, batch 1 and batch 256, for seqrec's exact retriever (and faiss-node when it
 * loads), next to Python faiss IndexFlatIP (the peer's retrieval) in the same run. Each cell
 * is a fresh process; sides alternate; the table shows the median over BENCH_REPEATS (3).
 * Env: BENCH_SIZES ("30000,1000000"), BENCH_BATCHES ("1,256"), BENCH_ENGINES
 * ("exact,faiss:Flat,faiss:HNSW32", plus pgvector:hnsw when BENCH_DATABASE_URL is set; list
 * pgvector:hnsw|ivfflat|none to run them against a PGlite server started per process instead),
 * BENCH_HNSW_MAX (100000: largest N with HNSW rows),
 * BENCH_PEER_HNSW ("0" skips the Python HNSW rows), BENCH_INDEX_CACHE (bench/results/index-cache;
 * see retrieve-one.ts), BENCH_OUT (bench/results/retrieve.json; every measurement is also appended
 * to <BENCH_OUT>.rows.jsonl as it finishes).
 * Python's HNSW rows read the index seqrec built and saved in the cache (same graph, same
 * calibrated efSearch): faiss's own default efSearch (16) would compare a recall of ~0.3 with
 * seqrec's 0.95.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { median } from './stats.js';

const env = process.env;
const repeats = Number(env.BENCH_REPEATS ?? 3);
const sizes = (env.BENCH_SIZES ?? '30000,1000000').split(',').map(Number);
const batches = (env.BENCH_BATCHES ?? '1,256').split(',').map(Number);
const engines = (env.BENCH_ENGINES ?? `exact,faiss:Flat,faiss:HNSW32${env.BENCH_DATABASE_URL ? ',pgvector:hnsw' : ''}`).split(',');
const python = env.PEER_PYTHON ?? '/usr/bin/python3';
const out = env.BENCH_OUT ?? 'bench/results/retrieve.json';
const rowsOut = out.replace(/\.json$/, '') + '.rows.jsonl';
const hnswMax = Number(env.BENCH_HNSW_MAX ?? 100000);
const indexCache = env.BENCH_INDEX_CACHE ?? 'bench/results/index-cache';
process.env.BENCH_INDEX_CACHE = indexCache; // read by retrieve-one.ts
const dim = 64;
const k = 50;

function run(cmd: string, args: string[], extraEnv: Record<string, string> = {}): Record<string, number | string | boolean | null> | null {
  try {
    const text = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 24, env: { ...process.env, ...extraEnv } });
    return JSON.parse(text.trim().split('\n').pop()!);
  } catch (err) {
    process.stderr.write(`  skipped ${args.slice(0, 3).join(' ')}: ${(err as Error).message.split('\n').find((l) => /Error|error/.test(l)) ?? 'failed'}\n`);
    return null;
  }
}

const rows: { side: string; n: number; batch: number; qps: number; build: number; rss: number; recall: number | null }[] = [];
for (const n of sizes) {
  for (const batch of batches) {
    // Enough queries for a stable median, bounded for the slow cells (exact, 1M items).
    const queries = batch === 1 ? (n > 100000 ? 20 : 200) : batch * (n > 100000 ? 2 : 8);
    const sides: { side: string; cmd: string; args: string[]; env?: Record<string, string> }[] = [];
    // Building HNSW over 1M vectors takes many minutes on 2 cores: graph indexes run only up to
    // BENCH_HNSW_MAX items (default 100,000). Each seqrec engine runs at 1 and 2 threads (the
    // addon's and faiss's OpenMP pools, and OpenBLAS); exact also without the addon (JavaScript).
    for (const e of engines.filter((x) => n <= hnswMax || !/hnsw/i.test(x))) {
      const args = ['--import', 'tsx', 'bench/retrieve-one.ts', e, `${n}`, `${dim}`, `${batch}`, `${queries}`, `${k}`];
      if (e.startsWith('pgvector:')) {
        // The database does the work: the client's thread count does not matter.
        sides.push({ side: `seqrec ${e} 1t`, cmd: process.execPath, args });
        continue;
      }
      const label = e === 'exact' ? 'exact (native sgemm)' : e;
      for (const t of [1, 2]) {
        const threads = `${t}`;
        sides.push({
          side: `seqrec ${label} ${t}t`,
          cmd: process.execPath,
          args,
          env: { SEQREC_THREADS: threads, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads },
        });
      }
      if (e === 'exact') sides.push({ side: 'seqrec exact (JavaScript) 1t', cmd: process.execPath, args, env: { SEQREC_NATIVE: '0' } });
    }
    for (const t of [1, 2])
      sides.push({
        side: `python faiss Flat ${t}t`,
        cmd: python,
        args: ['bench/peer_retrieve.py', `${n}`, `${dim}`, `${batch}`, `${queries}`, `${t}`, `${k}`],
      });
    if (n <= hnswMax && env.BENCH_PEER_HNSW !== '0' && engines.includes('faiss:HNSW32')) {
      for (const t of [1, 2])
        sides.push({
          side: `python faiss HNSW32 ${t}t`,
          cmd: python,
          args: ['bench/peer_retrieve.py', `${n}`, `${dim}`, `${batch}`, `${queries}`, `${t}`, `${k}`, 'HNSW32', `${indexCache}/HNSW32-${n}-${dim}.faiss`],
        });
    }
    const per = new Map<string, Record<string, number | string | boolean | null>[]>();
    for (let r = 0; r < repeats; r++) {
      for (const s of sides) {
        process.stderr.write(`N=${n} batch=${batch} ${s.side} (${r + 1}/${repeats})\n`);
        const res = run(s.cmd, s.args, s.env);
        if (!res) continue;
        appendFileSync(rowsOut, JSON.stringify({ ...res, side: s.side, n, batch, repeat: r }) + '\n'); // rows survive a stopped run
        per.set(s.side, [...(per.get(s.side) ?? []), res]);
      }
    }
    for (const [side, rs] of per) {
      // Say which faiss-node searched: seqrec's build (typed arrays) or another (JS arrays).
      const how = rs[0].faiss_typed === true ? ' (typed arrays)' : rs[0].faiss_typed === false ? ' (JS arrays)' : '';
      rows.push({
        side: side.replace(/ (\d)t$/, `${how} $1t`),
        n,
        batch,
        qps: median(rs.map((x) => Number(x.queries_per_second))),
        // pgvector against BENCH_DATABASE_URL builds its table once and the later repeats reuse it: the build is the first's.
        build: side.includes('pgvector') ? Math.max(...rs.map((x) => Number(x.build_seconds))) : median(rs.map((x) => Number(x.build_seconds))),
        rss: Math.max(...rs.map((x) => Number(x.peak_rss_mb))),
        recall: typeof rs[0].recall_at_k === 'number' ? median(rs.map((x) => Number(x.recall_at_k))) : null,
      });
    }
  }
}
const lines = [
  '| items | batch | side | queries/s | build s | peak RSS MB | recall@50 vs exact | ratio to python faiss (same index kind, same threads) |',
  '|---|---|---|---|---|---|---|---|',
];
for (const r of rows) {
  // Flat against Flat, HNSW against HNSW (the same saved graph), at the same thread count.
  const kind = r.side.includes('HNSW') ? 'HNSW32' : 'Flat';
  const threads = / (\d)t$/.exec(r.side)?.[1] ?? '1';
  const peer = rows.find((p) => p.n === r.n && p.batch === r.batch && p.side === `python faiss ${kind} ${threads}t`);
  const ratio = peer && r.side.startsWith('seqrec') ? (r.qps / peer.qps).toFixed(3) : '';
  const recall = r.recall === null ? '' : r.recall.toFixed(3);
  lines.push(`| ${r.n} | ${r.batch} | ${r.side} | ${r.qps.toFixed(1)} | ${r.build.toFixed(2)} | ${r.rss.toFixed(0)} | ${recall} | ${ratio} |`);
}
process.stdout.write(lines.join('\n') + '\n');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), repeats, dim, k, rows }, null, 2));
