/**
 * `seqrec export --to` and `seqrec serve --retriever pgvector` against one PostgreSQL +
 * pgvector server (test/pg-database.ts): the item table is found by the bundle's digest, two
 * replicas answer identically, and the Recommender's async path equals exact retrieval.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeqrecError } from '../../src/errors.js';
import { Recommender } from '../../src/serve/recommender.js';
import { fileIn } from '../bundle/bundle-files.js';
import { testDatabase, type TestDatabase } from '../pg-database.js';
import { get, post, runCli, trainTinyBundle, waitForOutput, type CliProcess } from '../serve/helpers.js';

let db: TestDatabase;
let bundle: string;
let items: string[];

before(async () => {
  db = await testDatabase();
  bundle = (await trainTinyBundle({ seed: 13, epochs: 1 })).dir;
  items = (JSON.parse(await readFile(fileIn(bundle, 'vocabulary.json'), 'utf8')) as { items: string[] }).items;
});
after(async () => {
  await db.close();
  await rm(dirname(bundle), { recursive: true, force: true });
});

async function serve(): Promise<{ p: CliProcess; base: string }> {
  const p = runCli(['serve', '--port', '0', '--model', bundle, '--retriever', 'pgvector', '--database-url', db.url, '--pg-pool-size', '2']);
  await waitForOutput(p, (out) => /listening on http:\/\/127\.0\.0\.1:\d+/.test(out), 60_000);
  return { p, base: /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.stdout())![1] };
}

async function stop(p: CliProcess): Promise<void> {
  if (p.child.exitCode === null) p.child.kill('SIGTERM');
  await p.exited;
}

describe('seqrec export --to / serve --retriever pgvector', () => {
  it('serve fails at startup, naming the digest and the export command, when the table is missing', async () => {
    const p = runCli(['serve', '--port', '0', '--model', bundle, '--retriever', 'pgvector', '--database-url', db.url]);
    assert.notEqual(await p.exited, 0);
    assert.match(p.stderr(), /no complete pgvector item table for bundle digest [0-9a-f]{64}.*seqrec export --model .* --to/);
  });

  it('flag errors: pgvector without a URL, a URL without pgvector', async () => {
    const a = runCli(['serve', '--port', '0', '--model', bundle, '--retriever', 'pgvector'], { SEQREC_DATABASE_URL: undefined });
    assert.notEqual(await a.exited, 0);
    assert.match(a.stderr(), /--retriever pgvector needs the database: --database-url/);
    const b = runCli(['serve', '--port', '0', '--model', bundle, '--database-url', db.url]);
    assert.notEqual(await b.exited, 0);
    assert.match(b.stderr(), /--database-url is only used with --retriever pgvector/);
    const c = runCli(['export', '--model', bundle]);
    assert.notEqual(await c.exited, 0);
    assert.match(c.stderr(), /give --out BUNDLE_DIR .* and\/or --to postgres:/);
    const d = runCli(['export', '--model', bundle, '--to', db.url, '--pg-lists', '8']);
    assert.notEqual(await d.exited, 0);
    assert.match(d.stderr(), /--pg-lists applies to --pg-index ivfflat, not hnsw/);
  });

  it('export writes the table once (idempotent), then two replicas answer the same requests identically', async () => {
    const first = runCli(['export', '--model', bundle, '--to', db.url]);
    assert.equal(await first.exited, 0, first.stderr());
    assert.match(first.stdout() + first.stderr(), /wrote \d+ item vectors .* to seqrec_items_[0-9a-f]{16}/);
    const again = runCli(['export', '--model', bundle, '--to', db.url]);
    assert.equal(await again.exited, 0, again.stderr());
    assert.match(again.stdout() + again.stderr(), /already holds the complete item table.*nothing written/);

    const replicas = [await serve(), await serve()];
    try {
      const health = await Promise.all(replicas.map((r) => get(r.base, '/health')));
      for (const h of health) assert.equal(h.body.retriever, 'pgvector');
      assert.equal(health[0].body.bundleDigest, health[1].body.bundleDigest);
      const histories = Array.from({ length: 12 }, (_, i) => [items[(i * 7) % items.length], items[(i * 13 + 5) % items.length]]);
      // Concurrent requests (coalesced into batches) and one batch request, to each replica.
      const answers = await Promise.all(
        replicas.map(async (r) => ({
          one: await Promise.all(histories.map((history) => post(r.base, '/recommend', { history, k: 15 }))),
          batch: await post(r.base, '/recommend/batch', { histories, k: 15, excludeSeen: false }),
        })),
      );
      for (const a of answers) {
        for (const res of [...a.one, a.batch]) assert.equal(res.status, 200, JSON.stringify(res.body));
        a.one.forEach((res, i) => {
          assert.equal(res.body.items.length, 15);
          for (const seen of histories[i]) assert.ok(!res.body.items.some((x: { id: string }) => x.id === seen), 'history item returned');
        });
      }
      assert.deepEqual(
        answers[0].one.map((r) => r.body),
        answers[1].one.map((r) => r.body),
      );
      assert.deepEqual(answers[0].batch.body, answers[1].batch.body);
    } finally {
      await Promise.all(replicas.map((r) => stop(r.p)));
    }
  });

  it('Recommender: recommend() refuses an async retriever; recommendAsync equals exact retrieval', async () => {
    const pgRec = await Recommender.load(bundle, { retriever: 'pgvector', pgvector: { connectionString: db.url } });
    const exact = await Recommender.load(bundle, { retriever: 'exact' });
    try {
      assert.equal(pgRec.answersAsync, true);
      assert.equal(exact.answersAsync, false);
      assert.throws(
        () => pgRec.recommend([items[1]]),
        (e: unknown) => e instanceof SeqrecError && /answers asynchronously; call recommendAsync instead/.test(e.message),
      );
      assert.throws(() => pgRec.recommendMany([[items[1]]]), /call recommendManyAsync instead/);
      const histories = Array.from({ length: 10 }, (_, i) => [items[(i * 11) % items.length], items[(i * 3 + 1) % items.length]]);
      const got = await pgRec.recommendManyAsync(histories, { k: 10 });
      const want = exact.recommendMany(histories, { k: 10 });
      got.forEach((g, i) => {
        assert.deepEqual(
          g.items.map((x) => x.id),
          want[i].items.map((x) => x.id),
          `history ${i}`,
        );
        g.items.forEach((x, j) => assert.ok(Math.abs(x.score - want[i].items[j].score) < 1e-4));
      });
      // The fallback path needs no database and is the same.
      assert.deepEqual(await pgRec.recommendAsync([]), exact.recommend([]));
    } finally {
      pgRec.dispose();
      exact.dispose();
    }
  });
});
