/** Shared helpers of the serving tests: tiny trained bundles, HTTP and CLI helpers. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SequenceDataset } from '../../src/data/dataset.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { exportBundle } from '../../src/bundle/bundle.js';
import { Trainer } from '../../src/train/trainer.js';
import { setupBackend } from '../helpers.js';

export const MAX_LEN = 10;

/** A synthetic dataset small enough to train on in a second or two. */
export function tinyDataset(seed = 7): SequenceDataset {
  const log = generateSynthetic({ numUsers: 300, numItems: 120, numClusters: 6, minLength: 8, maxLength: 20, seed });
  return SequenceDataset.fromLog(log, { maxLen: MAX_LEN, seed });
}

/** GRU4Rec (dim 16) trained for a few epochs on `tinyDataset(seed)`, single-threaded. */
export async function trainTinyModel(options: { seed?: number; epochs?: number } = {}): Promise<{ model: GRU4Rec; dataset: SequenceDataset }> {
  await setupBackend();
  const seed = options.seed ?? 7;
  const dataset = tinyDataset(seed);
  const model = new GRU4Rec({ itemCount: dataset.itemCount, embeddingDim: 16, maxLen: MAX_LEN, seed });
  const trainer = new Trainer(model, { epochs: options.epochs ?? 3, batchSize: 64, learningRate: 0.01, parallelism: 1, patience: 10 });
  await trainer.fit(dataset);
  return { model, dataset };
}

export async function tempDir(prefix = 'seqrec-serve-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Trains a tiny model and exports it as a bundle to `dir` (default: a new temp dir). */
export async function trainTinyBundle(options: { seed?: number; epochs?: number; dir?: string } = {}): Promise<{ dir: string; dataset: SequenceDataset }> {
  const { model, dataset } = await trainTinyModel(options);
  const dir = options.dir ?? join(await tempDir(), 'bundle');
  await exportBundle(model, dir, {
    vocabulary: dataset.vocabulary,
    popularity: dataset.itemPopularity(),
    popularitySource: `synthetic seed ${options.seed ?? 7}`,
  });
  model.dispose();
  return { dir, dataset };
}

export interface JsonResponse {
  status: number;
  body: any;
  contentType: string | null;
}

/** POSTs `body` (an object, sent as JSON, or a raw string) and parses the JSON answer. */
export async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(base + path, { method: 'POST', body: raw, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, contentType: res.headers.get('content-type') };
}

export async function get(base: string, path: string): Promise<JsonResponse & { text: string }> {
  const res = await fetch(base + path);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // metrics are text
  }
  return { status: res.status, body: parsed, text, contentType: res.headers.get('content-type') };
}

const ROOT = resolve(import.meta.dirname, '../..');

export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

/**
 * Runs `seqrec ARGS` from the sources (tsx), as users run the built CLI. `env` is merged into
 * this process's environment; an `undefined` value removes a variable.
 */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | string>((res) => child.on('exit', (code, signal) => res(code ?? signal ?? -1)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits until `predicate(stdout)` holds (polling), or fails after `ms` with both streams. */
export async function waitForOutput(p: CliProcess, predicate: (stdout: string) => boolean, ms = 20000): Promise<void> {
  const t0 = Date.now();
  while (!predicate(p.stdout())) {
    if (p.child.exitCode !== null) throw new Error(`the CLI exited (${p.child.exitCode}) early.\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`);
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for the CLI.\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface LoadResult {
  /** Count of responses by status code ('error: ...' for transport errors). */
  statuses: Map<string, number>;
  total: number;
}

/**
 * `clients` concurrent loops of POST /recommend (and /similar every 4th request) against
 * `base` until `during()` settles; returns every outcome.
 */
export async function loadDuring(base: string, items: readonly string[], during: () => Promise<void>, clients = 8): Promise<LoadResult> {
  const statuses = new Map<string, number>();
  let total = 0;
  let done = false;
  const note = (s: string) => {
    statuses.set(s, (statuses.get(s) ?? 0) + 1);
    total++;
  };
  const loop = async (c: number) => {
    let i = 0;
    while (!done) {
      const n = (c * 31 + i++) % items.length;
      try {
        const r =
          i % 4 === 0
            ? await post(base, '/similar', { item: items[n], k: 5 })
            : await post(base, '/recommend', { history: [items[n], items[(n + 1) % items.length]], k: 20 });
        note(String(r.status));
      } catch (err) {
        note(`error: ${(err as Error).message}`);
      }
    }
  };
  const loops = Array.from({ length: clients }, (_, c) => loop(c));
  try {
    // Let the clients get going before the event.
    await new Promise((r) => setTimeout(r, 200));
    await during();
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    done = true;
    await Promise.all(loops);
  }
  return { statuses, total };
}
