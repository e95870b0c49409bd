/**
 * The wasm backend on several threads (TF.js's threaded build, loaded by
 * src/backend/wasm-threads.ts): it loads in Node, trains to the same numbers as one thread,
 * is deterministic, leaves no process-wide handlers behind and lets the process exit.
 * Each case is a child process because the backend is chosen once per process.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/train-steps.ts', import.meta.url));

interface Run {
  backend: string;
  losses: Record<string, number[]>;
  errorListeners: number;
}

function run(threads: string): Run {
  const out = execFileSync(process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, SEQREC_BACKEND: 'wasm', SEQREC_WASM_THREADS: threads },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000, // a thread pool that kept Node alive would hang here
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Run;
}

describe('wasm backend threads', () => {
  const two = run('2');
  const one = run('1');

  it('loads the threaded build with the threads asked for, and a single-threaded one for 1', () => {
    assert.match(two.backend, /wasm \[SIMD on, 2 threads[;\]]/);
    assert.match(one.backend, /wasm \[SIMD on, 1 thread[;\]]/);
  });

  it('trains to the same losses on 2 threads as on 1 (to float rounding), deterministically', () => {
    for (const model of Object.keys(one.losses)) {
      two.losses[model].forEach((loss, i) =>
        assert.ok(Math.abs(loss - one.losses[model][i]) < 1e-4 * Math.abs(loss), `${model} step ${i}: ${loss} vs ${one.losses[model][i]}`),
      );
      assert.ok(two.losses[model][3] < two.losses[model][0], `${model} learns`);
    }
    assert.deepEqual(run('2').losses, two.losses);
  });

  it("removes the Emscripten loader's process-wide error handlers", () => {
    assert.equal(two.errorListeners, 0);
    assert.equal(one.errorListeners, 0);
  });

  it('rejects a bad SEQREC_WASM_THREADS with the variable named', () => {
    assert.throws(() => run('zero'), /SEQREC_WASM_THREADS must be a whole number >= 1, got 'zero'/);
  });
});

describe('planWasmThreads', () => {
  it("finds the installed wasm package's threaded build and the bindings its factory needs", async () => {
    const { planWasmThreads } = await import('../../src/backend/wasm-threads.js');
    const plan = planWasmThreads();
    assert.notEqual(typeof plan, 'string', `no plan: ${String(plan)}`);
    if (typeof plan !== 'string') {
      assert.match(plan.preamble, /var require\$\$\d+ = require\("os"\);/);
      assert.match(plan.preamble, /var commonjsGlobal = globalThis;/);
    }
  });
});
