/**
 * One retrieval measurement in a fresh process: top-K inner-product search over N random
 * items of dimension DIM, queries in batches of BATCH. Prints one JSON line.
 *
 *   node --import tsx bench/retrieve-one.ts ENGINE N DIM BATCH QUERIES K
 * ENGINE: exact | faiss:<factory> (e.g. faiss:Flat, faiss:HNSW32) | pgvector:<hnsw|ivfflat|none>
 * pgvector: the items go into PostgreSQL at $BENCH_DATABASE_URL (the table is named by N, DIM and
 * the index kind, so later processes reuse it), or into a PGlite server started for this process
 * (scripts/test-postgres.mjs; WebAssembly, so much slower than a real server). Its line also has
 * recall_at_k against ExactRetriever on the same queries. BENCH_PG_EF_SEARCH and BENCH_PG_PROBES set
 * hnsw.ef_search and ivfflat.probes (default: the retriever's, 100 and sqrt(lists)).
 * BENCH_INDEX_CACHE=dir: save a built faiss index there and load it in later processes (the
 * random data is the same for the same N and DIM), so slow builds (HNSW over 1M) happen once.
 * The build's own time is kept next to the cached index (<index>.build-seconds) and reported as
 * build_seconds by the processes that load it (their load time is load_seconds).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Random } from '../src/util/random.js';
import { ExactRetriever } from '../src/retrieval/exact.js';
import { createHash } from 'node:crypto';
import type { AsyncRetriever, Retriever } from '../src/retrieval/types.js';
import { loadFaissNode } from '../src/retrieval/faiss/native.js';

const [engine, N, DIM, BATCH, QUERIES, K] = process.argv.slice(2);
const [n, dim, batch, queries, k] = [N, DIM, BATCH, QUERIES, K].map(Number);
const rng = new Random(0);
// Row 0 is padding, as in a model's item table.
const items = new Float32Array((n + 1) * dim);
for (let i = dim; i < items.length; i++) items[i] = rng.normal();
const qs = new Float32Array(queries * dim);
for (let i = 0; i < qs.length; i++) qs[i] = rng.normal();

const buildSecondsFile = (indexPath: string) => `${indexPath}.build-seconds`;
const t0 = performance.now();
let retriever: Retriever | AsyncRetriever;
let stopDatabase: (() => Promise<void>) | null = null;
let cachedBuildSeconds: number | null = null;
if (engine === 'exact') {
  retriever = new ExactRetriever(items, dim);
} else if (engine.startsWith('faiss:')) {
  const { FaissRetriever } = await import('../src/retrieval/faiss.js');
  const factory = engine.slice(6);
  const cache = process.env.BENCH_INDEX_CACHE;
  const path = cache ? join(cache, `${factory.replace(/[^A-Za-z0-9]/g, '_')}-${n}-${dim}.faiss`) : null;
  if (path && existsSync(path)) {
    retriever = FaissRetriever.load(path, { itemVectors: items });
    if (existsSync(buildSecondsFile(path))) cachedBuildSeconds = Number(readFileSync(buildSecondsFile(path), 'utf8'));
  } else {
    const built = new FaissRetriever(items, dim, { factory, metric: 'ip' });
    if (path) {
      const seconds = (performance.now() - t0) / 1000;
      mkdirSync(cache!, { recursive: true });
      built.save(path);
      writeFileSync(buildSecondsFile(path), `${seconds}\n`);
    }
    retriever = built;
  }
} else if (engine.startsWith('pgvector:')) {
  const kind = engine.slice(9);
  if (kind !== 'hnsw' && kind !== 'ivfflat' && kind !== 'none') throw new Error(`unknown pgvector index ${kind} (hnsw, ivfflat, none)`);
  const { PgvectorRetriever } = await import('../src/retrieval/pgvector.js');
  let url = process.env.BENCH_DATABASE_URL;
  if (!url) {
    const { testDatabase } = await import('../test/pg-database.js');
    const db = await testDatabase();
    url = db.url;
    stopDatabase = db.close;
  }
  const digest = createHash('sha256').update(`seqrec-bench:${n}:${dim}:${kind}`).digest('hex');
  // BENCH_PG_EF_SEARCH / BENCH_PG_PROBES: the search-time knobs (default: the retriever's).
  const efSearch = process.env.BENCH_PG_EF_SEARCH ? Number(process.env.BENCH_PG_EF_SEARCH) : undefined;
  const probes = process.env.BENCH_PG_PROBES ? Number(process.env.BENCH_PG_PROBES) : undefined;
  // The builds at 1M items need more than PostgreSQL's default 64 MB (IVFFlat's k-means: 209 MB).
  const maintenanceWorkMem = process.env.BENCH_PG_MAINTENANCE_WORK_MEM ?? '1GB';
  retriever = await PgvectorRetriever.create({
    connectionString: url,
    digest,
    itemVectors: items,
    dim,
    metric: 'ip',
    index: { kind },
    efSearch,
    probes,
    maintenanceWorkMem,
  });
} else {
  throw new Error(`unknown engine ${engine}`);
}
const setupSeconds = (performance.now() - t0) / 1000;
await retriever.search(qs.subarray(0, Math.min(batch, queries) * dim), { k }); // warm-up
const perQuery: number[] = [];
const found = new Int32Array(queries * k);
for (let start = 0; start < queries; start += batch) {
  const end = Math.min(queries, start + batch);
  const t = performance.now();
  // Awaiting a synchronous result costs a microtask, well below the timer's resolution here.
  const r = await retriever.search(qs.subarray(start * dim, end * dim), { k });
  perQuery.push((performance.now() - t) / 1000 / (end - start));
  found.set(r.ids, start * k);
}
/** recall@k against exact search, for the approximate engines (exact is its own truth). */
function recallAtK(): number | null {
  if (engine === 'exact') return null;
  const truth = new ExactRetriever(items, dim).search(qs, { k }).ids;
  let hits = 0;
  for (let q = 0; q < queries; q++) {
    const want = new Set(truth.subarray(q * k, (q + 1) * k));
    for (let j = 0; j < k; j++) if (want.has(found[q * k + j])) hits++;
  }
  return hits / (queries * k);
}
perQuery.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    side: `seqrec ${engine}`,
    N: n,
    dim,
    batch,
    k,
    queries_per_second: 1 / perQuery[Math.floor(perQuery.length / 2)],
    build_seconds: cachedBuildSeconds ?? setupSeconds,
    load_seconds: cachedBuildSeconds === null ? null : setupSeconds,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    recall_at_k: recallAtK(),
    // faiss-node built by `seqrec setup faiss` has typed-array search; other builds take JS arrays.
    faiss_typed: engine.startsWith('faiss:') ? typeof new (loadFaissNode().IndexFlatIP)(dim).searchTyped === 'function' : null,
  }),
);
await retriever.dispose();
await stopDatabase?.();
