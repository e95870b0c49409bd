/**
 * PgvectorRetriever against a real PostgreSQL wire server with pgvector:
 * $SEQREC_TEST_DATABASE_URL, else scripts/test-postgres.mjs (PGlite + pgvector over
 * pglite-socket) started by test/pg-database.ts. Never skipped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { ExactRetriever, PgvectorRetriever, writeItemTable } from '../../src/retrieval/index.js';
import { Random } from '../../src/util/random.js';
import { testDatabase, testDigest, type TestDatabase } from '../pg-database.js';
import { assertSameResult, randomVectors, recallAgainst, rejectsSeqrec, retrieverContract } from './contract.js';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(async () => {
  await db.close();
});

const create = (items: Float32Array, dim: number, metric: 'ip' | 'cosine', index: Parameters<typeof writeItemTable>[0]['index'] = { kind: 'hnsw' }) =>
  PgvectorRetriever.create({ connectionString: db.url, digest: testDigest('contract'), itemVectors: items, dim, metric, index });

// HNSW (m 16, ef_construction 64, ef_search 100): recall@50 >= 0.95 of ExactRetriever's lists on 3000 random vectors.
retrieverContract('PgvectorRetriever (HNSW)', (items, dim, metric) => create(items, dim, metric), { exact: false, recall: 0.95 });
// No index: exact scans in float32, so the lists are ExactRetriever's with float32-close scores.
retrieverContract('PgvectorRetriever (no index)', (items, dim, metric) => create(items, dim, metric, { kind: 'none' }), { exact: true, tolerance: 1e-4 });

describe('PgvectorRetriever: indexes, parameters, tables', () => {
  const rng = new Random(99);
  const dim = 8;
  const items = randomVectors(rng, 2001 * dim);
  const queries = randomVectors(rng, 20 * dim);

  it('searches really use the HNSW index (EXPLAIN of the search statement)', async () => {
    const r = await create(items, dim, 'ip');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const plan = await client.query(
        `EXPLAIN SELECT s.id FROM unnest($1::vector[]) AS q(v) CROSS JOIN LATERAL (SELECT t.id FROM ${r.table.table} t ORDER BY t.embedding <#> q.v LIMIT 10) s`,
        [[`[${Array.from(queries.subarray(0, dim)).join(',')}]`]],
      );
      const text = plan.rows.map((row) => row['QUERY PLAN']).join('\n');
      assert.match(text, new RegExp(`Index Scan using ${r.table.table}_hnsw`), text);
    } finally {
      await client.end();
      await r.dispose();
    }
  });

  it('IVFFlat: probes = lists scans every list (exact lists); the default probes is sqrt(lists)', async () => {
    const truth = new ExactRetriever(items, dim, { native: false }).search(queries, { k: 20 });
    const digest = testDigest('ivf');
    // maintenance_work_mem set for the build (large catalogues need more than the 64 MB default).
    await writeItemTable({
      connectionString: db.url,
      digest,
      itemVectors: items,
      dim,
      metric: 'ip',
      index: { kind: 'ivfflat', lists: 16 },
      maintenanceWorkMem: '128MB',
    });
    const all = await PgvectorRetriever.open({ connectionString: db.url, digest, probes: 16 });
    const dflt = await PgvectorRetriever.open({ connectionString: db.url, digest });
    try {
      assert.deepEqual(dflt.searchParams, { efSearch: null, probes: 4 });
      assertSameResult(await all.search(queries, { k: 20 }), truth, 'ivfflat probes=lists', 1e-4);
      // Few probes may find fewer than k rows: those rows are re-asked exactly, so every list is full.
      const some = await dflt.search(queries, { k: 20 });
      assert.ok(!some.ids.includes(-1));
      assert.ok(recallAgainst(some, truth) >= 0.5);
    } finally {
      await all.dispose();
      await dflt.dispose();
    }
  });

  it('k above HNSW ef_search cap (1000) still returns full exact lists', async () => {
    const r = await create(items, dim, 'ip');
    try {
      const q = queries.subarray(0, 2 * dim);
      const got = await r.search(q, { k: 1200 });
      const want = new ExactRetriever(items, dim, { native: false }).search(q, { k: 1200 });
      assert.ok(!got.ids.includes(-1));
      assert.ok(recallAgainst(got, want) >= 0.999);
    } finally {
      await r.dispose();
    }
  });

  it('writing is idempotent per digest, and an incomplete table is rewritten', async () => {
    const digest = testDigest('idem');
    const opts = { connectionString: db.url, digest, itemVectors: items, dim, metric: 'cosine' as const };
    const first = await writeItemTable(opts);
    assert.equal(first.created, true);
    assert.equal(first.table, `seqrec_items_${digest.slice(0, 16)}`);
    assert.deepEqual([first.itemCount, first.dim, first.metric, first.index.kind], [2000, dim, 'cosine', 'hnsw']);
    assert.equal((await writeItemTable(opts)).created, false);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(`DELETE FROM ${first.table} WHERE id > 1990`);
      await rejectsSeqrec(
        () => PgvectorRetriever.open({ connectionString: db.url, digest }),
        'invalid_config',
        new RegExp(`no complete pgvector item table for bundle digest ${digest}`),
      );
      assert.equal((await writeItemTable(opts)).created, true);
      const n = await client.query(`SELECT count(*)::int AS n FROM ${first.table}`);
      assert.equal(n.rows[0].n, 2000);
      const reg = await client.query('SELECT dim, metric, index_kind, index_params, item_count FROM seqrec_bundles WHERE digest = $1', [digest]);
      assert.deepEqual(reg.rows[0], { dim, metric: 'cosine', index_kind: 'hnsw', index_params: { m: 16, efConstruction: 64 }, item_count: 2000 });
    } finally {
      await client.end();
    }
  });

  it('a missing table names the digest and the export command; a mismatched one the field', async () => {
    const digest = testDigest('missing');
    await rejectsSeqrec(
      () => PgvectorRetriever.open({ connectionString: db.url, digest, bundleDir: '/srv/bundle' }),
      'invalid_config',
      new RegExp(`digest ${digest}.*seqrec export --model /srv/bundle --to`),
    );
    const r = await create(items, dim, 'ip');
    const d = r.table.digest;
    await r.dispose();
    await rejectsSeqrec(() => PgvectorRetriever.open({ connectionString: db.url, digest: d, expect: { dim: 9 } }), 'shape_mismatch', /dim 8, the bundle 9/);
    await rejectsSeqrec(() => PgvectorRetriever.open({ connectionString: db.url, digest: d, probes: 3 }), 'invalid_config', /probes applies to IVFFlat/);
  });

  it('bad options are clear errors before any connection', async () => {
    const digest = testDigest('opts');
    await rejectsSeqrec(
      () => PgvectorRetriever.open({ connectionString: db.url, digest, efSerch: 10 } as never),
      'invalid_config',
      /unknown option 'efSerch' \(did you mean 'efSearch'\?\)/,
    );
    await rejectsSeqrec(
      () => PgvectorRetriever.open({ connectionString: 'mysql://x', digest }),
      'invalid_config',
      /connectionString: must be a PostgreSQL URL/,
    );
    await rejectsSeqrec(() => PgvectorRetriever.open({ connectionString: db.url, digest, efSearch: 5000 }), 'invalid_config', /efSearch/);
    await rejectsSeqrec(
      () => writeItemTable({ connectionString: db.url, digest: 'abc', itemVectors: items, dim, metric: 'ip' }),
      'invalid_argument',
      /digest must be 64/,
    );
    await rejectsSeqrec(
      () => writeItemTable({ connectionString: db.url, digest, itemVectors: items, dim, metric: 'ip', index: { kind: 'hnsw', m: 40, efConstruction: 50 } }),
      'invalid_config',
      /efConstruction \(50\) must be at least 2 \* m = 80/,
    );
    await rejectsSeqrec(
      () => writeItemTable({ connectionString: db.url, digest, itemVectors: items, dim, metric: 'ip', maintenanceWorkMem: "1GB'; DROP TABLE x; --" }),
      'invalid_argument',
      /maintenanceWorkMem must be a size such as '512MB'/,
    );
  });

  it('a server that is not there is a backend_unavailable error naming host:port, never the password', async () => {
    await rejectsSeqrec(
      () => PgvectorRetriever.open({ connectionString: 'postgres://u:s3cret@127.0.0.1:1/db', digest: testDigest('down'), connectTimeoutMs: 2000 }),
      'backend_unavailable',
      /^(?!.*s3cret).*127\.0\.0\.1:1\/db/,
    );
  });

  it('dispose waits for the searches in flight, then refuses new ones', async () => {
    const r = await create(items, dim, 'ip');
    const running = r.search(queries, { k: 10 });
    const disposing = r.dispose();
    assert.equal((await running).numQueries, 20);
    await disposing;
    await rejectsSeqrec(() => r.search(queries, { k: 10 }), 'invalid_argument', /disposed/);
  });

  it('concurrent searches on a pool of several connections answer each its own query', async () => {
    const made = await create(items, dim, 'ip');
    await made.dispose();
    const r = await PgvectorRetriever.open({ connectionString: db.url, digest: made.table.digest, poolSize: 4 });
    try {
      const exact = new ExactRetriever(items, dim, { native: false });
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => r.search(queries.subarray(i * dim, (i + 1) * dim), { k: 5 })));
      answers.forEach((a, i) => assert.ok(recallAgainst(a, exact.search(queries.subarray(i * dim, (i + 1) * dim), { k: 5 })) >= 0.8, `query ${i}`));
    } finally {
      await r.dispose();
    }
  });
});
