/**
 * The HTTP server's security properties (issue #14 items 1-5 and 13): admin only with a
 * token, no paths from requests, Host/Origin checks, no absolute paths in answers, k capped at
 * the catalogue, timeouts and connection limits, JSON depth and prototype keys, reload
 * timeouts, and seqrec's error shape for malformed HTTP.
 */
import assert from 'node:assert/strict';
import fsp, { cp, rm, truncate, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { SeqrecError } from '../../src/errors.js';
import { parsePrometheus } from '../../src/serve/metrics.js';
import { Recommender } from '../../src/serve/recommender.js';
import { createServer, type ServerOptions } from '../../src/serve/server.js';
import { fileIn } from '../bundle/bundle-files.js';
import { runCli, trainTinyBundle } from './helpers.js';

let root: string;
let dirA: string;
let dirB: string;
let hangDir: string;
let brokenDir: string;
let items: readonly string[];
let rec: Recommender;

const TOKEN = 'test-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };

before(async () => {
  const a = await trainTinyBundle({ seed: 7, epochs: 1 });
  dirA = a.dir;
  root = dirname(dirA);
  items = a.dataset.vocabulary.items();
  dirB = join(root, 'bundle-b');
  await cp(dirA, dirB, { recursive: true });
  // Every file open under this bundle hangs (see hangOpens): a stuck disk or network mount.
  hangDir = join(root, 'bundle-hang');
  await cp(dirA, hangDir, { recursive: true });
  brokenDir = join(root, 'bundle-broken');
  await cp(dirA, brokenDir, { recursive: true });
  await truncate(fileIn(brokenDir, 'weights.bin'), 100);
  rec = await Recommender.load(dirA, { maxK: 100 });
});

/**
 * Makes every `fs/promises` open() of a path under `dir` return a promise that never settles
 * (the loaders import open from node:fs/promises; syncBuiltinESMExports updates their
 * binding). Returns the undo.
 */
function hangOpens(dir: string): () => void {
  const real = fsp.open;
  (fsp as { open: typeof fsp.open }).open = ((path: Parameters<typeof fsp.open>[0], ...rest: unknown[]) =>
    String(path).startsWith(dir) ? new Promise(() => undefined) : (real as (...a: unknown[]) => ReturnType<typeof fsp.open>)(path, ...rest)) as typeof fsp.open;
  syncBuiltinESMExports();
  return () => {
    (fsp as { open: typeof fsp.open }).open = real;
    syncBuiltinESMExports();
  };
}

after(async () => {
  rec.dispose();
  await rm(root, { recursive: true, force: true });
});

async function server(options: ServerOptions): Promise<FastifyInstance> {
  return await createServer(rec, options);
}

function assertErrorShape(body: unknown, what: string): void {
  assert.equal(typeof body, 'object', what);
  assert.deepEqual(Object.keys(body as object).sort(), ['error', 'message'], `${what}: ${JSON.stringify(body)}`);
}

describe('admin token (items 1, 2)', () => {
  it('refuses to start with a missing, empty or absent token, or admin: true', async () => {
    const bad: unknown[] = [{ token: undefined }, { token: '' }, {}, true, { token: 'has space' }, { token: 42 }];
    for (const admin of bad) {
      await assert.rejects(
        () => createServer(rec, { admin } as ServerOptions),
        (err: unknown) => err instanceof SeqrecError && err.code === 'invalid_config' && /admin/.test(err.message) && err.field !== undefined,
        JSON.stringify(admin),
      );
    }
  });

  it('accepts only the exact bearer token, whatever its length', async () => {
    const app = await server({ admin: { token: TOKEN } });
    for (const authorization of [undefined, 'Bearer', 'Bearer ', `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN]) {
      const r = await app.inject({ method: 'POST', url: '/admin/reload', headers: authorization ? { authorization } : {} });
      assert.equal(r.statusCode, 401, String(authorization));
      assertErrorShape(r.json(), String(authorization));
    }
    const ok = await app.inject({ method: 'POST', url: '/admin/reload', headers: { authorization: `bearer ${TOKEN}` } });
    assert.equal(ok.statusCode, 200, ok.body);
    await app.close();
  });
});

describe('reload never takes a path (item 1)', () => {
  it('rejects {dir}, reloads allow-listed names only, names the allowed ones', async () => {
    const app = await server({ admin: { token: TOKEN, bundles: { b: dirB, a: dirA } } });
    const gen = rec.info().generation;
    const withDir = await app.inject({ method: 'POST', url: '/admin/reload', headers: AUTH, payload: { dir: dirB } });
    assert.equal(withDir.statusCode, 400);
    assertErrorShape(withDir.json(), 'dir');
    assert.match(withDir.json().message, /bundle/);
    assert.equal(rec.info().generation, gen);

    const unknown = await app.inject({ method: 'POST', url: '/admin/reload', headers: AUTH, payload: { bundle: '../etc' } });
    assert.equal(unknown.statusCode, 400);
    assert.match(unknown.json().message, /'a', 'b'/);
    assert.doesNotMatch(unknown.json().message, new RegExp(root));

    const b = await app.inject({ method: 'POST', url: '/admin/reload', headers: AUTH, payload: { bundle: 'b' } });
    assert.equal(b.statusCode, 200, b.body);
    assert.equal(rec.info().dir, dirB);
    assert.doesNotMatch(b.body, new RegExp(root));
    const health = (await app.inject({ method: 'GET', url: '/health' })).json();
    assert.equal(health.bundle, 'b');
    const back = await app.inject({ method: 'POST', url: '/admin/reload', headers: AUTH, payload: { bundle: 'a' } });
    assert.equal(back.statusCode, 200);
    assert.equal(rec.info().dir, dirA);
    await app.close();
  });

  it('without an allow-list, only the current bundle reloads', async () => {
    const app = await server({ admin: { token: TOKEN } });
    const r = await app.inject({ method: 'POST', url: '/admin/reload', headers: AUTH, payload: { bundle: 'b' } });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().message, /no bundle names are configured/);
    assert.equal((await app.inject({ method: 'POST', url: '/admin/reload', headers: AUTH, payload: {} })).statusCode, 200);
    await app.close();
  });
});

describe('Host and Origin on admin routes (item 3)', () => {
  it('rejects foreign Host and any Origin unless allowed', async () => {
    const app = await server({ admin: { token: TOKEN, allowedHosts: ['seqrec.internal'], allowedOrigins: ['https://ops.example'] } });
    const send = (headers: Record<string, string>) => app.inject({ method: 'POST', url: '/admin/reload', headers: { ...AUTH, ...headers } });
    for (const headers of <Record<string, string>[]>[
      { host: 'evil.example' },
      { host: 'evil.example:8080' },
      { host: 'localhost.evil.example' },
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { origin: 'http://localhost:8080' },
    ]) {
      const r = await send(headers);
      assert.equal(r.statusCode, 403, JSON.stringify(headers));
      assertErrorShape(r.json(), JSON.stringify(headers));
    }
    for (const headers of <Record<string, string>[]>[
      { host: 'localhost:8080' },
      { host: '127.0.0.1:1' },
      { host: '[::1]:8080' },
      { host: 'SEQREC.internal' },
      { origin: 'https://ops.example' },
    ]) {
      const r = await send(headers);
      assert.equal(r.statusCode, 200, `${JSON.stringify(headers)}: ${r.body}`);
    }
    // Checked before the token: a foreign page learns nothing about it.
    const noAuth = await app.inject({ method: 'POST', url: '/admin/reload', headers: { origin: 'http://evil.example' } });
    assert.equal(noAuth.statusCode, 403);
    // Public routes are not affected.
    assert.equal((await app.inject({ method: 'GET', url: '/health', headers: { host: 'evil.example', origin: 'http://evil.example' } })).statusCode, 200);
    await app.close();
  });
});

describe('no absolute paths in answers (item 3, server half)', () => {
  it('/health names the bundle, 422 bodies name bundle-relative files', async () => {
    const app = await server({ admin: { token: TOKEN, bundles: { broken: brokenDir, missing: join(root, 'nope'), a: dirA } } });
    const health = (await app.inject({ method: 'GET', url: '/health' })).json();
    assert.equal(health.bundle, 'a');
    assert.doesNotMatch(JSON.stringify(health), new RegExp(root));
    const plain = await server({});
    assert.equal((await plain.inject({ method: 'GET', url: '/health' })).json().bundle, basename(dirA));
    await plain.close();
    for (const name of ['broken', 'missing']) {
      const r = await app.inject({ method: 'POST', url: '/admin/reload', headers: AUTH, payload: { bundle: name } });
      assert.equal(r.statusCode, 422, r.body);
      assertErrorShape(r.json(), name);
      assert.doesNotMatch(r.body, new RegExp(root), r.body);
      assert.doesNotMatch(r.json().message, /(^|[\s'"(])\//, r.body);
    }
    assert.match((await app.inject({ method: 'POST', url: '/admin/reload', headers: AUTH, payload: { bundle: 'broken' } })).json().message, /weights\.bin/);
    await app.close();
  });
});

describe('k is capped at the catalogue (item 4)', () => {
  it('recommend, recommendMany and similarItems allocate at most the item count', async () => {
    const big = await Recommender.load(dirA, { maxK: 1_000_000, warmUp: false });
    try {
      const n = big.info().numItems;
      const seen: number[] = [];
      // The retrievers are private: spy on the k they are asked for.
      const state = (big as unknown as { state: { embedder: { retriever: { search: (...a: any[]) => any }; i2i: { search: (...a: any[]) => any } } } }).state
        .embedder;
      for (const r of [state.retriever, state.i2i]) {
        const orig = r.search.bind(r);
        r.search = (q: Float32Array, o: { k: number }) => {
          seen.push(o.k);
          return orig(q, o);
        };
      }
      const one = big.recommend([items[0]], { k: 1_000_000 });
      assert.equal(one.items.length, n - 1);
      const many = big.recommendMany([[items[0]], [], [items[1], items[2]]], { k: 1_000_000 });
      assert.deepEqual(
        many.map((m) => m.items.length),
        [n - 1, n, n - 2],
      );
      assert.equal(big.similarItems(items[0], 1_000_000).length, n - 1);
      assert.ok(seen.length === 3 && seen.every((k) => k <= n), `retriever asked for k = ${seen.join(', ')} with ${n} items`);
      // Capping does not change the answers.
      assert.deepEqual(big.recommend([items[3]], { k: n }), big.recommend([items[3]], { k: 999_999 }));
    } finally {
      big.dispose();
    }
  });

  it('seqrec recommend --k 1e7 uses no more memory than --k 10', async () => {
    // maxRSS (KiB) reported by the child at exit.
    const preload = join(root, 'report-rss.mjs');
    await writeFile(preload, 'process.on("exit", () => process.stderr.write(`MAXRSS ${process.resourceUsage().maxRSS}\\n`));\n');
    const rss = async (k: string): Promise<number> => {
      const p = runCli(['recommend', '--model', dirA, '--history', `${items[0]},${items[1]}`, '--k', k, '--include-seen'], {
        NODE_OPTIONS: `--import=${pathToFileURL(preload).href}`,
      });
      assert.equal(await p.exited, 0, p.stderr());
      assert.equal(JSON.parse(p.stdout()).recommendations.length, Math.min(Number(k), items.length));
      return Number(/MAXRSS (\d+)/.exec(p.stderr())![1]);
    };
    const small = await rss('10');
    const huge = await rss('10000000');
    assert.ok(huge - small < 100 * 1024, `--k 1e7 used ${Math.round((huge - small) / 1024)} MiB more than --k 10`);
  });
});

describe('timeouts, connection cap, JSON limits (item 4)', () => {
  it('sets request, header, connection and keep-alive timeouts and a connection cap', async () => {
    const app = await server({});
    const s = app.server;
    assert.equal(s.requestTimeout, 10_000);
    assert.equal(s.headersTimeout, 5_000);
    assert.equal(s.keepAliveTimeout, 5_000);
    assert.equal(s.timeout, 30_000);
    assert.equal(s.maxConnections, 1000);
    await app.close();
    const custom = await server({ requestTimeoutMs: 2000, headersTimeoutMs: 1000, connectionTimeoutMs: 3000, keepAliveTimeoutMs: 4000, maxConnections: 7 });
    assert.deepEqual(
      [custom.server.requestTimeout, custom.server.headersTimeout, custom.server.timeout, custom.server.keepAliveTimeout, custom.server.maxConnections],
      [2000, 1000, 3000, 4000, 7],
    );
    await custom.close();
    for (const bad of [
      { requestTimeoutMs: 0 },
      { maxConnections: -1 },
      { headersTimeoutMs: 5000, requestTimeoutMs: 1000 },
      { maxJsonDepth: 0 },
      { reloadTimeoutMs: 1.5 },
    ]) {
      await assert.rejects(
        () => server(bad as ServerOptions),
        (e: unknown) => e instanceof SeqrecError && e.code === 'invalid_config',
        JSON.stringify(bad),
      );
    }
  });

  it('refuses an unknown option by name, with a did-you-mean hint, before loading fastify', async () => {
    await assert.rejects(
      () => server({ requestTimeotMs: 1000 } as ServerOptions),
      (e: unknown) =>
        e instanceof SeqrecError && e.code === 'invalid_config' && e.field === 'requestTimeotMs' && /did you mean 'requestTimeoutMs'/.test(e.message),
    );
    await assert.rejects(
      () => server({ admin: { token: TOKEN, bundle: {} } } as ServerOptions),
      (e: unknown) => e instanceof SeqrecError && e.field === 'admin.bundle' && /did you mean 'bundles'/.test(e.message),
    );
  });

  it('drops a slow-body client after the request timeout', async () => {
    const app = await server({ requestTimeoutMs: 600, headersTimeoutMs: 300 });
    const url = new URL(await app.listen({ port: 0, host: '127.0.0.1' }));
    const t0 = Date.now();
    const out = await new Promise<string>((resolve) => {
      const sock = net.connect(Number(url.port), '127.0.0.1', () => {
        sock.write('POST /recommend HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"hist');
      });
      let data = '';
      sock.on('data', (d) => (data += d));
      sock.on('close', () => resolve(data));
      setTimeout(() => sock.destroy(), 8000);
    });
    const took = Date.now() - t0;
    assert.ok(took < 5000, `held for ${took} ms`);
    assert.match(out, /^HTTP\/1\.1 408/);
    assertErrorShape(JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4)), '408');
    await app.close();
  });

  it('closes connections beyond maxConnections at once and counts them', async () => {
    const app = await server({ maxConnections: 1 });
    const url = new URL(await app.listen({ port: 0, host: '127.0.0.1' }));
    const first = net.connect(Number(url.port), '127.0.0.1');
    await new Promise((r) => first.once('connect', r));
    await new Promise((r) => setTimeout(r, 50));
    const second = net.connect(Number(url.port), '127.0.0.1');
    const closedQuickly = await new Promise<boolean>((resolve) => {
      second.on('error', () => undefined);
      second.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 3000);
    });
    assert.ok(closedQuickly, 'the second connection was kept open');
    first.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const m = parsePrometheus((await app.inject({ method: 'GET', url: '/metrics' })).body);
    assert.equal(m.get('seqrec_http_connections_dropped_total'), 1);
    await app.close();
  });

  it('limits JSON nesting before parsing, with a clear message', async () => {
    const app = await server({});
    const deep = '{"history": ' + '['.repeat(200_000) + ']'.repeat(200_000) + '}';
    const t0 = process.hrtime.bigint();
    const r = await app.inject({ method: 'POST', url: '/recommend', headers: { 'content-type': 'application/json' }, payload: deep });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error, 'invalid_json');
    assert.match(r.json().message, /nested deeper than 32 levels/);
    assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 < 500);
    // Prototype-like strings as values are ids like any other; an id with slashes is quoted as is.
    const protoIds = await app.inject({ method: 'POST', url: '/recommend', payload: { history: ['constructor', '__proto__', items[0]] } });
    assert.equal(protoIds.statusCode, 200, protoIds.body);
    assert.deepEqual(protoIds.json().unknown, ['constructor', '__proto__']);
    const slashed = await app.inject({ method: 'POST', url: '/similar', payload: { item: '/etc/passwd' } });
    assert.match(slashed.json().message, /unknown item id '\/etc\/passwd'/);
    // Brackets inside strings do not count; ordinary bodies pass.
    const ok = await app.inject({
      method: 'POST',
      url: '/recommend',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ history: ['['.repeat(100), '{'] }),
    });
    assert.equal(ok.statusCode, 200, ok.body);
    const shallow = await server({ maxJsonDepth: 2 });
    const r2 = await shallow.inject({ method: 'POST', url: '/recommend/batch', payload: { histories: [[items[0]]] } });
    assert.match(r2.json().message, /nested deeper than 2 levels/);
    await shallow.close();
    await app.close();
  });

  it('names prototype keys instead of calling the body invalid JSON (item 13)', async () => {
    const app = await server({});
    for (const body of [
      '{"__proto__": {"polluted": true}, "history": []}',
      '{"history": [], "constructor": {"prototype": {"x": 1}}}',
      '{"\\u005f_proto__": {}, "history": []}',
    ]) {
      const r = await app.inject({ method: 'POST', url: '/recommend', headers: { 'content-type': 'application/json' }, payload: body });
      assert.equal(r.statusCode, 400, body);
      assertErrorShape(r.json(), body);
      assert.doesNotMatch(r.json().message, /not valid JSON/, body);
      assert.match(r.json().message, /'(__proto__|constructor)'/, body);
    }
    await app.close();
  });
});

describe('reload timeout (item 5)', () => {
  it('a hung reload fails after the timeout, the old bundle keeps serving, later reloads run', { timeout: 20_000 }, async () => {
    const own = await Recommender.load(dirA, { reloadTimeoutMs: 500 });
    const app = await createServer(own, { admin: { token: TOKEN, bundles: { stuck: hangDir, a: dirA } } });
    const undo = hangOpens(hangDir);
    try {
      const gen = own.info().generation;
      const t0 = Date.now();
      const hung = await app.inject({ method: 'POST', url: '/admin/reload', headers: AUTH, payload: { bundle: 'stuck' } });
      assert.ok(Date.now() - t0 < 5000);
      assert.ok(hung.statusCode >= 400 && hung.statusCode < 600, hung.body);
      assertErrorShape(hung.json(), 'hung');
      assert.equal(hung.json().error, 'reload_timeout');
      assert.doesNotMatch(hung.body, new RegExp(root));
      assert.equal(own.info().dir, dirA);
      assert.equal(own.info().generation, gen);
      assert.equal(own.recommend([items[0]]).items.length, 10);
      const next = await app.inject({ method: 'POST', url: '/admin/reload', headers: AUTH, payload: {} });
      assert.equal(next.statusCode, 200, next.body);
      const m = parsePrometheus((await app.inject({ method: 'GET', url: '/metrics' })).body);
      assert.equal(m.get('seqrec_reloads_total{result="failure"}'), 1);
      assert.equal(m.get('seqrec_reloads_total{result="success"}'), 1);
    } finally {
      undo();
      await app.close();
      own.dispose();
    }
  });

  it('Recommender.reload rejects after reloadTimeoutMs and does not block the queue', { timeout: 20_000 }, async () => {
    const own = await Recommender.load(dirA, { reloadTimeoutMs: 300 });
    const undo = hangOpens(hangDir);
    try {
      await assert.rejects(
        own.reload(hangDir),
        (e: unknown) => e instanceof SeqrecError && e.code === 'timeout' && /did not finish loading within 0\.3 s/.test(e.message),
      );
      // The queue is not stuck behind the hung load.
      assert.equal((await own.reload()).dir, dirA);
      // A per-call timeout.
      await assert.rejects(own.reload(hangDir, { timeoutMs: 100 }), /within 0\.1 s/);
      // Two loads are still stuck: more are refused at once rather than tying up more threads.
      await assert.rejects(own.reload(), /still stuck/);
      assert.equal(own.recommend([items[0]]).items.length, 10);
    } finally {
      undo();
      own.dispose();
    }
  });
});

describe("malformed HTTP gets seqrec's error shape (item 13)", () => {
  it('bad URLs and lying Content-Length', async () => {
    const app = await server({});
    const bad = await app.inject({ method: 'GET', url: '/%zz' });
    assert.equal(bad.statusCode, 400);
    assertErrorShape(bad.json(), '/%zz');
    assert.equal(bad.json().error, 'bad_url');
    const url = new URL(await app.listen({ port: 0, host: '127.0.0.1' }));
    const raw = (req: string, end: boolean) =>
      new Promise<string>((resolve) => {
        const sock = net.connect(Number(url.port), '127.0.0.1', () => {
          sock.write(req);
          if (end) sock.end();
        });
        let data = '';
        sock.on('data', (d) => (data += d));
        sock.on('close', () => resolve(data));
        setTimeout(() => sock.destroy(), 4000);
      });
    const body = JSON.stringify({ history: [items[0]], k: 3 });
    for (const [cl, end] of [
      ['5', false],
      ['500', true],
      ['abc', false],
      ['5\r\nContent-Length: 6', false],
    ] as const) {
      const out = await raw(`POST /recommend HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${cl}\r\n\r\n${body}`, end);
      const responses = out.split(/(?=HTTP\/1\.1 )/).filter(Boolean);
      assert.ok(responses.length >= 1, `no answer for Content-Length ${cl}`);
      for (const res of responses) {
        assert.match(res, /^HTTP\/1\.1 4\d\d/, res);
        assertErrorShape(JSON.parse(res.slice(res.indexOf('\r\n\r\n') + 4)), `Content-Length ${cl}`);
      }
    }
    await app.close();
  });
});
