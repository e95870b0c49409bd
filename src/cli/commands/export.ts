/**
 * `seqrec export --model CHECKPOINT_DIR --out BUNDLE_DIR [--data FILE ...] [--faiss FACTORY]`:
 * writes a serving bundle; `--to postgres://...` also (or, from a bundle, only) writes its item
 * table to PostgreSQL + pgvector (export-postgres.ts).
 */
import { realpath } from 'node:fs/promises';
import { assertWritableModelDir } from '../../bundle/atomic-dir.js';
import { exportBundle, loadBundle, type ExportBundleOptions, type FaissIndexWriter } from '../../bundle/bundle.js';
import { coldStartTables } from '../../bundle/cold-start.js';
import { loadModel, readModelFile } from '../../bundle/checkpoint.js';
import { readOptimizerState } from '../../bundle/optimizer-state.js';
import { SeqrecError } from '../../errors.js';
import { importFaiss } from '../../serve/recommender-state.js';
import { itemMatrix } from '../../train/evaluate.js';
import { defineCommand, type Log } from '../command.js';
import { buildDataset, dataSettings, type DataSettings } from '../dataset.js';
import { bool, choice, str, type FlagValues } from '../flags.js';
import { BACKEND_FLAGS, OPTIONAL_DATA_FLAGS } from '../shared-flags.js';
import { exportToPostgres, POSTGRES_EXPORT_FLAGS } from './export-postgres.js';

const EXPORT_FLAGS = {
  model: str('checkpoint or bundle directory to export', { required: true, placeholder: 'dir' }),
  out: str('bundle directory to write (required unless --to is given with a bundle as --model)', { placeholder: 'dir' }),
  to: str("PostgreSQL URL: write the bundle's item vectors into a pgvector table named by its digest, for serve --retriever pgvector", {
    placeholder: 'url',
  }),
  ...POSTGRES_EXPORT_FLAGS,
  ...OPTIONAL_DATA_FLAGS,
  similarity: choice(['ip', 'cosine'] as const, "user-item score (default: the source bundle's, else ip)", { placeholder: 'metric' }),
  faiss: str("also build a faiss index with this factory string (e.g. 'HNSW32', 'IVF256,Flat'; needs faiss-node)", { placeholder: 'factory' }),
  force: bool('replace another model in --out'),
  ...BACKEND_FLAGS,
} as const;

type ExportValues = FlagValues<typeof EXPORT_FLAGS>;

export const exportCommand = defineCommand({
  name: 'export',
  summary: 'write a serving bundle from a checkpoint (train --out already writes one)',
  usage: '--model CHECKPOINT_DIR --out BUNDLE_DIR [--to postgres://...] [flags] | --model BUNDLE_DIR --to postgres://...',
  notes:
    '\nReplacing another model in BUNDLE_DIR needs --force; re-exporting a bundle onto itself does not\n(history.json is kept). Without --data, popularity comes from the source bundle, or from the data\nsettings recorded by seqrec train.',
  flags: EXPORT_FLAGS,
  backend: true,
  run: runExport,
});

/** Files of a run that a re-export carries into the new version. */
const CARRIED_FILES = ['history.json'] as const;

/**
 * `seqrec export --model CHECKPOINT_DIR --out BUNDLE_DIR [--data FILE ...] [--faiss FACTORY]`:
 * writes a serving bundle. Popularity counts come from the source when it is already a
 * bundle, else from the training data (`--data` and the data flags, or the settings recorded
 * in the checkpoint by `seqrec train`), which must give the checkpoint's vocabulary.
 */
async function runExport(flags: ExportValues, log: Log): Promise<void> {
  const { out, to } = flags;
  if (out === undefined && to === undefined) {
    throw new SeqrecError('invalid_config', "give --out BUNDLE_DIR (write a bundle) and/or --to postgres://... (write a bundle's item table)", {
      field: 'out',
    });
  }
  if (out !== undefined) await writeBundle(flags, out, log);
  // From the bundle just written, or from --model when it is one.
  if (to !== undefined) await exportToPostgres(out ?? flags.model, { ...flags, to }, log);
}

async function writeBundle(flags: ExportValues, out: string, log: Log): Promise<void> {
  const from = flags.model;
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
    // The cold-start tables travel with a re-export, or are counted from the data.
    let tables: Pick<ExportBundleOptions, 'recentPopularity' | 'cooccurrence'> = {};
    let similarity = flags.similarity;
    if (loaded.bundle && !flags.data) {
      const src = await loadBundle(from, { acceptUndigestedManifest: true });
      src.model.dispose();
      popularity = src.popularity;
      popularitySource = src.section.popularity.source;
      if (src.recentPopularity) tables.recentPopularity = { counts: src.recentPopularity, source: src.section.recentPopularity!.source };
      if (src.cooccurrence) tables.cooccurrence = src.cooccurrence;
      similarity ??= src.section.similarity;
      log(`popularity counts from the bundle in ${from}`);
    } else {
      const saved = loaded.meta.settings as DataSettings | undefined;
      if (!flags.data && !saved) {
        throw new SeqrecError(
          'invalid_argument',
          `${from} is a checkpoint without recorded data settings; pass --data FILE (and the data flags used in training) to count item popularity`,
          { field: 'data' },
        );
      }
      const data = flags.data;
      const settings = data !== undefined ? dataSettings({ ...flags, data }) : saved!;
      const dataset = await buildDataset(settings, log, { skipMalformed: flags.skipMalformed, engine: flags.engine });
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
      const parentItems = typeof loaded.meta.parentItems === 'number' ? loaded.meta.parentItems : 0;
      tables = coldStartTables(dataset, { parentItems, source: settings.data });
    }
    similarity ??= 'ip';
    let faiss: (FaissIndexWriter & { dispose(): void }) | undefined;
    if (flags.faiss) {
      const { FaissRetriever } = (await importFaiss()) as unknown as {
        FaissRetriever: new (items: Float32Array, dim: number, options: { factory: string; metric: 'ip' | 'cosine' }) => FaissIndexWriter & { dispose(): void };
      };
      faiss = new FaissRetriever(itemMatrix(model), model.embeddingDim, { factory: flags.faiss, metric: similarity });
    }
    try {
      await exportBundle(model, out, {
        vocabulary: loaded.vocabulary,
        popularity,
        popularitySource,
        similarity,
        ...tables,
        faiss,
        meta: loaded.meta,
        extraFiles: carried,
        // Adam's state, when the model was saved with it, travels with the weights too.
        optimizerState: await readOptimizerState(loaded),
        existing,
      });
    } finally {
      faiss?.dispose();
    }
    log(`wrote bundle ${out} (${model.name}, ${loaded.vocabulary.numItems} items, similarity ${similarity}${flags.faiss ? `, faiss ${flags.faiss}` : ''})`);
  } finally {
    model.dispose();
  }
}
