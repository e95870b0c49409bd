/**
 * `seqrec serve` as users run it: a child process on a random loopback port, real HTTP,
 * signals.
 */
import assert from 'node:assert/strict';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parsePrometheus } from '../../src/serve/metrics.js';
import { fileIn } from '../bundle/bundle-files.js';
import { get, loadDuring, post, runCli, tinyDataset, trainTinyBundle, waitForOutput, type CliProcess } from '../serve/helpers.js';
import { recentPopularity } from '../../src/bundle/cold-start.js';
import { exportRankerBundle } from '../../src/bundle/ranker-bundle.js';
import { ItemKNN } from '../../src/models/knn/item-knn.js';

let root: string;
const TOKEN = 'cli-serve-test-token';
let bundle: string;

before(async () => {
  bundle = (await trainTinyBundle({ seed: 9, epochs: 2 })).dir;
  root = dirname(bundle);
});
after(() => rm(root, { recursive: true, force: true }));

/** Starts `seqrec serve` (one process; serve-workers.test.ts has the workers) on port 0 and returns its base URL once it listens. */
async function serve(args: string[], env: Record<string, string | undefined> = {}): Promise<{ p: CliProcess; base: string }> {
  const p = runCli(['serve', '--port', '0', '--workers', '1', ...args], env);
  await waitForOutput(p, (out) => /listening on http:\/\/127\.0\.0\.1:\d+/.test(out));
  const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.stdout())![1];
  return { p, base };
}

describe('seqrec serve', () => {
  it('serves valid and invalid requests on a random loopback port, reloads under load, stops gracefully', async () => {
    const { p, base } = await serve(['--model', bundle, '--max-k', '50', '--max-history', '40'], { SEQREC_ADMIN_TOKEN: TOKEN });
    try {
      const items = (JSON.parse(await readFile(fileIn(bundle, 'vocabulary.json'), 'utf8')) as { items: string[] }).items;
      const health = await get(base, '/health');
      assert.equal(health.status, 200);
      assert.equal(health.body.numItems, items.length);

      // Valid requests.
      const r = await post(base, '/recommend', { history: [items[0], items[1], 'unknown-item'], k: 50 });
      assert.equal(r.status, 200);
      assert.equal(r.body.items.length, 50);
      assert.deepEqual(r.body.unknown, ['unknown-item']);
      assert.equal(r.body.fallback, null);
      assert.ok(!r.body.items.some((x: { id: string }) => x.id === items[0] || x.id === items[1]));
      const empty = await post(base, '/recommend', { history: [] });
      assert.equal(empty.body.fallback, 'popularity');
      const sim = await post(base, '/similar', { item: items[4], k: 3 });
      assert.equal(sim.status, 200);
      assert.equal(sim.body.items.length, 3);
      const batch = await post(base, '/recommend/batch', { histories: [[items[0]], ['zz']], k: 2 });
      assert.equal(batch.status, 200);
      assert.equal(batch.body.results.length, 2);

      // Invalid requests: bad JSON, k too large, history too long, wrong types, missing fields, unknown item.
      const bad: [unknown, number, RegExp][] = [
        ['{"history": [1,', 400, /not valid JSON/],
        [{ history: [items[0]], k: 51 }, 400, /body\.k must be <= 50/],
        [{ history: new Array(41).fill(items[0]) }, 400, /body\.history has too many entries \(at most 40\)/],
        [{ history: [true] }, 400, /body\.history\[0\] must be a string or an integer/],
        [{ history: [items[0]], k: 'ten' }, 400, /body\.k must be an integer/],
        [{ k: 3 }, 400, /missing the required field 'history'/],
        [{ history: [], filter: 'x' }, 400, /unknown field 'filter'/],
      ];
      for (const [body, status, message] of bad) {
        const res = await post(base, '/recommend', body);
        assert.equal(res.status, status, JSON.stringify(body));
        assert.match(res.body.message, message);
        assert.equal(typeof res.body.error, 'string');
      }
      const unknownSimilar = await post(base, '/similar', { item: 'zz' });
      assert.equal(unknownSimilar.status, 404);
      assert.equal(unknownSimilar.body.error, 'unknown_item');
      assert.equal((await get(base, '/health')).status, 200);

      // Hot reload under load: SIGHUP once, POST /admin/reload once, 8 clients throughout.
      const load = await loadDuring(base, items, async () => {
        p.child.kill('SIGHUP');
        await waitForOutput(p, () => /reloaded .* \(generation 2\)/.test(p.stderr()));
        await new Promise((res) => setTimeout(res, 150));
        const rr = await post(base, '/admin/reload', {}, { authorization: `Bearer ${TOKEN}` });
        assert.equal(rr.status, 200);
        assert.equal(rr.body.info.generation, 3);
      });
      assert.deepEqual([...load.statuses.keys()], ['200'], JSON.stringify([...load.statuses]));
      assert.ok(load.total > 50, `${load.total} requests`);
      const metrics = parsePrometheus((await get(base, '/metrics')).text);
      assert.equal(metrics.get('seqrec_reloads_total{result="success"}'), 2);
      assert.equal(metrics.get('seqrec_model_generation'), 3);

      // Graceful stop.
      p.child.kill('SIGTERM');
      assert.equal(await p.exited, 0, p.stderr());
      assert.match(p.stderr(), /SIGTERM: no longer accepting connections, finishing in-flight requests/);
      assert.match(p.stderr(), /shut down cleanly/);
      await assert.rejects(fetch(`${base}/health`));
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });

  it('refuses an empty admin token at start-up, from the flag, the file or the environment', async () => {
    const empty = join(root, 'empty-token');
    await writeFile(empty, '\n');
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--admin-token', ''], {}, /--admin-token is empty/],
      [['--admin-token-file', empty], {}, /--admin-token-file is empty/],
      [['--admin-token-file', join(root, 'no-such-file')], {}, /cannot read --admin-token-file .*ENOENT/],
      [[], { SEQREC_ADMIN_TOKEN: '' }, /SEQREC_ADMIN_TOKEN is empty/],
      [['--admin-bundle', `b=${bundle}`], {}, /need an admin token/],
    ];
    for (const [args, env, message] of cases) {
      const p = runCli(['serve', '--model', bundle, '--port', '0', ...args], env);
      assert.equal(await p.exited, 1, `${args.join(' ')}: ${p.stdout()}`);
      assert.match(p.stderr(), message);
      assert.doesNotMatch(p.stdout(), /listening/);
    }
  });

  it('admin with a token file and named bundles; off without a token; limits from flags', async () => {
    const tokenFile = join(root, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const other = join(root, 'other');
    await cp(bundle, other, { recursive: true });
    const { p, base } = await serve([
      '--model',
      bundle,
      '--admin-token-file',
      tokenFile,
      '--admin-bundle',
      `other=${other}`,
      '--request-timeout',
      '3',
      '--max-json-depth',
      '4',
    ]);
    try {
      const auth = { authorization: `Bearer ${TOKEN}` };
      assert.equal((await post(base, '/admin/reload', {})).status, 401);
      assert.equal((await post(base, '/admin/reload', { bundle: 'other' }, { ...auth, origin: 'http://evil.example' })).status, 403);
      const r = await post(base, '/admin/reload', { bundle: 'other' }, auth);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.bundle, 'other');
      assert.doesNotMatch(JSON.stringify(r.body), new RegExp(root));
      assert.equal((await get(base, '/health')).body.bundle, 'other');
      await waitForOutput(p, () => /reloaded bundle other \(generation 2\)/.test(p.stderr()));
      const deep = await post(base, '/recommend', '{"history": [[[[[1]]]]]}');
      assert.match(deep.body.message, /nested deeper than 4 levels/);
    } finally {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    const off = await serve(['--model', bundle]);
    try {
      assert.equal((await post(off.base, '/admin/reload', {})).status, 404);
      assert.match(off.p.stderr(), /POST \/admin\/reload is disabled: no admin token/);
    } finally {
      off.p.child.kill('SIGTERM');
      await off.p.exited;
    }
  });

  it('runs one wasm thread unless SEQREC_WASM_THREADS says otherwise (issue #14 item 14)', async () => {
    for (const [env, want] of [
      [undefined, /wasm \[SIMD (on|off), 1 thread[;\]]/],
      ['', /wasm \[SIMD (on|off), 1 thread[;\]]/],
      ['2', /wasm \[SIMD (on|off), 2 threads[;\]]/],
    ] as const) {
      const { p } = await serve(['--model', bundle], { SEQREC_WASM_THREADS: env, SEQREC_BACKEND: 'wasm' });
      try {
        assert.match(p.stderr(), want, `SEQREC_WASM_THREADS=${String(env)}: ${p.stderr()}`);
      } finally {
        p.child.kill('SIGINT'); // a failed match must not leave the server keeping the test process alive
      }
      assert.equal(await p.exited, 0);
    }
  });

  it('serves an ItemKNN bundle and its similar items; the fallback flags are checked at start-up', async () => {
    const dataset = tinyDataset(9);
    const knnDir = join(root, 'itemknn');
    const knn = ItemKNN.fit(dataset);
    await exportRankerBundle(knn, knnDir, {
      vocabulary: dataset.vocabulary,
      popularity: dataset.itemPopularity(),
      recentPopularity: { counts: recentPopularity(dataset), source: 'test' },
    });
    const items = dataset.vocabulary.items();
    const { p, base } = await serve(['--model', knnDir, '--fallback', 'recent-popularity']);
    try {
      assert.match(p.stdout(), /\(itemknn, \d+ items, none retrieval/);
      const health = await get(base, '/health');
      assert.equal(health.body.model, 'itemknn');
      assert.equal(health.body.retriever, 'none');
      assert.deepEqual(health.body.fallback, { popular: 'recent-popularity', cooccurrence: false, shortHistory: 0 });
      const r = await post(base, '/recommend', { history: [items[0], items[1]], k: 5 });
      assert.equal(r.status, 200);
      assert.equal(r.body.fallback, null);
      const want = knn.rank([[1, 2]], 5, [[1, 2]]);
      assert.deepEqual(
        r.body.items.map((x: { id: string }) => x.id),
        Array.from(want.ids, (j) => dataset.vocabulary.decode(j)),
      );
      const empty = await post(base, '/recommend', { history: [] });
      assert.equal(empty.body.fallback, 'recent-popularity');
      const sim = await post(base, '/similar', { item: items[2], k: 3 });
      assert.equal(sim.status, 200);
      assert.deepEqual(
        sim.body.items.map((x: { id: string }) => x.id),
        Array.from(knn.neighboursOf(3).ids.subarray(0, 3), (j) => dataset.vocabulary.decode(j)),
      );
      const metrics = parsePrometheus((await get(base, '/metrics')).text);
      assert.equal(metrics.get('seqrec_recommend_fallback_total{kind="recent-popularity"}'), 1);
    } finally {
      p.child.kill('SIGTERM');
      assert.equal(await p.exited, 0);
    }
    // A bundle without a co-occurrence table cannot be asked for the co-occurrence fallback.
    const bad = runCli(['serve', '--model', bundle, '--port', '0', '--workers', '1', '--cooccurrence', 'on']);
    assert.equal(await bad.exited, 1);
    assert.match(bad.stderr(), /fallback\.cooccurrence 'on' needs the co-occurrence table/);
  });

  it('fails clearly on a bad bundle and on a busy port', async () => {
    let p = runCli(['serve', '--model', join(root, 'missing'), '--port', '0', '--workers', '1']);
    assert.equal(await p.exited, 1);
    assert.match(p.stderr(), /seqrec serve: .*missing: no such bundle directory/);
    const first = await serve(['--model', bundle]);
    const port = new URL(first.base).port;
    p = runCli(['serve', '--model', bundle, '--port', port, '--workers', '1']);
    assert.equal(await p.exited, 1);
    assert.match(p.stderr(), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`));
    first.p.child.kill('SIGINT');
    assert.equal(await first.p.exited, 0);
  });
});
