/**
 * FaissRetriever against ExactRetriever. Needs faiss-node (`npm run setup:faiss`): without it
 * these tests skip with a message, unless SEQREC_REQUIRE_FAISS=1 (CI), where they fail.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SequenceDataset } from '../../src/data/dataset.js';
import { Random } from '../../src/util/random.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { SeqrecError } from '../../src/errors.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { MIND } from '../../src/models/mind.js';
import { ExactRetriever, FaissRetriever, faissAvailable } from '../../src/retrieval/index.js';
import { evaluateModel } from '../../src/train/evaluate.js';
import { Trainer } from '../../src/train/trainer.js';
import { setupBackend } from '../helpers.js';
import { assertSameResult, assertValidResult, randomVectors, recallAgainst, retrieverContract } from './contract.js';

const REQUIRED = process.env.SEQREC_REQUIRE_FAISS === '1';
const AVAILABLE = faissAvailable();
const skip = AVAILABLE || REQUIRED ? false : 'faiss-node does not load here: run `npm run setup:faiss` (SEQREC_REQUIRE_FAISS=1 turns this skip into a failure)';
if (skip) console.log(`# faiss tests skipped: ${skip}`);

function throwsSeqrec(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SeqrecError, `expected a SeqrecError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('faiss-node availability', () => {
  it('loads (required in CI)', { skip: !REQUIRED && !AVAILABLE ? skip : false }, () => {
    assert.ok(AVAILABLE, 'faiss-node does not load although SEQREC_REQUIRE_FAISS=1: run `npm run setup:faiss`');
  });

  it('seqrec imports, evaluates and explains itself without faiss-node', () => {
    // A child process in which resolving 'faiss-node' fails as if it were not installed.
    const dir = mkdtempSync(join(tmpdir(), 'seqrec-nofaiss-'));
    try {
      const block = join(dir, 'block-faiss.cjs');
      writeFileSync(
        block,
        `const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'faiss-node' || request.startsWith('faiss-node/')) {
    const e = new Error("Cannot find module '" + request + "'"); e.code = 'MODULE_NOT_FOUND'; throw e;
  }
  return resolve.call(this, request, ...rest);
};
`,
      );
      const src = (p: string) => JSON.stringify(fileURLToPath(new URL(`../../src/${p}`, import.meta.url)));
      const code = `
        const seqrec = await import(${src('index.ts')});
        const { faissNodeVersion } = await import(${src('retrieval/faiss.ts')});
        const out = { available: seqrec.faissAvailable(), version: faissNodeVersion() };
        try { new seqrec.FaissRetriever(new Float32Array(8), 2); } catch (e) { out.code = e.code; out.message = e.message; }
        await seqrec.initBackend();
        const log = seqrec.generateSynthetic({ numUsers: 60, numItems: 40, numClusters: 4, minLength: 8, maxLength: 12, seed: 3 });
        const data = seqrec.SequenceDataset.fromLog(log, { maxLen: 6, seed: 1 });
        const model = new seqrec.GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: 6, seed: 1 });
        out.auto = seqrec.evaluateModel(model, data, 'test');
        out.exact = seqrec.evaluateModel(model, data, 'test', { retrieval: 'exact' });
        try { seqrec.evaluateModel(model, data, 'test', { retrieval: 'faiss' }); } catch (e) { out.faissCode = e.code; }
        console.log(JSON.stringify(out));
      `;
      const r = spawnSync(process.execPath, ['--require', block, '--import', 'tsx', '--input-type=module', '-e', code], {
        encoding: 'utf8',
        env: { ...process.env, SEQREC_BACKEND: 'cpu' },
      });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      assert.equal(out.available, false);
      assert.equal(out.version, null);
      assert.equal(out.code, 'backend_unavailable');
      assert.match(out.message, /faiss-node is not installed/);
      assert.match(out.message, /npm install faiss-node/);
      assert.match(out.message, /npm run setup:faiss/);
      assert.deepEqual(out.auto, out.exact);
      assert.equal(out.faissCode, 'backend_unavailable');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

retrieverContract('FaissRetriever(Flat)', (items, dim, metric) => new FaissRetriever(items, dim, { metric }), { exact: true, skip });

describe('FaissRetriever(Flat) equals ExactRetriever', { skip }, () => {
  const rng = new Random(606);
  const dim = 24;
  const numItems = 3001;
  const items = randomVectors(rng, numItems * dim);
  items.fill(50, 0, dim);
  const users = 70; // > 64 queries: faiss switches to its BLAS path
  const queries = randomVectors(rng, users * dim);

  it('on untied random data (and > 64 queries, BLAS path) faiss settles every cut itself: no exact re-scans', () => {
    for (const metric of ['ip', 'cosine'] as const) {
      const faiss = new FaissRetriever(items, dim, { metric });
      for (const k of [1, 10, 50])
        assertSameResult(faiss.search(queries, { k }), new ExactRetriever(items, dim, { metric, native: false }).search(queries, { k }), `${metric} k=${k}`);
      assert.equal(faiss.exactFallbacks, 0);
      faiss.dispose();
    }
  });

  it('many exactly tied items at the cut (duplicate vectors, a zero query) still give the exact lists', () => {
    // faiss's float32 scores break these ties arbitrarily; the retriever must notice and fall back.
    const d = 4;
    const dup = new Float32Array(2001 * d);
    for (let i = d; i < dup.length; i++) dup[i] = (i % 3) - 1;
    const q = new Float32Array(30 * d);
    for (let i = 4 * d; i < q.length; i++) q[i] = ((i * 7) % 5) - 2;
    for (const metric of ['ip', 'cosine'] as const) {
      const faiss = new FaissRetriever(dup, d, { metric });
      const exclude = Array.from({ length: 30 }, (_, u) => (u % 2 ? [1, 2, 3, 4, 5, 6] : null));
      assertSameResult(
        faiss.search(q, { k: 20, exclude }),
        new ExactRetriever(dup, d, { metric, native: false }).search(q, { k: 20, exclude }),
        `ties ${metric}`,
      );
      if (metric === 'cosine') assert.ok(faiss.exactFallbacks > 0, 'expected exact fallbacks on tied data');
    }
  });

  it('a catalogue of only the padding row returns nothing', () => {
    const got = new FaissRetriever(new Float32Array(4), 4).search(new Float32Array([1, 2, 3, 4]), { k: 3 });
    assert.deepEqual(Array.from(got.ids), [-1, -1, -1]);
  });

  it('rescore: false returns faiss float32 scores, within 1e-5 of exact', () => {
    const q = queries.subarray(0, users * dim);
    const want = new ExactRetriever(items, dim, { native: false }).search(q, { k: 50 });
    const got = new FaissRetriever(items, dim, { rescore: false }).search(q, { k: 50 });
    for (let i = 0; i < want.scores.length; i++) assert.ok(Math.abs(got.scores[i] - want.scores[i]) <= 1e-5, `score ${i}`);
    assert.ok(recallAgainst(got, want) >= 0.99);
  });
});

describe('FaissRetriever: approximate indexes on 100k random vectors (dim 64)', { skip }, () => {
  // Isotropic Gaussian vectors have no cluster structure: the hardest case for ANN indexes.
  const rng = new Random(2025);
  const dim = 64;
  const numItems = 100_001;
  const items = randomVectors(rng, numItems * dim);
  const queries = randomVectors(rng, 100 * dim);
  const k = 50;

  it('HNSW32 (cosine), default settings: recall@50 >= 0.95 on held-out queries', () => {
    const truth = new ExactRetriever(items, dim, { metric: 'cosine' }).search(queries, { k });
    const hnsw = new FaissRetriever(items, dim, { factory: 'HNSW32', metric: 'cosine' });
    // efSearch was calibrated on item vectors as queries (not these queries) to recall 0.95.
    const cal = hnsw.calibration!;
    assert.equal(cal.parameter, 'efSearch');
    assert.equal(hnsw.searchParams.efSearch, cal.steps[cal.steps.length - 1].value);
    console.log(`# HNSW32 calibration: ${cal.steps.map((s) => `efSearch ${s.value} -> ${s.recall.toFixed(3)}`).join(', ')}`);
    const got = hnsw.search(queries, { k });
    assertValidResult(got, numItems, 'HNSW32');
    const recall = recallAgainst(got, truth);
    console.log(`# HNSW32 cosine, default (efSearch ${hnsw.searchParams.efSearch}): recall@50 = ${recall.toFixed(4)}`);
    assert.ok(recall >= 0.95, `recall@50 ${recall}`);
    // The parameter really reaches faiss: faiss's own default (16) finds far less.
    hnsw.setSearchParams({ efSearch: 16 });
    const low = recallAgainst(hnsw.search(queries, { k }), truth);
    console.log(`# HNSW32 cosine, efSearch 16: recall@50 = ${low.toFixed(4)}`);
    assert.ok(low < recall - 0.2, `efSearch 16 recall ${low}`);
    hnsw.dispose();
  });

  it('IVF1024,Flat (ip), default settings: trains on the items; recall@50 >= 0.95 on held-out queries', () => {
    const truth = new ExactRetriever(items, dim).search(queries, { k });
    const ivf = new FaissRetriever(items, dim, { factory: 'IVF1024,Flat' });
    const cal = ivf.calibration!;
    assert.equal(cal.parameter, 'nprobe');
    console.log(`# IVF1024 calibration: ${cal.steps.map((s) => `nprobe ${s.value} -> ${s.recall.toFixed(3)}`).join(', ')}`);
    const got = ivf.search(queries, { k });
    assertValidResult(got, numItems, 'IVF');
    const recall = recallAgainst(got, truth);
    console.log(`# IVF1024,Flat ip, default (nprobe ${ivf.searchParams.nprobe}): recall@50 = ${recall.toFixed(4)}`);
    assert.ok(recall >= 0.95, `recall@50 ${recall}`);
    ivf.setSearchParams({ nprobe: 64 }); // the uncalibrated starting point, ceil(1024 / 16)
    const low = recallAgainst(ivf.search(queries, { k }), truth);
    console.log(`# IVF1024,Flat ip, nprobe 64: recall@50 = ${low.toFixed(4)}`);
    assert.ok(low < recall - 0.2, `nprobe 64 recall ${low}`);
    ivf.dispose();
  });

  it('calibration can be turned off (targetRecall 0) and is skipped when the parameter is given', () => {
    const small = items.subarray(0, 20001 * dim);
    const off = new FaissRetriever(small, dim, { factory: 'IVF64,Flat', targetRecall: 0 });
    assert.equal(off.calibration, null);
    assert.equal(off.searchParams.nprobe, 4);
    const given = new FaissRetriever(small, dim, { factory: 'IVF64,Flat', nprobe: 8 });
    assert.equal(given.calibration, null);
    assert.equal(given.searchParams.nprobe, 8);
    off.dispose();
    given.dispose();
  });
});

describe('FaissRetriever: other factories, parameters and errors', { skip }, () => {
  const rng = new Random(77);
  const dim = 16;
  const numItems = 2001;
  const items = randomVectors(rng, numItems * dim);
  const queries = randomVectors(rng, 12 * 2 * dim);

  it('IVF,PQ and HNSW indexes apply exclusions and multi-interest merging', () => {
    const exclude = Array.from({ length: 12 }, (_, u) => [1 + u, 100 + u, 1000 + u]);
    for (const [factory, extra] of [
      ['IVF32,PQ4np', { nprobe: 32 }], // np: skip polysemous training (slow, and unused by search)
      ['HNSW16', {}],
      ['IVF16,SQ8', { nprobe: 16 }],
    ] as const) {
      const r = new FaissRetriever(items, dim, { factory, ...extra });
      const got = r.search(queries, { k: 10, interests: 2, exclude });
      assertValidResult(got, numItems, factory);
      for (let u = 0; u < 12; u++) for (const id of got.ids.subarray(u * 10, (u + 1) * 10)) assert.ok(!exclude[u].includes(id), factory);
      const truth = new ExactRetriever(items, dim).search(queries, { k: 10, interests: 2, exclude });
      assert.ok(recallAgainst(got, truth) >= 0.6, `${factory}: recall ${recallAgainst(got, truth)}`);
      r.dispose();
    }
  });

  it('unknown or unusable factory strings are clear errors', () => {
    throwsSeqrec(
      () => new FaissRetriever(items, dim, { factory: 'Bogus12' }),
      'invalid_config',
      /factory string 'Bogus12'.*could not parse index string Bogus12/,
    );
    throwsSeqrec(() => new FaissRetriever(items, dim, { factory: 'IVF16,PQ5' }), 'invalid_config', /IVF16,PQ5/);
    throwsSeqrec(() => new FaissRetriever(items, dim, { factory: 'IDMap,Flat' }), 'invalid_config', /IDMap/);
    throwsSeqrec(() => new FaissRetriever(items, dim, { factory: '' }), 'invalid_config', /factory/);
  });

  it('too few item vectors to train is a clear error', () => {
    throwsSeqrec(() => new FaissRetriever(items, dim, { factory: 'IVF4096,Flat' }), 'invalid_config', /at least 4096 training vectors.*only 2000 real items/);
    const few = items.subarray(0, 200 * dim);
    throwsSeqrec(() => new FaissRetriever(few, dim, { factory: 'IVF8,PQ4' }), 'invalid_config', /at least 256 training vectors.*PQ4/);
  });

  it('search parameters are checked against the index type', () => {
    throwsSeqrec(() => new FaissRetriever(items, dim, { nprobe: 4 }), 'invalid_config', /nprobe applies to IVF/);
    throwsSeqrec(() => new FaissRetriever(items, dim, { factory: 'IVF16,Flat', efSearch: 4 }), 'invalid_config', /efSearch\/efConstruction apply to HNSW/);
    throwsSeqrec(() => new FaissRetriever(items, dim, { factory: 'IVF16,Flat', nprobe: 17 }), 'invalid_config', /nprobe must be in \[1, nlist = 16\]/);
    throwsSeqrec(() => new FaissRetriever(items, dim, { factory: 'HNSW8', efSearch: 0 }), 'invalid_argument', /efSearch must be an integer >= 1/);
    const ivf = new FaissRetriever(items, dim, { factory: 'IVF16,Flat', targetRecall: 0 });
    assert.deepEqual(ivf.searchParams, { nprobe: 1, nlist: 16, efSearch: null }); // ceil(16 / 16), uncalibrated
    throwsSeqrec(() => ivf.setSearchParams({ efSearch: 10 }), 'invalid_config', /efSearch applies to HNSW/);
  });

  it('bad constructor arguments are errors, as in ExactRetriever (search arguments: the shared contract)', () => {
    throwsSeqrec(() => new FaissRetriever(items.subarray(0, 10 * dim + 3), dim), 'shape_mismatch', /multiple of dim=16/);
    throwsSeqrec(() => new FaissRetriever(items, dim, { metric: 'l2' as never }), 'invalid_argument', /metric/);
  });
});

describe('FaissRetriever save / load', { skip }, () => {
  const rng = new Random(31);
  const dim = 16;
  const numItems = 1501;
  const items = randomVectors(rng, numItems * dim);
  const queries = randomVectors(rng, 20 * dim);
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'seqrec-faiss-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips Flat, IVF and HNSW indexes with their metric and search parameters', () => {
    for (const [name, options] of [
      ['flat-cosine', { metric: 'cosine' }],
      ['ivf', { factory: 'IVF16,Flat', nprobe: 5 }],
      ['hnsw', { factory: 'HNSW16', efSearch: 40, efConstruction: 20 }],
    ] as const) {
      const r = new FaissRetriever(items, dim, options);
      const exclude = Array.from({ length: 20 }, (_, u) => [u + 1]);
      const before = r.search(queries, { k: 15, exclude });
      const path = join(dir, name, 'items.faiss');
      r.save(path);
      const sidecar = JSON.parse(readFileSync(`${path}.json`, 'utf8'));
      assert.equal(sidecar.format, 'seqrec-faiss-index');
      assert.equal(sidecar.version, 1);
      assert.equal(sidecar.dim, dim);
      assert.equal(sidecar.numItems, numItems);
      assert.equal(sidecar.factory, r.factory);
      assert.equal(sidecar.metric, r.metric);

      const loaded = FaissRetriever.load(path, { itemVectors: items, dim, numItems });
      assert.equal(loaded.metric, r.metric);
      assert.equal(loaded.rescore, true);
      assert.deepEqual(loaded.searchParams, r.searchParams);
      assertSameResult(loaded.search(queries, { k: 15, exclude }), before, `${name} after load`);
      // Without the item matrix: faiss's own scores.
      const bare = FaissRetriever.load(path);
      assert.equal(bare.rescore, false);
      assert.ok(recallAgainst(bare.search(queries, { k: 15 }), r.search(queries, { k: 15 })) >= 0.95);
      r.dispose();
      loaded.dispose();
    }
    const ivf = FaissRetriever.load(join(dir, 'ivf', 'items.faiss'), { nprobe: 16 });
    assert.deepEqual(ivf.searchParams, { nprobe: 16, nlist: 16, efSearch: null });
  });

  it('a mismatched, corrupt or incomplete index is a clear error', () => {
    const path = join(dir, 'errors', 'items.faiss');
    new FaissRetriever(items, dim).save(path);
    throwsSeqrec(() => FaissRetriever.load(path, { dim: 32 }), 'shape_mismatch', /has dim 16, expected 32/);
    throwsSeqrec(() => FaissRetriever.load(path, { numItems: 10 }), 'shape_mismatch', /has numItems 1501, expected 10/);
    throwsSeqrec(() => FaissRetriever.load(path, { metric: 'cosine' }), 'shape_mismatch', /metric ip, expected cosine/);
    const other = Float32Array.from(items);
    other[123] += 1;
    throwsSeqrec(() => FaissRetriever.load(path, { itemVectors: other }), 'shape_mismatch', /built from different item vectors/);
    throwsSeqrec(() => FaissRetriever.load(path, { itemVectors: items.subarray(0, 100 * dim) }), 'shape_mismatch', /numItems/);
    throwsSeqrec(() => FaissRetriever.load(path, { rescore: true }), 'invalid_argument', /pass itemVectors/);

    const good = readFileSync(path);
    const flipped = Buffer.from(good);
    flipped[good.length >> 1] ^= 0xff;
    writeFileSync(path, flipped);
    throwsSeqrec(() => FaissRetriever.load(path), 'bundle_invalid', /corrupt or was replaced/);
    writeFileSync(path, good.subarray(0, 100));
    throwsSeqrec(() => FaissRetriever.load(path), 'bundle_invalid', /corrupt or was replaced/);
    writeFileSync(path, good);

    const sidecarText = readFileSync(`${path}.json`, 'utf8');
    writeFileSync(`${path}.json`, sidecarText.replace('seqrec-faiss-index', 'something-else'));
    throwsSeqrec(() => FaissRetriever.load(path), 'bundle_invalid', /not a seqrec faiss index sidecar/);
    writeFileSync(`${path}.json`, sidecarText.replace('"version": 1', '"version": 99'));
    throwsSeqrec(() => FaissRetriever.load(path), 'bundle_invalid', /version 99 is not supported/);
    // The sidecar is strict: an extra field is named, with a hint; a bad value names its field.
    writeFileSync(`${path}.json`, sidecarText.replace('"dim": ', '"dimm": 1,\n  "dim": '));
    throwsSeqrec(() => FaissRetriever.load(path), 'bundle_invalid', /index sidecar: unknown option 'dimm' \(did you mean 'dim'\?\)/);
    writeFileSync(`${path}.json`, sidecarText.replace(/"indexSha256": "[0-9a-f]+"/, '"indexSha256": "abc"'));
    throwsSeqrec(() => FaissRetriever.load(path), 'bundle_invalid', /index sidecar: indexSha256: expected a SHA-256 in hex/);
    writeFileSync(`${path}.json`, '{ not json');
    throwsSeqrec(() => FaissRetriever.load(path), 'bundle_invalid', /not valid JSON/);
    rmSync(`${path}.json`);
    throwsSeqrec(() => FaissRetriever.load(path), 'bundle_invalid', /cannot read the index sidecar \(ENOENT\)/);
    throwsSeqrec(() => FaissRetriever.load(join(dir, 'nowhere.faiss')), 'bundle_invalid', /cannot read the index sidecar/);
  });
});

describe('evaluateModel with faiss', { skip }, () => {
  before(setupBackend);

  it('gives metrics identical to the exact retriever (trained GRU4Rec, untrained MIND), with and without history exclusion', async () => {
    const log = generateSynthetic({ numUsers: 300, numItems: 400, numClusters: 8, minLength: 12, maxLength: 24, seed: 9 });
    const data = SequenceDataset.fromLog(log, { maxLen: 8, samplesPerUser: 2, seed: 1 });
    const gru = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 16, maxLen: 8, seed: 4 });
    await new Trainer(gru, { epochs: 2, batchSize: 128, learningRate: 5e-3, parallelism: 1 }).fit(data);
    const mind = new MIND({ itemCount: data.itemCount, embeddingDim: 16, maxLen: 8, numInterests: 3, seed: 4 });
    for (const model of [gru, mind]) {
      for (const opts of [{}, { excludeHistory: true, ns: [5, 20, 100] }, { similarity: 'cosine' as const }]) {
        const exact = evaluateModel(model, data, 'test', { ...opts, retrieval: 'exact' });
        const faiss = evaluateModel(model, data, 'test', { ...opts, retrieval: 'faiss' });
        const auto = evaluateModel(model, data, 'test', opts);
        assert.deepEqual(faiss, exact, `${model.name} ${JSON.stringify(opts)}`);
        assert.deepEqual(auto, exact, `${model.name} ${JSON.stringify(opts)} (auto)`);
      }
    }
    assert.throws(() => evaluateModel(gru, data, 'test', { retrieval: 'annoy' as never }), /retrieval must be 'auto', 'exact' or 'faiss'/);
    gru.dispose();
    mind.dispose();
  });
});
