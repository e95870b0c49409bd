/**
 * Multi-threaded WebAssembly in Node.
 *
 * @tensorflow/tfjs-backend-wasm ships a threaded SIMD build (XNNPACK on a pthread pool) but
 * only enables it in browsers (tfjs issue #3830): its loader hands Emscripten the worker script
 * and the module factory as `Blob` URLs, which Node's `worker_threads` cannot load, and it
 * sizes XNNPACK's pool to half the logical cores (1 on a 2-core machine). Node itself supports
 * everything the build needs (shared memory, workers, Atomics.wait on the main thread).
 *
 * `withWasmThreads` runs the backend's initialisation with three temporary shims, removed as
 * soon as it settles:
 * - `Blob` records the text it is built from, and `URL.createObjectURL` writes those texts to
 *   files in a private temporary directory and returns their paths, which Node workers load;
 * - the module-factory script gets the `require` bindings the package's Node bundle defines at
 *   its top (read from the bundle, not hard-coded), since workers evaluate it on its own;
 * - `os.cpus()` reports twice the cores while the pool is created, so XNNPACK gets `threads`.
 * Nothing here patches TF.js's files. Every step is checked before the backend is asked to
 * load, and `planWasmThreads` returns the reason when one does not hold, so callers fall back
 * to the single-threaded build instead of failing.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

export interface WasmThreadsPlan {
  /** Text prepended to the module factory so it evaluates outside the bundle. */
  preamble: string;
}

/** Checks the installed wasm package can run threaded here; returns a plan or the reason it cannot. */
export function planWasmThreads(): WasmThreadsPlan | string {
  if (typeof SharedArrayBuffer === 'undefined') return 'no SharedArrayBuffer';
  let bundle: string;
  try {
    bundle = readFileSync(require.resolve('@tensorflow/tfjs-backend-wasm'), 'utf8');
  } catch (err) {
    return `cannot read the wasm bundle: ${(err as Error).message}`;
  }
  if (!bundle.includes('tfjs-backend-wasm-threaded-simd.worker.js') || !bundle.includes('mainScriptUrlOrBlob')) {
    return 'this @tensorflow/tfjs-backend-wasm has no threaded build seqrec knows how to load';
  }
  // Rollup binds the bundle's Node built-ins at its top (`var require$$0 = require('fs');`);
  // the factory refers to them by those names.
  const bindings = [...bundle.matchAll(/^var (require\$\$\d+) = require\('([a-z_]+)'\);$/gm)];
  if (bindings.length === 0) return 'the wasm bundle does not have the layout seqrec expects';
  const preamble = bindings.map(([, name, module]) => `var ${name} = require(${JSON.stringify(module)});`).join('') + 'var commonjsGlobal = globalThis;\n';
  return { preamble };
}

/**
 * Runs `load` (which must initialise the wasm backend) with the threaded build enabled and
 * XNNPACK's pool at `threads` threads.
 */
export async function withWasmThreads<T>(plan: WasmThreadsPlan, threads: number, load: () => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(os.tmpdir(), 'seqrec-wasm-'));
  const texts = new WeakMap<Blob, string>();
  const OriginalBlob = globalThis.Blob;
  const originalCreate = URL.createObjectURL;
  const originalCpus = os.cpus;
  let mainScript: string | null = null;
  let files = 0;

  class RecordingBlob extends OriginalBlob {
    constructor(parts: ConstructorParameters<typeof Blob>[0] = [], options?: ConstructorParameters<typeof Blob>[1]) {
      super(parts, options);
      if (!parts.every((p) => typeof p === 'string')) return;
      const text = (parts as string[]).join('');
      texts.set(this, text);
      if (text.startsWith('var WasmBackendModuleThreadedSimd')) {
        mainScript = join(dir, 'module.cjs');
        writeFileSync(mainScript, plan.preamble + text);
      }
    }
  }
  globalThis.Blob = RecordingBlob as typeof Blob;
  URL.createObjectURL = (blob: Blob) => {
    const text = texts.get(blob);
    if (text === undefined) return originalCreate(blob);
    const file = join(dir, `worker-${files++}.cjs`);
    // The worker receives the factory as a Blob it cannot read; point it at the file instead.
    const redirect =
      `;(function(){var handle=self.onmessage;self.onmessage=function(e){` +
      `if(e.data&&e.data.cmd==='load'&&typeof e.data.urlOrBlob!=='string')e.data.urlOrBlob=${JSON.stringify(mainScript)};` +
      `return handle(e);};})();`;
    writeFileSync(file, text + redirect);
    return file;
  };
  const cores = originalCpus();
  os.cpus = () => Array.from({ length: Math.max(2 * threads, cores.length) }, (_, i) => cores[i % cores.length]);
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const tf = await import('@tensorflow/tfjs-core');
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  try {
    const result = await load();
    // XNNPACK's pool threads wait for work for the life of the process; they must not keep
    // Node from exiting when the program is done.
    const module = (tf.backend() as unknown as { wasm?: { PThread?: { runningWorkers: { unref(): void }[] } } }).wasm;
    for (const worker of module?.PThread?.runningWorkers ?? []) worker.unref();
    return result;
  } finally {
    globalThis.Blob = OriginalBlob;
    URL.createObjectURL = originalCreate;
    os.cpus = originalCpus;
    // Workers read their scripts when they start, which is before the backend is ready.
    rmSync(dir, { recursive: true, force: true });
  }
}

/** XNNPACK's thread count of the initialised wasm backend (1 for the single-threaded build). */
export async function wasmThreadCount(): Promise<number> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  return wasm.getThreadsCount();
}
