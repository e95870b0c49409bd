/** `seqrec serve`: the HTTP JSON API over a bundle, until SIGTERM/SIGINT. */
import cluster from 'node:cluster';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { SeqrecError } from '../../errors.js';
import { PGVECTOR_DEFAULTS, type PgvectorConnectOptions } from '../../retrieval/pgvector/options.js';
import { BUNDLE_ENV, isServeWorker, runPrimary, workerLink } from '../../serve/cluster.js';
import { Recommender } from '../../serve/recommender.js';
import { createServer, SERVER_DEFAULTS, type AdminOptions, type ServerOptions } from '../../serve/server.js';
import { defineCommand, type Log } from '../command.js';
import { choice, int, kebab, list, str, type FlagValues } from '../flags.js';
import { BACKEND_FLAGS } from '../shared-flags.js';

/** `seqrec serve`'s wasm threads when SEQREC_WASM_THREADS is unset (measured: docs/serving.md). */
const SERVE_WASM_THREADS = 1;

const seconds = (description: string, fallbackMs: number) => int(`${description}, seconds`, { min: 1, default: fallbackMs / 1000, placeholder: 's' });

export const SERVE_FLAGS = {
  model: str('serving bundle (seqrec train --out, or seqrec export)', { required: true, placeholder: 'dir' }),
  port: int('TCP port (0: any free port)', { min: 0, max: 65535, default: 8080 }),
  workers: int(`serving processes on the port, one compute thread each (default: the number of cores, ${availableParallelism()} here)`, {
    min: 1,
    max: 256,
    placeholder: 'n',
  }),
  host: str('address to listen on', { default: '127.0.0.1', placeholder: 'host' }),
  maxK: int('largest k a request may ask for', { min: 1, default: 1000 }),
  maxHistory: int('longest history a request may send', { min: 1, default: 1000 }),
  maxBatch: int('most histories per /recommend/batch request', { min: 1, default: 256 }),
  retriever: choice(
    ['auto', 'exact', 'faiss', 'pgvector'] as const,
    "retrieval: the bundle's faiss index when it has one and faiss-node loads (auto), brute force (exact), or the bundle's item table in PostgreSQL (pgvector: see --database-url)",
    { default: 'auto', placeholder: 'name' },
  ),
  databaseUrl: str('PostgreSQL holding the item tables of `seqrec export --to`, for --retriever pgvector (default: env SEQREC_DATABASE_URL)', {
    placeholder: 'url',
  }),
  pgPoolSize: int(`connections to PostgreSQL per process (default: ${PGVECTOR_DEFAULTS.poolSize})`, { min: 1, max: 256 }),
  pgEfSearch: int(`HNSW tables: hnsw.ef_search per query, raised to at least the candidates fetched (default: ${PGVECTOR_DEFAULTS.efSearch})`, {
    min: 1,
    max: 1000,
  }),
  pgProbes: int('IVFFlat tables: ivfflat.probes per query (default: sqrt(lists))', { min: 1 }),
  fallback: choice(
    ['popularity', 'recent-popularity'] as const,
    "what answers an empty or all-unknown history: all-time training counts, or the bundle's recent counts (docs/serving.md, Cold start)",
    { default: 'popularity', placeholder: 'kind' },
  ),
  cooccurrence: choice(
    ['auto', 'on', 'off'] as const,
    "answer histories of cold (never trained) items from the bundle's co-occurrence table: auto = when the bundle has one",
    { default: 'auto', placeholder: 'mode' },
  ),
  shortHistory: int('histories of at most this many known items are answered from the co-occurrence table too (0: none)', { min: 0, default: 0 }),
  coalesce: choice(['on', 'off'] as const, 'batch concurrent /recommend requests into one model call', { default: 'on', placeholder: 'on|off' }),
  drainTimeout: seconds('on SIGTERM/SIGINT: time for in-flight requests before exiting anyway', 10_000),
  requestTimeout: seconds('time to receive and answer a request', SERVER_DEFAULTS.requestTimeoutMs),
  headersTimeout: int(`time to receive the request headers, seconds (default: ${SERVER_DEFAULTS.headersTimeoutMs / 1000}, at most --request-timeout)`, {
    min: 1,
    placeholder: 's',
  }),
  connectionTimeout: seconds('idle connection timeout', SERVER_DEFAULTS.connectionTimeoutMs),
  keepAliveTimeout: seconds('keep-alive timeout', SERVER_DEFAULTS.keepAliveTimeoutMs),
  maxConnections: int('open connections at most', { min: 1, default: SERVER_DEFAULTS.maxConnections }),
  maxJsonDepth: int('deepest JSON nesting a body may have', { min: 1, default: SERVER_DEFAULTS.maxJsonDepth }),
  reloadTimeout: seconds('time a bundle reload may take', 30_000),
  adminTokenFile: str('file holding the admin token that enables POST /admin/reload', { placeholder: 'file' }),
  adminToken: str('the admin token itself (visible in ps: prefer --admin-token-file or SEQREC_ADMIN_TOKEN)', { placeholder: 'token' }),
  adminBundle: list('NAME=DIR: a bundle POST /admin/reload may switch to by name', 'name=dir'),
  adminAllowedHost: list('another Host name admin requests may use', 'name'),
  adminAllowedOrigin: list('an Origin admin requests may come from', 'origin'),
  ...BACKEND_FLAGS,
} as const;

type ServeValues = FlagValues<typeof SERVE_FLAGS>;

export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'HTTP JSON API over a bundle (docs/serving.md)',
  usage: '--model BUNDLE_DIR [flags]',
  notes:
    '\nSIGTERM/SIGINT: graceful stop; SIGHUP: reload the bundle. POST /admin/reload only with an admin token\n(--admin-token-file FILE, --admin-token T or env SEQREC_ADMIN_TOKEN).',
  flags: SERVE_FLAGS,
  // With workers, the primary only coordinates: the workers run the model.
  backend: (flags) => workersOf(flags) === 1 || isServeWorker(),
  // A serving process answers small requests: one wasm thread beats a pool that fights the
  // event loop and the other processes for the cores (docs/serving.md, "Threads").
  env: { SEQREC_WASM_THREADS: String(SERVE_WASM_THREADS) },
  run: runServe,
});

function workersOf(flags: ServeValues): number {
  return flags.workers ?? availableParallelism();
}

function configFlagError(field: string, message: string): SeqrecError {
  return new SeqrecError('invalid_config', message, { field });
}

/**
 * The admin token from --admin-token, --admin-token-file or SEQREC_ADMIN_TOKEN (in that
 * order; at most one of the two flags), or undefined: admin off. Given but empty is an error,
 * never an open admin.
 */
async function adminToken(flags: ServeValues, log: Log): Promise<string | undefined> {
  const inline = flags.adminToken;
  const file = flags.adminTokenFile;
  if (inline !== undefined && file !== undefined) throw configFlagError('admin-token', 'give --admin-token or --admin-token-file, not both');
  let token: string | undefined;
  let source: string;
  if (inline !== undefined) {
    token = inline;
    source = '--admin-token';
    log('note: --admin-token is visible to local users in ps; prefer --admin-token-file FILE or SEQREC_ADMIN_TOKEN');
  } else if (file !== undefined) {
    source = '--admin-token-file';
    try {
      token = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw configFlagError('admin-token-file', `cannot read --admin-token-file ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  } else {
    token = process.env.SEQREC_ADMIN_TOKEN;
    source = 'SEQREC_ADMIN_TOKEN';
  }
  if (token === undefined) return undefined;
  const field = source.replace(/^--/, '');
  if (token === '')
    throw configFlagError(
      field,
      `${source} is empty: an empty admin token would leave POST /admin/reload open; give a secret (32+ random characters) or leave it out to keep admin off`,
    );
  if (!/^[\x21-\x7e]+$/.test(token)) throw configFlagError(field, `${source} must be printable ASCII without spaces`);
  return token;
}

/** `--admin-bundle NAME=DIR` (repeatable) as {name: dir}. */
function adminBundles(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i <= 0 || i === v.length - 1) throw configFlagError('admin-bundle', `--admin-bundle must be NAME=DIR, got '${v}'`);
    const name = v.slice(0, i);
    if (name in out) throw configFlagError('admin-bundle', `--admin-bundle ${name} is given twice`);
    out[name] = v.slice(i + 1);
  }
  return out;
}

/** --database-url and the --pg-* flags as the Recommender's pgvector option (only with --retriever pgvector). */
function pgvectorOptions(flags: ServeValues): PgvectorConnectOptions | undefined {
  const given = (['databaseUrl', 'pgPoolSize', 'pgEfSearch', 'pgProbes'] as const).filter((k) => flags[k] !== undefined);
  if (flags.retriever !== 'pgvector') {
    if (given.length) throw configFlagError(kebab(given[0]), `--${kebab(given[0])} is only used with --retriever pgvector`);
    return undefined;
  }
  const url = flags.databaseUrl ?? process.env.SEQREC_DATABASE_URL;
  if (!url) {
    throw configFlagError(
      'database-url',
      '--retriever pgvector needs the database: --database-url postgres://user@host:5432/db or env SEQREC_DATABASE_URL (a password is better in PGPASSWORD or ~/.pgpass than on the command line)',
    );
  }
  return { connectionString: url, poolSize: flags.pgPoolSize, efSearch: flags.pgEfSearch, probes: flags.pgProbes };
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

/** The admin options of the flags, or null when admin is off (no token). */
async function adminSettings(flags: ServeValues, log: Log): Promise<AdminOptions | null> {
  const token = await adminToken(flags, log);
  const bundles = adminBundles(flags.adminBundle);
  const allowedHosts = [...flags.adminAllowedHost];
  const allowedOrigins = [...flags.adminAllowedOrigin];
  if (!token && (Object.keys(bundles).length || allowedHosts.length || allowedOrigins.length)) {
    throw configFlagError(
      'admin-token',
      '--admin-bundle, --admin-allowed-host and --admin-allowed-origin need an admin token (--admin-token-file FILE or SEQREC_ADMIN_TOKEN)',
    );
  }
  if (!token) return null;
  // The name the server is reached by is a valid Host for admin requests.
  const host = flags.host;
  const listenName = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (!WILDCARD_HOSTS.has(host) && !allowedHosts.includes(listenName) && !['localhost', '127.0.0.1', '::1'].includes(listenName)) allowedHosts.push(listenName);
  return { token, bundles, allowedHosts, allowedOrigins };
}

/**
 * `seqrec serve --model BUNDLE_DIR [--port 8080] [--host 127.0.0.1] ...`: the HTTP API until
 * SIGTERM/SIGINT (graceful: stop accepting, finish in-flight requests, exit 0). SIGHUP
 * reloads the bundle directory. POST /admin/reload only with an admin token.
 */
async function runServe(flags: ServeValues, log: Log): Promise<void> {
  const worker = isServeWorker() ? workerLink() : null;
  try {
    await serveProcess(flags, log, worker);
  } finally {
    worker?.close();
  }
}

async function serveProcess(flags: ServeValues, log: Log, worker: ReturnType<typeof workerLink> | null): Promise<void> {
  const workers = workersOf(flags);
  const primary = workers > 1 && cluster.isPrimary;
  if (worker) {
    const prefix = `worker ${cluster.worker!.id}: `;
    const parent = log;
    log = (line) => parent(prefix + line);
  }
  // Checked in the primary too, so that a bad flag is one error before any worker starts; the
  // notes are the primary's to print.
  const admin = await adminSettings(flags, worker ? () => undefined : log);
  if (!admin && !worker) log('POST /admin/reload is disabled: no admin token (--admin-token-file FILE or SEQREC_ADMIN_TOKEN); SIGHUP reloads the bundle');
  if (primary) return runPrimary({ workers, log, drainTimeoutMs: flags.drainTimeout * 1000 });
  const { port, host } = flags;
  const drainSeconds = flags.drainTimeout;
  const serverOptions: ServerOptions = {
    admin: admin ?? false,
    coalesce: flags.coalesce === 'on',
    requestTimeoutMs: flags.requestTimeout * 1000,
    headersTimeoutMs: flags.headersTimeout === undefined ? undefined : flags.headersTimeout * 1000,
    connectionTimeoutMs: flags.connectionTimeout * 1000,
    keepAliveTimeoutMs: flags.keepAliveTimeout * 1000,
    maxConnections: flags.maxConnections,
    maxJsonDepth: flags.maxJsonDepth,
    log,
    ...(worker ? { cluster: worker.hooks } : {}),
  };
  // A replacement worker loads the bundle the others were reloaded to.
  const recommender = await Recommender.load((worker && process.env[BUNDLE_ENV]) || flags.model, {
    maxK: flags.maxK,
    maxHistory: flags.maxHistory,
    maxBatch: flags.maxBatch,
    retriever: flags.retriever,
    pgvector: pgvectorOptions(flags),
    reloadTimeoutMs: flags.reloadTimeout * 1000,
    fallback: { popular: flags.fallback, cooccurrence: flags.cooccurrence, shortHistory: flags.shortHistory },
  });
  let app: Awaited<ReturnType<typeof createServer>>;
  try {
    app = await createServer(recommender, serverOptions);
  } catch (err) {
    recommender.dispose();
    throw err;
  }
  let address: string;
  try {
    address = await app.listen({ port, host });
  } catch (err) {
    recommender.dispose();
    const e = err as NodeJS.ErrnoException;
    throw new SeqrecError('invalid_argument', `cannot listen on ${host}:${port} (${e.code ?? e.message})`, { field: 'port' });
  }
  const info = recommender.info();
  if (!worker)
    process.stdout.write(
      `seqrec serve: listening on ${address} (${info.model}, ${info.numItems} items, ${info.retriever} retrieval, bundle ${info.dir}; pid ${process.pid})\n`,
    );

  await new Promise<void>((resolveDone) => {
    let closing = false;
    worker?.ready(address, info, {
      info: () => recommender.info(),
      reload: (dir) => app.seqrec.reload(dir),
      snapshot: () => app.seqrec.snapshot(),
      stop: () => {
        if (!closing) shutdown('SIGTERM');
      },
    });
    const onHup = () => {
      // With workers, the primary takes SIGHUP and reloads them one after another.
      if (worker) return;
      log('SIGHUP: reloading the bundle');
      // The server logs the outcome (the `log` option).
      app.seqrec.reload().catch(() => undefined);
    };
    const shutdown = (signal: NodeJS.Signals) => {
      if (closing) {
        log(`${signal} again: exiting without waiting`);
        process.exit(1);
      }
      closing = true;
      log(`${signal}: no longer accepting connections, finishing in-flight requests`);
      const timer = setTimeout(() => {
        log(`in-flight requests did not finish within ${drainSeconds}s: exiting`);
        process.exit(1);
      }, drainSeconds * 1000);
      timer.unref();
      app.close().then(
        () => {
          clearTimeout(timer);
          process.off('SIGHUP', onHup);
          process.off('SIGTERM', shutdown);
          process.off('SIGINT', shutdown);
          recommender.dispose();
          log('shut down cleanly');
          resolveDone();
        },
        (err) => {
          log(`error while closing: ${(err as Error).message}`);
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
    process.on('SIGHUP', onHup);
  });
}
