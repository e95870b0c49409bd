/** `seqrec export` and `seqrec serve`. */
import { buildDataset, dataSettings, type DataSettings } from '../cli/commands.js';
import { choiceFlag, intFlag, requireFlag } from '../cli/args.js';
import type { CliFlags } from '../cli/main.js';
import { SeqrecError } from '../errors.js';
import { realpath } from 'node:fs/promises';
import { assertWritableModelDir } from '../train/atomic-dir.js';
import { loadModel, readModelFile } from '../train/checkpoint.js';
import { itemMatrix } from '../train/evaluate.js';
import { exportBundle, loadBundle, type FaissIndexWriter } from './bundle.js';
import { importFaiss, Recommender } from './recommender.js';
import { createServer } from './server.js';

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

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * `seqrec serve --model BUNDLE_DIR [--port 8080] [--host 127.0.0.1]`: the HTTP API until
 * SIGTERM/SIGINT (graceful: stop accepting, finish in-flight requests, exit 0). SIGHUP
 * reloads the bundle directory.
 */
export async function runServe(flags: CliFlags, log: Log): Promise<void> {
  const dir = requireFlag(flags.model, 'model', 'serve');
  const port = intFlag(flags.port, 'port', 8080, 0);
  if (port > 65535) throw new SeqrecError('invalid_argument', `--port must be in 0..65535, got ${port}`, { field: 'port' });
  const host = flags.host ?? '127.0.0.1';
  const drainSeconds = intFlag(flags['drain-timeout'], 'drain-timeout', 10, 1);
  const recommender = await Recommender.load(dir, {
    maxK: intFlag(flags['max-k'], 'max-k', 1000, 1),
    maxHistory: intFlag(flags['max-history'], 'max-history', 1000, 1),
    maxBatch: intFlag(flags['max-batch'], 'max-batch', 256, 1),
    retriever: choiceFlag(flags.retriever, 'retriever', ['auto', 'exact', 'faiss'] as const, 'auto'),
  });
  const token = flags['admin-token'];
  let admin: boolean | { token: string } = token ? { token } : true;
  if (!token && !LOOPBACK.has(host)) {
    admin = false;
    log(`POST /admin/reload is disabled: ${host} is not a loopback address; pass --admin-token TOKEN to enable it (SIGHUP still reloads)`);
  }
  const coalesce = choiceFlag(flags.coalesce, 'coalesce', ['on', 'off'] as const, 'on') === 'on';
  const app = createServer(recommender, { admin, coalesce });
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
      app.seqrec.reload().then(
        (i) => log(`reloaded ${i.dir} (generation ${i.generation})`),
        (err) => log(`reload failed, still serving the previous bundle: ${(err as Error).message}`),
      );
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
