import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { parsePrometheus } from '../../src/serve/metrics.js';
import { Recommender } from '../../src/serve/recommender.js';
import { createServer } from '../../src/serve/server.js';
import { get, loadDuring, post, trainTinyBundle } from './helpers.js';

let dirA: string;
let dirB: string;
let items: readonly string[];
let rec: Recommender;
let app: FastifyInstance;
let base: string;
const TOKEN = 'server-test-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

before(async () => {
  const a = await trainTinyBundle({ seed: 7, epochs: 2 });
  const b = await trainTinyBundle({ seed: 7, epochs: 1, dir: `${dirname(a.dir)}/bundle-b` });
  dirA = a.dir;
  dirB = b.dir;
  items = a.dataset.vocabulary.items();
  rec = await Recommender.load(dirA, { maxK: 100, maxHistory: 50, maxBatch: 8 });
  app = await createServer(rec, { admin: { token: TOKEN, bundles: { a: dirA, b: dirB, missing: '/nonexistent/bundle' } } });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
after(async () => {
  await app.close();
  rec.dispose();
  await rm(dirname(dirA), { recursive: true, force: true });
});

describe('HTTP server', () => {
  it('answers valid requests', async () => {
    const health = await get(base, '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');
    assert.equal(health.body.model, 'gru4rec');
    assert.equal(health.body.numItems, items.length);
    assert.deepEqual(health.body.limits, { maxK: 100, maxHistory: 50, maxBatch: 8 });

    const r = await post(base, '/recommend', { history: [items[1], 'nope', items[2]], k: 5 });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, rec.recommend([items[1], 'nope', items[2]], { k: 5 }));
    assert.deepEqual(r.body.unknown, ['nope']);
    assert.equal(r.body.items.length, 5);

    const defaults = await post(base, '/recommend', { history: [items[1]] });
    assert.equal(defaults.body.items.length, 10);
    assert.deepEqual(defaults.body, rec.recommend([items[1]]));

    const fallback = await post(base, '/recommend', { history: ['x', 'y'], k: 3, excludeSeen: false });
    assert.equal(fallback.status, 200);
    assert.equal(fallback.body.fallback, 'popularity');
    assert.match(fallback.body.reason, /none of the history's item ids/);
    assert.deepEqual(fallback.body.unknown, ['x', 'y']);

    const batch = await post(base, '/recommend/batch', { histories: [[items[1]], [], [items[3], 12345]], k: 4, excludeSeen: false });
    assert.equal(batch.status, 200);
    assert.deepEqual(batch.body.results, rec.recommendMany([[items[1]], [], [items[3], 12345]], { k: 4, excludeSeen: false }));

    const sim = await post(base, '/similar', { item: items[5], k: 6 });
    assert.equal(sim.status, 200);
    assert.equal(sim.body.item, items[5]);
    assert.deepEqual(sim.body.items, rec.similarItems(items[5], 6));
  });

  it('coalesces concurrent /recommend requests without changing answers', async () => {
    const requests = Array.from({ length: 40 }, (_, i) => ({
      history: [items[i % items.length], items[(i * 7) % items.length]],
      k: 1 + (i % 30),
      ...(i % 3 === 0 ? { excludeSeen: false } : {}),
    }));
    // Over HTTP (arrival spread over loop turns decides how much is coalesced).
    const answers = await Promise.all(requests.map((body) => post(base, '/recommend', body)));
    answers.forEach((a, i) => {
      assert.equal(a.status, 200);
      assert.deepEqual(a.body, rec.recommend(requests[i].history, requests[i]), `request ${i}`);
    });
    // Injected all at once: they arrive in the same turn of the event loop.
    const server = await createServer(rec);
    const injected = await Promise.all(requests.map((payload) => server.inject({ method: 'POST', url: '/recommend', payload })));
    injected.forEach((a, i) => assert.deepEqual(a.json(), rec.recommend(requests[i].history, requests[i]), `injected ${i}`));
    const m = parsePrometheus((await server.inject({ method: 'GET', url: '/metrics' })).body);
    assert.equal(m.get('seqrec_coalesced_requests_total'), 40);
    // Two option groups (excludeSeen true/false), each split into chunks of maxBatch = 8.
    assert.equal(m.get('seqrec_coalesced_batches_total'), Math.ceil(14 / 8) + Math.ceil(26 / 8));
    await server.close();
  });

  it('rejects bad input with clear 4xx JSON errors and stays healthy', async () => {
    const long = new Array(51).fill(items[0]);
    const cases: [string, unknown, number, string, RegExp][] = [
      ['/recommend', '{"history": [', 400, 'invalid_json', /not valid JSON/],
      ['/recommend', '', 400, 'invalid_json', /empty/],
      ['/recommend', { history: [items[0]], k: 101 }, 400, 'invalid_request', /body\.k must be <= 100/],
      ['/recommend', { history: [items[0]], k: 0 }, 400, 'invalid_request', /body\.k must be >= 1/],
      ['/recommend', { history: long }, 400, 'invalid_request', /body\.history has too many entries \(at most 50\)/],
      ['/recommend', { history: items[0] }, 400, 'invalid_request', /body\.history must be an array/],
      ['/recommend', { history: [items[0], { id: 1 }] }, 400, 'invalid_request', /body\.history\[1\] must be a string or an integer/],
      ['/recommend', { history: [1.5] }, 400, 'invalid_request', /body\.history\[0\] must be a string or an integer/],
      ['/recommend', { history: [items[0]], k: '5' }, 400, 'invalid_request', /body\.k must be an integer/],
      ['/recommend', { history: [items[0]], excludeSeen: 'yes' }, 400, 'invalid_request', /body\.excludeSeen must be a boolean/],
      ['/recommend', { history: [items[0]], interests: 'all' }, 400, 'invalid_request', /body\.interests must be "merge" or an interest index/],
      ['/recommend', { history: [items[0]], interests: 1 }, 400, 'invalid_request', /interests must be 'merge' or an interest index in 0\.\.0/],
      ['/recommend', { history: [items[0]], user: 'u1' }, 400, 'invalid_request', /body has an unknown field 'user'/],
      [
        '/recommend',
        { history: [items[0]], excludeSen: true },
        400,
        'invalid_request',
        /body has an unknown field 'excludeSen' \(did you mean 'excludeSeen'\?\)/,
      ],
      ['/recommend', { history: [items[0]], interests: -1 }, 400, 'invalid_request', /body\.interests must be >= 0/],
      ['/recommend', { history: [items[0]], k: 2.5 }, 400, 'invalid_request', /body\.k must be an integer/],
      ['/recommend', { k: 5 }, 400, 'invalid_request', /body is missing the required field 'history'/],
      ['/recommend', [items[0]], 400, 'invalid_request', /body must be a JSON object/],
      ['/recommend', '{"__proto__": {"polluted": true}, "history": []}', 400, 'invalid_request', /has a key '__proto__'/],
      ['/recommend/batch', { histories: new Array(9).fill([items[0]]) }, 400, 'invalid_request', /body\.histories has too many entries \(at most 8\)/],
      ['/recommend/batch', { histories: [[items[0]], long] }, 400, 'invalid_request', /body\.histories\[1\] has too many entries/],
      ['/recommend/batch', { histories: [], history: [items[0]] }, 400, 'invalid_request', /unknown field 'history'/],
      ['/similar', { item: 'nope' }, 404, 'unknown_item', /unknown item id 'nope'/],
      ['/similar', { item: items[0], k: 1000 }, 400, 'invalid_request', /body\.k must be <= 100/],
      ['/similar', { item: null }, 400, 'invalid_request', /body\.item must be a string or an integer/],
      ['/similar', { item: 'x'.repeat(600) }, 400, 'invalid_request', /body\.item is too long/],
      ['/nowhere', {}, 404, 'not_found', /no route POST \/nowhere/],
    ];
    for (const [path, body, status, error, message] of cases) {
      const r = await post(base, path, body);
      const what = `${path} ${typeof body === 'string' ? body : JSON.stringify(body).slice(0, 60)}`;
      assert.equal(r.status, status, what);
      assert.equal(r.body.error, error, what);
      assert.match(r.body.message, message, what);
      assert.deepEqual(Object.keys(r.body).sort(), ['error', 'message'], what);
    }
    const textPlain = await fetch(`${base}/recommend`, { method: 'POST', body: JSON.stringify({ history: [] }), headers: { 'content-type': 'text/plain' } });
    assert.equal(textPlain.status, 415);
    assert.equal(((await textPlain.json()) as { error: string }).error, 'unsupported_media_type');
    const wrongMethod = await get(base, '/recommend');
    assert.equal(wrongMethod.status, 404);
    assert.equal(wrongMethod.body.error, 'not_found');
    // Still healthy, still right.
    assert.equal((await get(base, '/health')).status, 200);
    const ok = await post(base, '/recommend', { history: [items[0]], k: 3 });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, rec.recommend([items[0]], { k: 3 }));
  });

  it('rejects oversized bodies with 413', async () => {
    const small = await createServer(rec, { bodyLimit: 200 });
    const r = await small.inject({ method: 'POST', url: '/recommend', payload: { history: new Array(40).fill('abcdefgh') } });
    assert.equal(r.statusCode, 413);
    assert.equal(r.json().error, 'payload_too_large');
    await small.close();
  });

  it('exports Prometheus metrics: request counts by route and status, latency histogram', async () => {
    const m = await get(base, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.contentType!, /^text\/plain; version=0\.0\.4/);
    assert.match(m.text, /# TYPE seqrec_http_requests_total counter/);
    assert.match(m.text, /# TYPE seqrec_http_request_duration_seconds histogram/);
    const v = parsePrometheus(m.text);
    assert.ok(v.get('seqrec_http_requests_total{route="/recommend",method="POST",status="200"}')! >= 3);
    assert.ok(v.get('seqrec_http_requests_total{route="/recommend",method="POST",status="400"}')! >= 10);
    assert.ok(v.get('seqrec_http_requests_total{route="/similar",method="POST",status="404"}')! >= 1);
    assert.ok(v.get('seqrec_http_requests_total{route="unmatched",method="POST",status="404"}')! >= 1);
    const count = v.get('seqrec_http_request_duration_seconds_count{route="/recommend"}')!;
    assert.equal(v.get('seqrec_http_request_duration_seconds_bucket{route="/recommend",le="+Inf"}'), count);
    // Buckets are cumulative.
    const buckets = [...v.entries()].filter(([k]) => k.startsWith('seqrec_http_request_duration_seconds_bucket{route="/recommend"')).map(([, n]) => n);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i] >= buckets[i - 1]);
    assert.ok(v.get('seqrec_recommend_fallback_total{kind="popularity"}')! >= 1);
    assert.ok(v.get('seqrec_unknown_items_total')! >= 1);
    assert.ok(v.get('process_resident_memory_bytes')! > 0);
    assert.ok(v.get('seqrec_tfjs_tensors')! > 0);
  });

  it('hot-reloads under load (8 clients, 2 reloads) without losing a request', async () => {
    const genBefore = rec.info().generation;
    const answerA = rec.recommend([items[3]], { k: 10 });
    const reloads: unknown[] = [];
    const result = await loadDuring(base, items, async () => {
      for (const bundle of ['b', 'a']) {
        const r = await post(base, '/admin/reload', { bundle }, AUTH);
        reloads.push(r.body);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.status, 'reloaded');
        await new Promise((res) => setTimeout(res, 150));
      }
    });
    assert.deepEqual([...result.statuses.keys()], ['200'], JSON.stringify([...result.statuses]));
    assert.ok(result.total > 50, `only ${result.total} requests during the reloads`);
    assert.equal(rec.info().generation, genBefore + 2);
    assert.equal(rec.info().dir, dirA);
    // Back on bundle A: the same answers as before.
    assert.deepEqual(rec.recommend([items[3]], { k: 10 }), answerA);
    const v = parsePrometheus((await get(base, '/metrics')).text);
    assert.equal(v.get('seqrec_reloads_total{result="success"}'), 2);
    assert.equal(v.get('seqrec_model_generation'), genBefore + 2);
  });

  it('reports a failed reload and keeps serving', async () => {
    const gen = rec.info().generation;
    const bad = await post(base, '/admin/reload', { bundle: 'missing' }, AUTH);
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error, 'bundle_invalid');
    assert.match(bad.body.message, /no such bundle directory/);
    assert.doesNotMatch(bad.body.message, /nonexistent/);
    const extra = await post(base, '/admin/reload', { bundle: 'a', force: true }, AUTH);
    assert.equal(extra.status, 400);
    // No body at all: reload the current directory.
    const same = await fetch(`${base}/admin/reload`, { method: 'POST', headers: AUTH });
    assert.equal(same.status, 200);
    assert.equal(rec.info().generation, gen + 1);
    assert.equal((await post(base, '/recommend', { history: [items[0]] })).status, 200);
  });

  it('guards the admin route: off by default, bearer token when configured', async () => {
    const plain = await createServer(rec);
    assert.equal((await plain.inject({ method: 'POST', url: '/admin/reload', payload: {} })).statusCode, 404);
    await plain.close();
    const guarded = await createServer(rec, { admin: { token: 's3cret' } });
    const no = await guarded.inject({ method: 'POST', url: '/admin/reload', payload: {} });
    assert.equal(no.statusCode, 401);
    assert.equal(no.json().error, 'unauthorized');
    const wrong = await guarded.inject({ method: 'POST', url: '/admin/reload', payload: {}, headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.statusCode, 401);
    const yes = await guarded.inject({ method: 'POST', url: '/admin/reload', payload: {}, headers: { authorization: 'Bearer s3cret' } });
    assert.equal(yes.statusCode, 200);
    await guarded.close();
  });

  it('counts requests the client abandoned as 499 and keeps the in-flight gauge right', async () => {
    const slow = await createServer(rec, { coalesce: false });
    slow.addHook('preHandler', async (req) => {
      if (req.url === '/recommend') await new Promise((r) => setTimeout(r, 300));
    });
    const url = await slow.listen({ port: 0, host: '127.0.0.1' });
    const controller = new AbortController();
    const pending = fetch(`${url}/recommend`, {
      method: 'POST',
      body: JSON.stringify({ history: [items[0]] }),
      headers: { 'content-type': 'application/json' },
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 80));
    controller.abort();
    await assert.rejects(pending);
    await new Promise((r) => setTimeout(r, 400));
    const text = (await get(url, '/metrics')).text;
    const m = parsePrometheus(text);
    assert.equal(m.get('seqrec_http_requests_total{route="/recommend",method="POST",status="499"}'), 1);
    assert.equal(m.get('seqrec_http_requests_in_flight'), 1); // the /metrics request itself
    await slow.close();
  });

  it('closes gracefully: in-flight requests finish, new connections are refused', async () => {
    const slow = await createServer(rec, { coalesce: false });
    slow.addHook('preHandler', async (req) => {
      if (req.url === '/recommend') await new Promise((r) => setTimeout(r, 300));
    });
    const url = await slow.listen({ port: 0, host: '127.0.0.1' });
    const inFlight = post(url, '/recommend', { history: [items[2]], k: 4 });
    await new Promise((r) => setTimeout(r, 80));
    const closed = slow.close();
    const r = await inFlight;
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, rec.recommend([items[2]], { k: 4 }));
    await closed;
    await assert.rejects(fetch(`${url}/health`), /fetch failed/);
    // The recommender is not the server's to dispose.
    assert.equal(rec.isDisposed, false);
  });
});
