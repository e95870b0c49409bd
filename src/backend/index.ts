/**
 * The one place that decides which TF.js backend runs seqrec's tensors.
 *
 * Order of preference: `tensorflow` (@tensorflow/tfjs-node, native, when it is installed and
 * loads), then `wasm` (@tensorflow/tfjs-backend-wasm, WebAssembly with SIMD), then `cpu`
 * (plain JavaScript, always available, slowest). `SEQREC_BACKEND=<name>` or
 * `useBackend(name)` forces one; forcing a backend that cannot load is an error that says how
 * to install it, while automatic selection just records why a candidate was passed over.
 *
 * tfjs-node is an optional peer: nothing imports it at module top level, so `import 'seqrec'`
 * works where it is absent (its install downloads libtensorflow, which fails offline).
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradients (they live in its ESM build, which Node
// cannot import); the union package's Node bundle registers them all.
import '@tensorflow/tfjs';
import { availableParallelism } from 'node:os';
import { SeqrecError } from '../errors.js';
import { registerSeqrecKernels } from './kernels.js';
import { planWasmThreads, wasmThreadCount, withWasmThreads } from './wasm-threads.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface BackendReport {
  /** The backend in use. */
  name: BackendName;
  /** Whether the user forced it (env or API) rather than seqrec choosing. */
  forced: boolean;
  /** Why each preferred candidate was not used. */
  skipped: { name: BackendName; reason: string }[];
  /** Extra facts (SIMD, threads) for the report line. */
  details: string;
}

let active: BackendReport | null = null;
let pending: Promise<BackendReport> | null = null;
let reported = false;

const INSTALL_HINT: Record<BackendName, string> = {
  tensorflow: 'npm install @tensorflow/tfjs-node (needs to download libtensorflow at install time)',
  wasm: 'npm install @tensorflow/tfjs-backend-wasm',
  cpu: 'npm install @tensorflow/tfjs-backend-cpu',
};

// TF.js prints a "Hi, looks like you are running TensorFlow.js in Node.js" banner and kernel
// re-registration warnings through its `warn`, which PROD mode silences. seqrec reports its
// own backend choice once instead.
tf.env().set('PROD', true);

async function activate(name: BackendName): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
}

/** Loads and activates `name`; returns the details for the report line. */
async function tryBackend(name: BackendName, wasmThreads: number): Promise<string> {
  let details = '';
  if (name === 'tensorflow') {
    // A variable specifier keeps bundlers from resolving the optional package.
    const specifier = '@tensorflow/tfjs-node';
    await import(specifier);
    await activate(name);
  } else if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    details = await activateWasm(wasmThreads);
  } else {
    await import('@tensorflow/tfjs-backend-cpu');
    await activate(name);
  }
  registerSeqrecKernels(name);
  return details;
}

/**
 * The number of threads the wasm backend should use: `SEQREC_WASM_THREADS`, else every core
 * Node reports (XNNPACK splits matmuls over them; seqrec's own kernels stay on the main thread).
 */
export function wasmThreadsWanted(): number {
  const env = process.env.SEQREC_WASM_THREADS;
  if (env === undefined || env === '') return availableParallelism();
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1) {
    throw new SeqrecError('invalid_config', `SEQREC_WASM_THREADS must be a whole number >= 1, got '${env}'`, { field: 'SEQREC_WASM_THREADS' });
  }
  return n;
}

/** The wasm backend, threaded when `wanted` > 1 and the threaded build loads here. */
async function activateWasm(wanted: number): Promise<string> {
  const plan = wanted > 1 ? planWasmThreads() : null;
  let threadsOff = typeof plan === 'string' ? plan : '';
  // Emscripten's loader adds process-wide uncaughtException/unhandledRejection handlers that
  // rethrow from inside its own (minified) code; Node's default handling does the same
  // without burying the user's error under it, so they are removed again.
  const events = ['uncaughtException', 'unhandledRejection'];
  const emitter = process as unknown as NodeJS.EventEmitter; // plain event names, no overloads
  const before = events.map((event) => emitter.listeners(event));
  if (plan === null || typeof plan === 'string') {
    await activate('wasm');
  } else {
    try {
      await withWasmThreads(plan, wanted, () => activate('wasm'));
    } catch (err) {
      // The threaded build did not come up: the single-threaded one still can.
      threadsOff = (err as Error).message.split('\n')[0];
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      await activate('wasm');
    }
  }
  events.forEach((event, i) => {
    for (const listener of emitter.listeners(event)) {
      if (!before[i].includes(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  });
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await wasmThreadCount();
  const why = threadsOff ? ` (threads off: ${threadsOff})` : '';
  return `SIMD ${simd ? 'on' : 'off'}, ${threads} thread${threads === 1 ? '' : 's'}${why}`;
}

function parseBackendName(value: string, source: string): BackendName {
  const name = value.trim().toLowerCase();
  if (name === 'node' || name === 'tfjs-node') return 'tensorflow';
  if ((BACKEND_NAMES as readonly string[]).includes(name)) return name as BackendName;
  throw new SeqrecError(
    'invalid_config',
    `${source}: unknown backend '${value}'. Should be one of: ${BACKEND_NAMES.join(', ')}.`,
    { field: source },
  );
}

async function select(forcedName: BackendName | null): Promise<BackendReport> {
  const skipped: BackendReport['skipped'] = [];
  // Read with the other settings, before any backend is tried: a bad value is a config error.
  const wasmThreads = forcedName === null || forcedName === 'wasm' ? wasmThreadsWanted() : 1;
  if (forcedName) {
    try {
      const details = await tryBackend(forcedName, wasmThreads);
      return { name: forcedName, forced: true, skipped, details };
    } catch (err) {
      throw new SeqrecError(
        'backend_unavailable',
        `Backend '${forcedName}' was requested but could not be loaded: ${(err as Error).message}. ` +
          `Install it with: ${INSTALL_HINT[forcedName]}`,
      );
    }
  }
  for (const name of BACKEND_NAMES) {
    try {
      const details = await tryBackend(name, wasmThreads);
      return { name, forced: false, skipped, details };
    } catch (err) {
      const message = (err as Error).message.split('\n')[0];
      skipped.push({ name, reason: /Cannot find (package|module)/.test(message) ? 'not installed' : message });
    }
  }
  throw new SeqrecError('backend_unavailable', `No TF.js backend could be loaded: ${JSON.stringify(skipped)}`);
}

/**
 * Initialises the backend once (later calls return the same report). Honours
 * `SEQREC_BACKEND` unless `name` is given.
 */
export async function initBackend(name?: BackendName): Promise<BackendReport> {
  if (name) return useBackend(name);
  if (active) return active;
  if (!pending) {
    const env = process.env.SEQREC_BACKEND;
    const forced = env ? parseBackendName(env, 'SEQREC_BACKEND') : null;
    pending = select(forced).then((r) => (active = r));
  }
  return pending;
}

/** Forces a backend (loading it if needed). Throws with an install hint when it cannot load. */
export async function useBackend(name: BackendName | string): Promise<BackendReport> {
  const parsed = parseBackendName(name, 'useBackend');
  if (active?.name === parsed) return active;
  pending = select(parsed).then((r) => (active = r));
  reported = false;
  return pending;
}

/** The backend report, or null before `initBackend`. */
export function backendReport(): BackendReport | null {
  return active;
}

/** One human-readable line describing the backend choice. */
export function describeBackend(report: BackendReport): string {
  const why = report.forced
    ? 'forced'
    : report.skipped.length
      ? `skipped ${report.skipped.map((s) => `${s.name} (${s.reason})`).join(', ')}`
      : 'first choice';
  return `seqrec backend: ${report.name}${report.details ? ` [${report.details}]` : ''}; ${why}`;
}

/** Writes the backend line to `log` once per process (or after a change of backend). */
export function reportBackendOnce(log: (line: string) => void): void {
  if (!active || reported) return;
  reported = true;
  log(describeBackend(active));
}

export { tf };
