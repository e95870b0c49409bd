/**
 * The native path (native/seqrec_native.c through src/backend/native.ts) gives the answers of
 * the WebAssembly path: every model trained a few seeded steps in two child processes, one
 * with SEQREC_NATIVE=1 and one with SEQREC_NATIVE=0, reaches the same losses (the backend is
 * chosen once per process). Skipped with a message where the addon is not built, unless
 * SEQREC_NATIVE=1 is set (CI), where a missing addon fails.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NATIVE_SETUP_HINT, nativeAddon, nativeStatus } from '../../src/backend/native.js';
import { MODELS } from '../../src/models/registry.js';
import { Random } from '../../src/util/random.js';

const fixture = fileURLToPath(new URL('./fixtures/train-steps.ts', import.meta.url));
const status = nativeStatus();
const skip = status.loaded ? false : `native kernels not loaded: ${status.reason} (build them with ${NATIVE_SETUP_HINT})`;

interface Run {
  backend: string;
  losses: Record<string, number[]>;
}

function run(native: '0' | '1', threads: string): Run {
  const out = execFileSync(process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, SEQREC_BACKEND: 'wasm', SEQREC_NATIVE: native, SEQREC_WASM_THREADS: threads, FIXTURE_MODELS: Object.keys(MODELS).join(',') },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 300_000,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Run;
}

describe('native kernels against the WebAssembly path', { skip }, () => {
  const wasm = run('0', '1');
  const native = run('1', '2');

  it('says on the backend line which path is active', () => {
    assert.match(native.backend, /native kernels on \(OpenBLAS [\d.]+.*2 threads\)/);
    assert.match(wasm.backend, /native kernels off: SEQREC_NATIVE=0/);
  });

  it('trains every model to the same losses within 1e-4', () => {
    assert.deepEqual(Object.keys(native.losses), Object.keys(MODELS));
    for (const model of Object.keys(wasm.losses)) {
      wasm.losses[model].forEach((loss, i) => {
        const got = native.losses[model][i];
        assert.ok(Math.abs(got - loss) <= 1e-4 * Math.max(1, Math.abs(loss)), `${model} step ${i}: native ${got} vs wasm ${loss}`);
      });
      assert.ok(native.losses[model][3] < native.losses[model][0], `${model} learns on the native path`);
    }
  });

  it('is deterministic on the native path', () => {
    assert.deepEqual(run('1', '2').losses, native.losses);
  });
});

describe('native embedding rows', { skip }, () => {
  it('gathers and scatter-adds exactly like the JavaScript loops, and names a bad index', async () => {
    const { gatherRows, scatterAddRows } = await import('../../src/ops/embedding.js');
    const addon = nativeAddon()!;
    const dim = 5;
    const table = Float32Array.from({ length: 9 * dim }, (_, i) => Math.sin(i) * 3);
    const indices = Int32Array.from([3, 0, 8, 3, 3, 1]);
    const [want, got] = [new Float32Array(indices.length * dim), new Float32Array(indices.length * dim)];
    gatherRows(want, table, indices, 9, dim);
    addon.gather_rows(got, table, indices, dim);
    assert.deepEqual(got, want);
    const dy = Float32Array.from({ length: indices.length * dim }, (_, i) => Math.cos(i));
    const [sumWant, sumGot] = [new Float32Array(9 * dim), new Float32Array(9 * dim).fill(42)];
    scatterAddRows(sumWant, dy, indices, dim);
    addon.scatter_add_rows(sumGot, dy, indices, dim);
    assert.deepEqual(sumGot, sumWant); // same bits: rows added in index order
    assert.throws(() => addon.gather_rows(got, table, Int32Array.from([9]), dim), /embedding index 9 is out of range \[0, 9\)/);
    assert.throws(() => addon.scatter_add_rows(sumGot, dy, Int32Array.from([-1]), dim), /index -1 outside/);
  });
});

describe('dropout masks', () => {
  const naive = (seed: number, n: number, p: number): [Float32Array, number] => {
    const rng = new Random(seed);
    const out = Float32Array.from({ length: n }, () => (rng.next() < p ? 1 / p : 0));
    return [out, rng.nextUint32()];
  };
  it('fillBernoulli gives the bits of a next() < p loop and leaves the stream where that loop does', () => {
    for (const [seed, n, p] of [
      [1, 1000, 0.8],
      [7, 4097, 0.5],
      [3, 10, 1],
      [5, 10, 1e-9],
    ] as const) {
      const [want, after] = naive(seed, n, p);
      const rng = new Random(seed);
      const got = new Float32Array(n);
      rng.fillBernoulli(got, p, 1 / p);
      assert.deepEqual(got, want);
      assert.equal(rng.nextUint32(), after);
    }
  });
  it('fillInts gives the draws of an int(n) loop and leaves the stream where that loop does', () => {
    for (const [seed, n, m] of [
      [2, 3416, 5000],
      [4, 1, 10],
      [6, 12101, 257],
    ] as const) {
      const loop = new Random(seed);
      const want = Int32Array.from({ length: m }, () => 1 + loop.int(n));
      const rng = new Random(seed);
      const got = new Int32Array(m);
      rng.fillInts(got, n, 1);
      assert.deepEqual(got, want);
      assert.equal(rng.nextUint32(), loop.nextUint32());
    }
  });
  it('the native kernel draws the same stream', { skip }, () => {
    const addon = nativeAddon()!;
    for (const [seed, n, p] of [
      [1, 100_003, 0.8],
      [9, 7, 0.1],
    ] as const) {
      const [want, after] = naive(seed, n, p);
      const rng = new Random(seed);
      const got = new Float32Array(n);
      rng.fillBernoulli(got, p, 1 / p, addon.bernoulli_fill);
      assert.deepEqual(got, want);
      assert.equal(rng.nextUint32(), after);
    }
    assert.throws(() => addon.bernoulli_fill(new Float32Array(1), -1, 1, 1), /unsigned 32-bit/);
  });
});
