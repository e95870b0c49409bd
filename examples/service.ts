/**
 * Embedding a Recommender in your own fastify service: the service keeps each user's recent
 * events, and answers "what next for this user?" from a model bundle. (For a ready-made JSON
 * API over a bundle, use `seqrec serve --model DIR`; this shows the library inside your app.)
 *
 *   node --import tsx examples/service.ts [BUNDLE_DIR]       # then, in another shell:
 *   curl -X POST localhost:3000/events -H 'content-type: application/json' -d '{"user":"ann","item":"i42"}'
 *   curl 'localhost:3000/users/ann/recommendations?k=5'
 *
 * BUNDLE_DIR: a bundle from `seqrec export` (or `Recommender`-loadable directory). Without it,
 * a small GRU4Rec is trained on synthetic data and exported to a temporary bundle first.
 * PORT (default 3000; 0 = any free port). EXAMPLE_QUICK=1: train one epoch, start on a free
 * port, call the service once over HTTP, print the answers and exit (used by the test).
 * In your own project, import from 'seqrec' and 'seqrec/serve' instead of '../src/index.js' and
 * '../src/serve/index.js'.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { GRU4Rec, SequenceDataset, Trainer, generateSynthetic, initBackend } from '../src/index.js';
import { Recommender, exportBundle } from '../src/serve/index.js';

const quick = process.env.EXAMPLE_QUICK === '1';
await initBackend();

/** Trains a small model on synthetic data and writes a bundle (model, vocabulary, popularity) to a temp dir. */
async function demoBundle(): Promise<string> {
  const data = SequenceDataset.fromLog(generateSynthetic({ numUsers: quick ? 300 : 2000, numItems: quick ? 200 : 1000, seed: 1 }), { samplesPerUser: 4 });
  const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 32, maxLen: 20 });
  await new Trainer(model, { epochs: quick ? 1 : 10, learningRate: 3e-3, log: console.log }).fit(data);
  const dir = await mkdtemp(join(tmpdir(), 'seqrec-bundle-'));
  await exportBundle(model, dir, { vocabulary: data.vocabulary, popularity: data.itemPopularity(), popularitySource: 'synthetic training users' });
  model.dispose();
  return dir;
}

const given = process.argv[2];
const bundleDir = given ?? (await demoBundle());
const recommender = await Recommender.load(bundleDir); // loads, checks and warms up the bundle
const info = recommender.info();
console.log(`loaded ${info.model} (${info.numItems} items, ${info.retriever} retrieval) from ${bundleDir}`);

// The service's own state: recent events per user (a database or cache in a real service).
const events = new Map<string, string[]>();
const MAX_EVENTS = 200;

const app = Fastify({ logger: false });

app.post<{ Body: { user: string; item: string } }>(
  '/events',
  {
    schema: {
      body: {
        type: 'object',
        required: ['user', 'item'],
        additionalProperties: false,
        properties: { user: { type: 'string', minLength: 1, maxLength: 200 }, item: { type: 'string', minLength: 1, maxLength: 200 } },
      },
    },
  },
  async (req, reply) => {
    const list = events.get(req.body.user) ?? [];
    list.push(req.body.item);
    events.set(req.body.user, list.slice(-MAX_EVENTS));
    return reply.code(204).send();
  },
);

app.get<{ Params: { id: string }; Querystring: { k?: number } }>(
  '/users/:id/recommendations',
  { schema: { querystring: { type: 'object', properties: { k: { type: 'integer', minimum: 1, maximum: 100, default: 10 } } } } },
  async (req) => {
    const history = events.get(req.params.id) ?? [];
    // Synchronous and safe to call from concurrent handlers; unknown item ids are skipped and
    // reported, and an empty history falls back to the most popular items (and says so).
    const rec = recommender.recommend(history, { k: req.query.k ?? 10, excludeSeen: true });
    return { user: req.params.id, items: rec.items, unknownItems: rec.unknown, fallback: rec.fallback };
  },
);

app.get('/health', async () => ({ status: 'ok', model: info.model, items: info.numItems }));

// Graceful shutdown: stop accepting requests, finish the ones in flight, free the model.
const close = async () => {
  await app.close();
  recommender.dispose();
  if (!given) await rm(bundleDir, { recursive: true, force: true });
};
process.once('SIGINT', () => void close());
process.once('SIGTERM', () => void close());

const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? (quick ? 0 : 3000)) });
console.log(`listening on ${address}`);

if (quick) {
  // A quick self-check over HTTP, then exit.
  for (const item of ['i1', 'i5', 'i9', 'no-such-item']) {
    await fetch(`${address}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'ann', item }) });
  }
  const known = await (await fetch(`${address}/users/ann/recommendations?k=5`)).json();
  console.log(`GET /users/ann/recommendations?k=5 -> ${JSON.stringify(known)}`);
  const fresh = await (await fetch(`${address}/users/bob/recommendations?k=3`)).json();
  console.log(`GET /users/bob/recommendations?k=3 -> ${JSON.stringify(fresh)}`);
  const bad = await fetch(`${address}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"ann"}' });
  console.log(`POST /events without item -> ${bad.status}`);
  await close();
}
