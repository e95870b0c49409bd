/**
 * Property-based fuzzing of the HTTP API (fast-check, fixed seeds, fastify's inject): every
 * answer is 2xx, or 4xx with seqrec's `{error, message}` body; a valid request is answered
 * exactly as the in-process Recommender answers it (nothing altered on the way); the process
 * survives all of it.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { Recommender } from '../../src/serve/recommender.js';
import { createServer } from '../../src/serve/server.js';
import { trainTinyBundle } from './helpers.js';

let dir: string;
let items: readonly string[];
let rec: Recommender;
let app: FastifyInstance;

before(async () => {
  const bundle = await trainTinyBundle({ seed: 5, epochs: 1 });
  dir = bundle.dir;
  items = bundle.dataset.vocabulary.items();
  rec = await Recommender.load(dir, { maxK: 50, maxHistory: 30, maxBatch: 8 });
  app = await createServer(rec);
  await app.ready();
});
after(async () => {
  await app.close();
  rec.dispose();
  await rm(dirname(dir), { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: unknown;
}

async function send(method: string, url: string, payload?: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await app.inject({ method: method as 'POST', url, payload, headers });
  let body: unknown = res.body;
  try {
    body = JSON.parse(res.body);
  } catch {
    // /metrics is text
  }
  return { status: res.statusCode, body };
}

/** 2xx, or 4xx with `{error: string, message: string}` and nothing else. */
function assertWellFormed(a: Answer, what: string): void {
  if (a.status >= 200 && a.status < 300) return;
  assert.ok(a.status >= 400 && a.status < 500, `${what}: status ${a.status} ${JSON.stringify(a.body)}`);
  const body = a.body as Record<string, unknown>;
  assert.equal(typeof body, 'object', `${what}: error body is not JSON: ${String(a.body)}`);
  assert.deepEqual(Object.keys(body).sort(), ['error', 'message'], `${what}: error body ${JSON.stringify(body)}`);
  assert.equal(typeof body.error, 'string');
  assert.equal(typeof body.message, 'string');
  assert.ok((body.message as string).length > 0);
}

const ROUTES = ['/recommend', '/recommend/batch', '/similar'] as const;

describe('HTTP fuzz (fast-check)', () => {
  // `items` is read when a case is drawn (after `before` ran), not when the suite is declared.
  const knownItem = () => fc.nat(100_000).map((i) => items[i % items.length]);
  const itemLike = () => fc.oneof(knownItem(), fc.string({ maxLength: 10 }), fc.integer(), fc.constant('__proto__'));
  const history = () => fc.array(itemLike(), { maxLength: 40 });
  const kLike = fc.oneof(fc.integer({ min: -3, max: 80 }), fc.double(), fc.constantFrom(2 ** 31 - 1, 1e308, '5', null));
  const interestsLike = fc.oneof(fc.constant('merge'), fc.integer({ min: -2, max: 5 }), fc.string({ maxLength: 4 }));

  /** Bodies close to valid ones: right fields, sometimes wrong values, sometimes extra keys. */
  const nearlyValid = fc.record(
    {
      history: history(),
      histories: fc.array(history(), { maxLength: 10 }),
      item: itemLike(),
      k: kLike,
      excludeSeen: fc.oneof(fc.boolean(), fc.constant('yes')),
      interests: interestsLike,
      extra: fc.jsonValue(),
    },
    { requiredKeys: [] },
  );

  it('near-valid bodies on every route: 2xx or a seqrec 4xx (4,000 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), nearlyValid, async (route, body) => {
        assertWellFormed(await send('POST', route, JSON.stringify(body), { 'content-type': 'application/json' }), `${route} ${JSON.stringify(body)}`);
      }),
      { seed: 1411, numRuns: 4000 },
    );
  });

  it('valid /recommend bodies are answered exactly as Recommender.recommend answers (1,500 cases)', async () => {
    const valid = fc.record(
      {
        history: fc.array(fc.oneof(knownItem(), fc.stringMatching(/^[a-z]{1,6}$/)), { maxLength: 30 }),
        k: fc.integer({ min: 1, max: 50 }),
        excludeSeen: fc.boolean(),
      },
      { requiredKeys: ['history'] },
    );
    await fc.assert(
      fc.asyncProperty(valid, async (body) => {
        const a = await send('POST', '/recommend', JSON.stringify(body), { 'content-type': 'application/json' });
        assert.equal(a.status, 200, JSON.stringify(a.body));
        assert.deepEqual(a.body, JSON.parse(JSON.stringify(rec.recommend(body.history, { k: body.k ?? 10, excludeSeen: body.excludeSeen }))));
      }),
      { seed: 1412, numRuns: 1500 },
    );
  });

  it('arbitrary JSON, text and bytes with any content type: 2xx or a seqrec 4xx (3,000 cases)', async () => {
    const payload = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.integer({ min: 1, max: 400 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
      fc.integer({ min: 1, max: 400 }).map((d) => '{"a":'.repeat(d) + '1' + '}'.repeat(d)),
      fc.constantFrom('{"__proto__":{"x":1},"history":[]}', '{"constructor":{"prototype":{}},"history":[]}', '{"history":[]', ''),
    );
    const contentType = fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      '',
    );
    // A Content-Length that lies about the body, or is not a number at all.
    const length = fc.constantFrom(undefined, '0', '1', '7', '99999', '-1', 'abc');
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), payload, contentType, length, async (route, body, type, contentLength) => {
        const headers: Record<string, string> = type ? { 'content-type': type } : {};
        if (contentLength !== undefined) headers['content-length'] = contentLength;
        assertWellFormed(await send('POST', route, body, headers), `${route} ${type} ${String(body).slice(0, 80)}`);
      }),
      { seed: 1413, numRuns: 3000 },
    );
  });

  it('arbitrary methods and URLs: 2xx or a seqrec 4xx (1,500 cases)', async () => {
    const path = fc.oneof(
      fc.constantFrom(
        '/health',
        '/metrics',
        '/recommend',
        '/similar',
        '/admin/reload',
        '/',
        '/%zz',
        '/%',
        '/recommend?x=%zz',
        '//health',
        '/health/../metrics',
      ),
      // inject needs a path that starts with '/' (an empty one fails inside light-my-request).
      fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
      fc.string({ maxLength: 30 }).map((s) => '/' + encodeURIComponent(s)),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'), path, async (method, url) => {
        const a = await send(method, url, method === 'POST' ? '{}' : undefined, method === 'POST' ? { 'content-type': 'application/json' } : {});
        if (method === 'HEAD') assert.ok(a.status < 500, `${method} ${url}: ${a.status}`);
        else assertWellFormed(a, `${method} ${url}`);
      }),
      { seed: 1414, numRuns: 1500 },
    );
  });

  it('the model still answers the same after the fuzzing', async () => {
    const h = [items[1], items[2]];
    const a = await send('POST', '/recommend', JSON.stringify({ history: h, k: 5 }), { 'content-type': 'application/json' });
    assert.equal(a.status, 200);
    assert.deepEqual(a.body, JSON.parse(JSON.stringify(rec.recommend(h, { k: 5 }))));
  });
});
