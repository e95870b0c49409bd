/**
 * Runs every script in examples/ in a child process with EXAMPLE_QUICK=1 (small data, one
 * epoch), so the examples cannot rot: each must exit 0 and print what it promises. Examples
 * import ../src/index.js directly, so no build is needed; tsx runs them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { faissAvailable } from '../../src/retrieval/faiss.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ml100k = join(root, '..', 'shared', 'data', 'ml-100k', 'u.data');

function runExample(name: string, args: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join('examples', name), ...args],
      { cwd: root, env: { ...process.env, EXAMPLE_QUICK: '1', PORT: '0' }, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function ok(run: { code: number; stdout: string; stderr: string }, name: string): void {
  assert.equal(run.code, 0, `${name} exited with ${run.code}\n--- stdout\n${run.stdout.slice(-3000)}\n--- stderr\n${run.stderr.slice(-3000)}`);
}

test('every example has a test here', () => {
  const tested = ['train-movielens.ts', 'multi-interest.ts', 'faiss-retrieval.ts', 'custom-model.ts', 'service.ts'];
  assert.deepEqual(
    readdirSync(join(root, 'examples'))
      .filter((f) => f.endsWith('.ts'))
      .sort(),
    tested.sort(),
  );
});

test(
  'train-movielens.ts: trains GRU4Rec on MovieLens 100K, evaluates, saves and reloads',
  { skip: existsSync(ml100k) ? false : `MovieLens 100K not found at ${ml100k}` },
  async () => {
    const run = await runExample('train-movielens.ts', [ml100k]);
    ok(run, 'train-movielens.ts');
    assert.match(run.stdout, /943 users, 1349 items, 99287 interactions after 5-core/);
    assert.match(run.stdout, /test recall@50 +GRU4Rec 0\.\d{4} +MostPopular 0\.1834/);
    const [, first] = /test recall@50 +GRU4Rec (0\.\d{4})/.exec(run.stdout)!;
    assert.match(run.stdout, new RegExp(`reloaded model gives test recall@50 ${first}`), 'the reloaded model scores the same');
  },
);

test('train-movielens.ts: a missing file is a clear error, not a stack trace', async () => {
  const run = await runExample('train-movielens.ts', [join(root, 'no-such-file.data')]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /no interaction file at .*no-such-file\.data/);
});

test('multi-interest.ts: ComiRec-SA on planted multi-interest users, one retrieval per interest', async () => {
  const run = await runExample('multi-interest.ts');
  ok(run, 'multi-interest.ts');
  assert.match(run.stdout, /comirec-sa \(K=4\), best epoch 1: test recall@50 0\.\d+ vs MostPopular 0\.\d+/);
  for (let k = 1; k <= 4; k++) assert.match(run.stdout, new RegExp(`interest ${k}: top-10 items from cluster \\d+ x\\d+`));
});

test('multi-interest.ts runs MIND too', async () => {
  const run = await runExample('multi-interest.ts', ['mind']);
  ok(run, 'multi-interest.ts mind');
  assert.match(run.stdout, /mind \(K=4\), best epoch 1/);
});

test('faiss-retrieval.ts: exact and (when faiss-node loads) faiss indexes side by side', async () => {
  const run = await runExample('faiss-retrieval.ts');
  ok(run, 'faiss-retrieval.ts');
  assert.match(run.stdout, /exact +\d+\.\d+ ms\/user +overlap@50 with exact 1\.000/);
  if (faissAvailable() || process.env.SEQREC_REQUIRE_FAISS === '1') {
    assert.match(run.stdout, /faiss Flat +\d+\.\d+ ms\/user +overlap@50 with exact 1\.000/, 'a Flat index returns the exact lists');
    assert.match(run.stdout, /faiss HNSW32 /);
    assert.match(run.stdout, /loaded it back: identical results/);
  } else {
    assert.match(run.stdout, /faiss-node is not installed/);
  }
});

test('custom-model.ts: a registered BaseRecaller trains, saves, loads, exports a bundle and is served', async () => {
  const run = await runExample('custom-model.ts');
  ok(run, 'custom-model.ts');
  assert.match(run.stdout, /custom model 'attention-pooling': 5 weights/);
  const [, recall] = /attention pooling, best epoch 1: test recall@50 (0\.\d{4}), MostPopular 0\.\d{4}/.exec(run.stdout) ?? [];
  assert.ok(recall, run.stdout);
  assert.match(
    run.stdout,
    new RegExp(`reloaded attention-pooling: test recall@50 ${recall} \\(identical\\)`),
    'loadModel rebuilds the custom model by its registered name',
  );
  assert.match(run.stdout, /POST \/recommend -> 200, 5 items: i\d+(, i\d+){4}\n/);
});

test('service.ts: fastify service embedding a Recommender answers over HTTP', async () => {
  const run = await runExample('service.ts');
  ok(run, 'service.ts');
  assert.match(run.stdout, /listening on http:\/\/127\.0\.0\.1:\d+/);
  const known = JSON.parse(/GET \/users\/ann\/recommendations\?k=5 -> (.*)/.exec(run.stdout)![1]);
  assert.equal(known.items.length, 5);
  assert.deepEqual(known.unknownItems, ['no-such-item']);
  assert.equal(known.fallback, null);
  for (const item of known.items) assert.ok(!['i1', 'i5', 'i9'].includes(item.id), 'seen items are excluded');
  const fresh = JSON.parse(/GET \/users\/bob\/recommendations\?k=3 -> (.*)/.exec(run.stdout)![1]);
  assert.equal(fresh.fallback, 'popularity');
  assert.equal(fresh.items.length, 3);
  assert.match(run.stdout, /POST \/events without item -> 400/);
});
