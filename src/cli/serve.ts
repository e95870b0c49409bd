/** `seqrec export` and `seqrec serve`. */
import { buildDataset, dataSettings, type DataSettings } from './commands.js';
import { choiceFlag, intFlag, requireFlag } from './args.js';
import type { CliFlags } from './main.js';
import { SeqrecError } from '../errors.js';
import { readFile, realpath } from 'node:fs/promises';
import { assertWritableModelDir } from '../bundle/atomic-dir.js';
import { loadModel, readModelFile } from '../bundle/checkpoint.js';
import { itemMatrix } from '../train/evaluate.js';
import { exportBundle, loadBundle, type FaissIndexWriter } from '../bundle/bundle.js';
import { Recommender } from '../serve/recommender.js';
import { importFaiss } from '../serve/recommender-state.js';
import { createServer, SERVER_DEFAULTS, type ServerOptions } from '../serve/server.js';

type Log = (line: string) => void;

/** Files of a run that a re-export carries into the new version. */
const CARRIED_FILES = ['history.json'] as const;

/**
 * `seqrec export --model CHECKPOINT_DIR --out BUNDLE_DIR [--data FILE ...] [--faiss FACTORY]`:
 * writes a serving bundle. Popularity counts come from the source when it is already a
 * bundle, else from the training data (`--data` and the data flags, or the settings recorded
 * in the checkpoint by `seqrec train`), which must give the checkpoint's vocabulary.
 */
export async function runExport(flags: CliFlags, log: Log): Promise<void> {
  const from = requireFlag(flags.model, 'model', 'export');
  const out = requireFlag(flags.out, 'out', 'export');
  // A flat directory of an older seqrec has no digest for model.json: export is how it is
  // brought into the checked layout, so it may read one.
  const loaded = await loadModel(from, { acceptUndigestedManifest: true });
  const { model } = loaded;
  // Re-exporting in place replaces the same model; replacing another one needs --force.
  // Checked before any data is read.
  const inPlace = (await realpath(out).catch(() => null)) === loaded.root;
  const existing = inPlace || flags.force ? 'replace' : 'error';
  try {
    await assertWritableModelDir(out, { replace: existing === 'replace' ? 'allow' : 'refuse' });
    // Files of the run (history.json) travel with the model, so a re-export keeps them.
    const carried: Record<string, Buffer> = {};
    for (const name of CARRIED_FILES) {
      const bytes = loaded.files[name] ? await readModelFile(loaded, name) : null;
      if (bytes) carried[name] = bytes;
    }
    if (!loaded.vocabulary) {
      throw new SeqrecError('bundle_invalid', `${from} has no vocabulary.json: a bundle serves raw item ids, so it needs the vocabulary`, { file: from });
    }
    let popularity: ArrayLike<number>;
    let popularitySource: string;
    let similarity = (flags.similarity ?? undefined) as 'ip' | 'cosine' | undefined;
    if (loaded.bundle && !flags.data) {
      const src = await loadBundle(from, { acceptUndigestedManifest: true });
      src.model.dispose();
      popularity = src.popularity;
      popularitySource = src.section.popularity.source;
      similarity ??= src.section.similarity;
      log(`popularity counts from the bundle in ${from}`);
    } else {
      const saved = loaded.meta.settings as DataSettings | undefined;
      if (!flags.data && !saved) {
        throw new SeqrecError(
          'invalid_argument',
          `seqrec export: ${from} is a checkpoint without recorded data settings; pass --data FILE (and the data flags used in training) to count item popularity`,
          { field: 'data' },
        );
      }
      const settings = flags.data ? dataSettings(flags, 'export') : saved!;
      const dataset = await buildDataset(settings, log, flags['skip-malformed']);
      const a = dataset.vocabulary.items();
      const b = loaded.vocabulary.items();
      if (a.length !== b.length || a.some((id, i) => id !== b[i])) {
        throw new SeqrecError(
          'shape_mismatch',
          `the data gives a different item vocabulary (${a.length} items) than the model in ${from} (${b.length} items): use the same data, --min-count and --max-len as in training`,
          { field: 'data' },
        );
      }
      popularity = dataset.itemPopularity();
      popularitySource = settings.data;
    }
    similarity = choiceFlag(similarity, 'similarity', ['ip', 'cosine'] as const, 'ip');
    let faiss: (FaissIndexWriter & { dispose(): void }) | undefined;
    if (flags.faiss) {
      const { FaissRetriever } = (await importFaiss()) as unknown as {
        FaissRetriever: new (items: Float32Array, dim: number, options: { factory: string; metric: 'ip' | 'cosine' }) => FaissIndexWriter & { dispose(): void };
      };
      faiss = new FaissRetriever(itemMatrix(model), model.embeddingDim, { factory: flags.faiss, metric: similarity });
    }
    try {
      await exportBundle(model, out, { vocabulary: loaded.vocabulary, popularity, popularitySource, similarity, faiss, meta: loaded.meta, extraFiles: carried, existing });
    } finally {
      faiss?.dispose();
    }
    log(`wrote bundle ${out} (${model.name}, ${loaded.vocabulary.numItems} items, similarity ${similarity}${flags.faiss ? `, faiss ${flags.faiss}` : ''})`);
  } finally {
    model.dispose();
  }
}

/** Seconds from a flag (integer >= 1) as milliseconds. */
function secondsFlag(flags: CliFlags, name: 'request-timeout' | 'headers-timeout' | 'connection-timeout' | 'keep-alive-timeout' | 'reload-timeout', fallbackMs: number): number {
  return intFlag(flags[name], name, fallbackMs / 1000, 1) * 1000;
}

function configFlagError(field: string, message: string): SeqrecError {
  return new SeqrecError('invalid_config', message, { field });
}

/**
 * The admin token from --admin-token, --admin-token-file or SEQREC_ADMIN_TOKEN (in that
 * order; at most one of the two flags), or undefined: admin off. Given but empty is an error,
 * never an open admin.
 */
async function adminToken(flags: CliFlags, log: Log): Promise<string | undefined> {
  const inline = flags['admin-token'];
  const file = flags['admin-token-file'];
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
  if (token === '') throw configFlagError(field, `${source} is empty: an empty admin token would leave POST /admin/reload open; give a secret (32+ random characters) or leave it out to keep admin off`);
  if (!/^[\x21-\x7e]+$/.test(token)) throw configFlagError(field, `${source} must be printable ASCII without spaces`);
  return token;
}

/** `--admin-bundle NAME=DIR` (repeatable) as {name: dir}. */
function adminBundles(values: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const i = v.indexOf('=');
    if (i <= 0 || i === v.length - 1) throw configFlagError('admin-bundle', `--admin-bundle must be NAME=DIR, got '${v}'`);
    const name = v.slice(0, i);
    if (name in out) throw configFlagError('admin-bundle', `--admin-bundle ${name} is given twice`);
    out[name] = v.slice(i + 1);
  }
  return out;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

/**
 * `seqrec serve --model BUNDLE_DIR [--port 8080] [--host 127.0.0.1] ...`: the HTTP API until
 * SIGTERM/SIGINT (graceful: stop accepting, finish in-flight requests, exit 0). SIGHUP
 * reloads the bundle directory. POST /admin/reload only with an admin token.
 */
export async function runServe(flags: CliFlags, log: Log): Promise<void> {
  const dir = requireFlag(flags.model, 'model', 'serve');
  const port = intFlag(flags.port, 'port', 8080, 0);
  if (port > 65535) throw new SeqrecError('invalid_argument', `--port must be in 0..65535, got ${port}`, { field: 'port' });
  const host = flags.host ?? '127.0.0.1';
  const drainSeconds = intFlag(flags['drain-timeout'], 'drain-timeout', 10, 1);
  const token = await adminToken(flags, log);
  const bundles = adminBundles(flags['admin-bundle']);
  const allowedHosts = [...(flags['admin-allowed-host'] ?? [])];
  const allowedOrigins = [...(flags['admin-allowed-origin'] ?? [])];
  if (!token && (Object.keys(bundles).length || allowedHosts.length || allowedOrigins.length)) {
    throw configFlagError('admin-token', '--admin-bundle, --admin-allowed-host and --admin-allowed-origin need an admin token (--admin-token-file FILE or SEQREC_ADMIN_TOKEN)');
  }
  // The name the server is reached by is a valid Host for admin requests.
  const listenName = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (token && !WILDCARD_HOSTS.has(host) && !allowedHosts.includes(listenName) && !['localhost', '127.0.0.1', '::1'].includes(listenName)) allowedHosts.push(listenName);
  const serverOptions: ServerOptions = {
    admin: token ? { token, bundles, allowedHosts, allowedOrigins } : false,
    coalesce: choiceFlag(flags.coalesce, 'coalesce', ['on', 'off'] as const, 'on') === 'on',
    requestTimeoutMs: secondsFlag(flags, 'request-timeout', SERVER_DEFAULTS.requestTimeoutMs),
    headersTimeoutMs: flags['headers-timeout'] === undefined ? undefined : secondsFlag(flags, 'headers-timeout', SERVER_DEFAULTS.headersTimeoutMs),
    connectionTimeoutMs: secondsFlag(flags, 'connection-timeout', SERVER_DEFAULTS.connectionTimeoutMs),
    keepAliveTimeoutMs: secondsFlag(flags, 'keep-alive-timeout', SERVER_DEFAULTS.keepAliveTimeoutMs),
    maxConnections: intFlag(flags['max-connections'], 'max-connections', SERVER_DEFAULTS.maxConnections, 1),
    maxJsonDepth: intFlag(flags['max-json-depth'], 'max-json-depth', SERVER_DEFAULTS.maxJsonDepth, 1),
    log,
  };
  const recommender = await Recommender.load(dir, {
    maxK: intFlag(flags['max-k'], 'max-k', 1000, 1),
    maxHistory: intFlag(flags['max-history'], 'max-history', 1000, 1),
    maxBatch: intFlag(flags['max-batch'], 'max-batch', 256, 1),
    retriever: choiceFlag(flags.retriever, 'retriever', ['auto', 'exact', 'faiss'] as const, 'auto'),
    reloadTimeoutMs: secondsFlag(flags, 'reload-timeout', 30_000),
  });
  if (!token) log('POST /admin/reload is disabled: no admin token (--admin-token-file FILE or SEQREC_ADMIN_TOKEN); SIGHUP reloads the bundle');
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
  process.stdout.write(
    `seqrec serve: listening on ${address} (${info.model}, ${info.numItems} items, ${info.retriever} retrieval, bundle ${info.dir}; pid ${process.pid})\n`,
  );

  await new Promise<void>((resolveDone) => {
    let closing = false;
    const onHup = () => {
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
