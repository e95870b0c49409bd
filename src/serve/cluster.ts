/**
 * `seqrec serve --workers N`: N serving processes on one port, with node:cluster.
 *
 * Processes, not worker threads: a serving process is bound by its one event loop (HTTP
 * parsing, JSON, validation, the model call). With threads the HTTP side would stay on one loop
 * and every request would cross a message channel; cluster workers each run the whole server
 * and share the listening socket, which the primary hands out connection by connection
 * (round-robin, Node's default on Linux). The primary runs no TF.js and coordinates:
 * - start: every worker loads the bundle and listens; the primary reports once all are up, and
 *   stops the others if one exits first (its error is on stderr);
 * - reload (SIGHUP to the primary, or POST /admin/reload on any worker): the workers reload one
 *   after another. `Recommender.reload` loads beside the live model and swaps atomically, so no
 *   request fails, and the other workers keep full capacity meanwhile. For the moment between
 *   two workers' swaps, requests may be answered by either bundle. The first failure stops the
 *   roll and is the answer (the workers already swapped keep the new bundle);
 * - /metrics: the worker that takes the request asks the primary for every worker's snapshot and
 *   answers with their sum (metrics.ts, `mergeMetrics`);
 * - SIGTERM/SIGINT: every worker drains (stops accepting, finishes what is in flight) and exits;
 *   the primary exits when all have, after the drain timeout at the latest;
 * - a worker that dies while serving is replaced, at most 5 times a minute.
 * Each worker computes on one thread (wasm and native): N workers for N cores, no pools fighting
 * for them (docs/serving.md, "Threads").
 */
import cluster, { type Worker } from 'node:cluster';
import { SeqrecError, type SeqrecErrorCode } from '../errors.js';
import { mergeMetrics, type MetricsSnapshot } from './metrics.js';
import type { ClusterHooks } from './options.js';
import type { RecommenderInfo } from './recommender-types.js';

/** Set in the environment of every worker the primary forks. */
export const WORKER_ENV = 'SEQREC_SERVE_WORKER';
/** The bundle directory a replacement worker loads after a reload switched bundles. */
export const BUNDLE_ENV = 'SEQREC_SERVE_BUNDLE';

type Op = 'reload' | 'snapshot' | 'stop' | 'reloadAll' | 'metrics';
type Message =
  | { seqrec: 'ready'; address: string; info: RecommenderInfo }
  | { seqrec: 'call'; id: number; op: Op; dir?: string }
  | { seqrec: 'reply'; id: number; value?: unknown; error?: { code: SeqrecErrorCode; message: string; field?: string } };

const isMessage = (m: unknown): m is Message => typeof m === 'object' && m !== null && typeof (m as { seqrec?: unknown }).seqrec === 'string';

/** Request and reply over one IPC link; the handler answers the other side's calls. */
class Link {
  private next = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  constructor(
    private readonly send: (m: Message) => void,
    private readonly handle: (op: Op, dir?: string) => Promise<unknown>,
  ) {}

  call<T>(op: Op, dir?: string): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.send({ seqrec: 'call', id, op, ...(dir === undefined ? {} : { dir }) });
    });
  }

  receive(m: Message): void {
    if (m.seqrec === 'reply') {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (!p) return;
      if (m.error) p.reject(new SeqrecError(m.error.code, m.error.message, m.error.field === undefined ? {} : { field: m.error.field }));
      else p.resolve(m.value);
    } else if (m.seqrec === 'call') {
      this.handle(m.op, m.dir).then(
        (value) => this.send({ seqrec: 'reply', id: m.id, value }),
        (err: unknown) => {
          const e = err instanceof SeqrecError ? err : new SeqrecError('unavailable', (err as Error).message);
          this.send({ seqrec: 'reply', id: m.id, error: { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) } });
        },
      );
    }
  }

  /** Fails every call still waiting (the other side is gone). */
  close(why: string): void {
    for (const p of this.pending.values()) p.reject(new SeqrecError('unavailable', why));
    this.pending.clear();
  }
}

/** Whether this process is a worker forked by `runPrimary`. */
export function isServeWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] === '1';
}

/** What a worker's server does when the primary asks. */
export interface WorkerActions {
  info(): RecommenderInfo;
  reload(dir?: string): Promise<RecommenderInfo>;
  snapshot(): MetricsSnapshot;
  /** Graceful stop (idempotent: a terminal's Ctrl-C reaches the workers too). */
  stop(): void;
}

/**
 * The worker's side: hooks for `createServer` (reload and /metrics through the primary), and
 * `ready`, called once the server listens, which also starts answering the primary.
 */
export function workerLink(): { hooks: ClusterHooks; ready(address: string, info: RecommenderInfo, actions: WorkerActions): void; close(): void } {
  let actions: WorkerActions | null = null;
  const send = (m: Message) => process.send?.(m);
  const link = new Link(send, async (op, dir) => {
    if (!actions) throw new SeqrecError('unavailable', 'the worker is not serving yet');
    if (op === 'reload') return actions.reload(dir);
    if (op === 'snapshot') return actions.snapshot();
    if (op === 'stop') return actions.stop();
    throw new SeqrecError('unavailable', `unknown call ${op}`);
  });
  process.on('message', (m) => isMessage(m) && link.receive(m));
  process.on('disconnect', () => link.close('the primary process is gone'));
  return {
    hooks: {
      reload: async (dir) => {
        await link.call('reloadAll', dir);
        return actions!.info();
      },
      metrics: () => link.call<MetricsSnapshot>('metrics'),
    },
    ready(address, info, a) {
      actions = a;
      send({ seqrec: 'ready', address, info });
    },
    // The IPC channel would keep a stopped worker's event loop alive (unref, not disconnect:
    // a disconnected cluster worker exits with code 0, hiding a failure).
    close: () => process.channel?.unref(),
  };
}

export interface PrimaryOptions {
  workers: number;
  log: (line: string) => void;
  /** After SIGTERM/SIGINT: how long the workers may drain before they are killed. */
  drainTimeoutMs: number;
}

const RESPAWNS_PER_MINUTE = 5;

/**
 * Runs the primary: forks the workers (this same command line, with WORKER_ENV set), prints
 * the listening line once all listen, and coordinates reloads, metrics and shutdown (see the
 * module comment) until the workers have stopped.
 */
export async function runPrimary(o: PrimaryOptions): Promise<void> {
  const links = new Map<Worker, Link>();
  const ready = new Map<Worker, RecommenderInfo>();
  let bundleDir: string | undefined;
  let stopping = false;
  let respawns: number[] = [];
  let rolling: Promise<unknown> = Promise.resolve();

  const reloadAll = (dir?: string): Promise<void> => {
    // One roll at a time: a second reload waits for the first.
    const roll = rolling.then(async () => {
      for (const worker of [...ready.keys()]) {
        if (!ready.has(worker)) continue; // exited during the roll
        const next = await links.get(worker)!.call<RecommenderInfo>('reload', dir);
        ready.set(worker, next);
        bundleDir = next.dir;
      }
    });
    rolling = roll.catch(() => undefined);
    return roll;
  };
  const metrics = async (): Promise<MetricsSnapshot> =>
    mergeMetrics(await Promise.all([...ready.keys()].map((w) => links.get(w)!.call<MetricsSnapshot>('snapshot'))));

  const fork = (): Worker => {
    const env: Record<string, string> = { [WORKER_ENV]: '1' };
    // One compute thread each unless the user chose (src/backend/native.ts reads it).
    if (!process.env.SEQREC_THREADS) env.SEQREC_THREADS = '1';
    if (bundleDir) env[BUNDLE_ENV] = bundleDir;
    const worker = cluster.fork(env);
    const link = new Link(
      (m) => worker.isConnected() && worker.send(m),
      async (op, dir) => {
        if (op === 'reloadAll') return reloadAll(dir);
        if (op === 'metrics') return metrics();
        throw new SeqrecError('unavailable', `unknown call ${op}`);
      },
    );
    links.set(worker, link);
    worker.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      if (m.seqrec === 'ready') ready.set(worker, m.info);
      else link.receive(m);
    });
    return worker;
  };

  const started = new Promise<{ address: string; info: RecommenderInfo }>((resolve, reject) => {
    let up = 0;
    let first: { address: string; info: RecommenderInfo } | null = null;
    const settle = () => {
      cluster.off('message', onReady);
      cluster.off('exit', onEarlyExit);
    };
    const onReady = (_worker: Worker, m: unknown) => {
      if (!isMessage(m) || m.seqrec !== 'ready') return;
      first ??= { address: m.address, info: m.info };
      if (++up < o.workers) return;
      settle();
      resolve(first);
    };
    const onEarlyExit = (worker: Worker, code: number | null, signal: string | null) => {
      settle();
      for (const w of links.keys()) if (w !== worker) w.process.kill('SIGKILL');
      reject(new SeqrecError('invalid_config', `worker ${worker.id} exited (${signal ?? `code ${code}`}) before it listened; its error is above`));
    };
    cluster.on('message', onReady);
    cluster.on('exit', onEarlyExit);
  });
  for (let i = 0; i < o.workers; i++) fork();
  const { address, info } = await started;
  process.stdout.write(
    `seqrec serve: listening on ${address} (${info.model}, ${info.numItems} items, ${info.retriever} retrieval, bundle ${info.dir}; ` +
      `${o.workers} workers, primary pid ${process.pid})\n`,
  );

  await new Promise<void>((resolve) => {
    const finish = () => {
      cluster.off('exit', onExit);
      process.off('SIGHUP', onHup);
      process.off('SIGTERM', shutdown);
      process.off('SIGINT', shutdown);
      o.log('all workers stopped');
      resolve();
    };
    const onExit = (worker: Worker, code: number | null, signal: string | null) => {
      links.get(worker)?.close(`worker ${worker.id} exited`);
      links.delete(worker);
      ready.delete(worker);
      if (stopping) {
        if (links.size === 0) finish();
        return;
      }
      const now = Date.now();
      respawns = respawns.filter((t) => now - t < 60_000);
      if (respawns.length >= RESPAWNS_PER_MINUTE) {
        o.log(`worker ${worker.id} exited (${signal ?? `code ${code}`}); ${RESPAWNS_PER_MINUTE} replacements within a minute: stopping`);
        shutdown('SIGTERM');
        return;
      }
      respawns.push(now);
      o.log(`worker ${worker.id} exited (${signal ?? `code ${code}`}) while serving: starting a replacement`);
      fork();
    };
    const onHup = () => {
      o.log('SIGHUP: reloading the bundle in every worker, one after another');
      reloadAll().then(
        () => o.log(`reloaded ${ready.size} workers`),
        (err: Error) => o.log(`reload failed: ${err.message}`),
      );
    };
    const shutdown = (signal: NodeJS.Signals) => {
      if (stopping) {
        o.log(`${signal} again: stopping the workers without waiting`);
        for (const w of links.keys()) w.process.kill('SIGKILL');
        process.exit(1);
      }
      stopping = true;
      o.log(`${signal}: draining ${links.size} workers`);
      for (const link of links.values()) link.call('stop').catch(() => undefined);
      const timer = setTimeout(() => {
        o.log(`workers did not stop within ${o.drainTimeoutMs / 1000}s: killing them`);
        for (const w of links.keys()) w.process.kill('SIGKILL');
      }, o.drainTimeoutMs + 2000);
      timer.unref();
      if (links.size === 0) finish();
    };
    cluster.on('exit', onExit);
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
  });
}
