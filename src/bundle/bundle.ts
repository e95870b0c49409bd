/**
 * The serving bundle: everything `Recommender.load` needs, in one directory.
 *
 *   model.json       the checkpoint manifest (src/bundle/checkpoint.ts) with a `bundle` section:
 *                    {format: 'seqrec-bundle', version: 1, createdAt, similarity,
 *                     itemEmbeddings: {source: 'weights', weight, rows, dim},
 *                     popularity: {file, source}, recentPopularity?, cooccurrence?,
 *                     faiss: null | {file, ...sidecar facts}}
 *                    and `files`: size + SHA-256 of every data file below.
 *   weights.bin      all weights, float32 little-endian (as in every checkpoint)
 *   vocabulary.json  raw item id <-> index (required in a bundle)
 *   popularity.json  {format: 'seqrec-popularity', version: 1, source, counts: [itemCount]}
 *                    training interaction counts per item index (index 0 = padding = 0),
 *                    for the popularity fallback
 *   recent-popularity.json, cooccurrence.bin
 *                    optional: the cold-start tables (src/bundle/cold-start.ts), named by the
 *                    section's optional `recentPopularity` / `cooccurrence`; older bundles
 *                    without them load unchanged
 *   faiss.index      optional: a FaissRetriever index (+ its sidecar faiss.index.json)
 *   optimizer.json   optional: Adam's state (+ optimizer.bin) for a warm start that continues it;
 *                    serving never reads it (src/bundle/optimizer-state.ts)
 *
 * A bundle is a checkpoint plus files, not a second format: `loadModel` reads a bundle as a
 * model, and `seqrec export` turns a checkpoint into a bundle.
 *
 * Item embeddings are not stored a second time. For every seqrec model they are exactly the
 * `item_embeddings` weight (`itemEmbeddings()` returns that variable), so a separate copy would
 * double the largest array of the bundle and could disagree with the weights; the manifest
 * records where they come from (`source: 'weights'`), which leaves room for a file-backed
 * source should a model ever compute its item embeddings. Export refuses a model whose
 * item table (`itemTableVariable()`) is not that weight. A model with item features scores with
 * that weight plus each item's feature vector: the features are `item-features.json` of the
 * checkpoint (src/bundle/checkpoint.ts), so the item embeddings still derive from the bundle's
 * weights and files alone.
 *
 * Writing is atomic at every instant (src/bundle/atomic-dir.ts): the files above are one version
 * `DIR/vNNNNNN/`, committed by replacing the `DIR/CURRENT` pointer (which records model.json's
 * SHA-256), and the previous version is kept. Files the user put in DIR are never touched.
 * Extra files of the run (history.json) go into the version too, so they are part of the
 * atomic step and carried over by a re-export.
 *
 * Loading refuses a manifest that names a file outside the bundle (names are single path
 * components; symlinks and non-regular files are refused), checks every listed file's digest,
 * and names bundle-relative files only in its errors.
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { ItemVocabulary } from '../data/vocabulary.js';
import { SeqrecError } from '../errors.js';
import type { BaseRecaller } from '../models/base.js';
import { FILE_NAME_RE, saveVersion, writeDurable } from './atomic-dir.js';
import {
  checkExportVocabulary,
  digestOf,
  ITEM_FEATURES_FILE,
  loadModel,
  readModelFile,
  writeModelFiles,
  type FileDigest,
  type LoadOptions,
} from './checkpoint.js';
import { bundleInvalid, checkSchema, parseJsonFile } from './file-schema.js';
import { OPTIMIZER_FILES, type OptimizerState } from './optimizer-state.js';
import { FaissSidecarSchema } from '../retrieval/faiss/persist.js';
import { CooccurrenceSectionSchema, parsePopularity, popularityDocument, type CooccurrenceTable } from './cold-start.js';
import { coldStartFiles, coldStartNames, readColdStartFiles } from './cold-start-files.js';

export const BUNDLE_FORMAT = 'seqrec-bundle';
/** The bundle format number. Bump on any change an older reader would misread. */
export const BUNDLE_VERSION = 1;
export { POPULARITY_FORMAT, POPULARITY_VERSION } from './cold-start.js';

export const BUNDLE_FILES = {
  manifest: 'model.json',
  weights: 'weights.bin',
  vocabulary: 'vocabulary.json',
  popularity: 'popularity.json',
  recentPopularity: 'recent-popularity.json',
  cooccurrence: 'cooccurrence.bin',
  faiss: 'faiss.index',
  optimizer: OPTIMIZER_FILES.header,
  optimizerData: OPTIMIZER_FILES.data,
} as const;

const FileName = z.string().regex(FILE_NAME_RE, 'expected a plain file name inside the bundle (no "/", "..", or leading dot)');

const SectionSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  version: z.literal(BUNDLE_VERSION),
  /** ISO time of export. */
  createdAt: z.string().max(64),
  /** Retrieval similarity the model is meant to be served with. */
  similarity: z.enum(['ip', 'cosine']),
  itemEmbeddings: z.strictObject({
    source: z.literal('weights'),
    weight: z.string().max(200),
    rows: z
      .number()
      .int()
      .min(2)
      .max(2 ** 26),
    dim: z.number().int().min(1).max(8192),
  }),
  popularity: z.strictObject({ file: FileName, source: z.string().max(4096) }),
  /** Counts over the recent training data, for the 'recent-popularity' fallback (absent in older bundles). */
  recentPopularity: z.strictObject({ file: FileName, source: z.string().max(4096) }).optional(),
  /** The co-occurrence table of the 'cooccurrence' fallback (absent in older bundles). */
  cooccurrence: CooccurrenceSectionSchema.optional(),
  /** The faiss index, when the bundle has one. */
  faiss: z.strictObject({ file: FileName, sidecar: FileName, factory: z.string().max(256).optional(), metric: z.string().max(32).optional() }).nullable(),
});

/** The `bundle` section of model.json. */
export type BundleSection = z.infer<typeof SectionSchema>;

/** What `exportBundle` needs from a faiss index: `FaissRetriever` has it. */
export interface FaissIndexWriter {
  /** Writes the index to `path` (and its sidecar to `path.json`). */
  save(path: string): void | Promise<void>;
  readonly metric?: 'ip' | 'cosine';
}

export interface ExportBundleOptions {
  /** Raw item ids (required: a bundle is served by raw id). */
  vocabulary: ItemVocabulary;
  /** Training interaction counts per item index, length `model.itemCount` (index 0 ignored). */
  popularity: ArrayLike<number>;
  /** Where the counts come from, e.g. the training file. Default 'training data'. */
  popularitySource?: string;
  /** Similarity to serve with. Default 'ip' (what training optimises). */
  similarity?: 'ip' | 'cosine';
  /**
   * Counts per item index over the recent training data, for the 'recent-popularity' fallback
   * (`coldStartTables(...).recentPopularity`, or your own window); `source` says which data.
   */
  recentPopularity?: { counts: ArrayLike<number>; source: string };
  /** The co-occurrence table of the 'cooccurrence' fallback (`coldStartTables(...).cooccurrence`). */
  cooccurrence?: CooccurrenceTable;
  /** An optional faiss index over this model's item embeddings (e.g. a `FaissRetriever`). */
  faiss?: FaissIndexWriter;
  /** Facts about the run, stored in model.json `meta`. */
  meta?: Record<string, unknown>;
  /** More files for the version, digested in model.json (e.g. history.json). */
  extraFiles?: Record<string, Uint8Array | string>;
  /**
   * Adam's state (`FitResult.optimizerState` of a fit with `saveOptimizerState`), so that a warm
   * start from this bundle continues it. About twice the weights' size; serving never reads it.
   */
  optimizerState?: OptimizerState | null;
  /**
   * What to do when `dir` already holds a seqrec model: 'replace' (default) writes a new
   * version and keeps the previous one; 'error' refuses. A non-empty directory that holds no
   * seqrec model is always refused, and files seqrec did not write are never touched.
   */
  existing?: 'replace' | 'error';
}

export interface LoadedBundle {
  /** Real path of the bundle directory (what a reload resolves again). */
  dir: string;
  /** Real path of the version loaded (the bundle directory itself for a flat bundle). */
  versionDir: string;
  /** The version loaded, e.g. 'v000003' (null for a flat bundle). */
  version: string | null;
  model: BaseRecaller;
  vocabulary: ItemVocabulary;
  /** Training counts per item index (index 0 = 0). */
  popularity: Float64Array;
  /** Recent training counts per item index, when the bundle has them. */
  recentPopularity: Float64Array | null;
  /** The co-occurrence fallback's table, when the bundle has one. */
  cooccurrence: CooccurrenceTable | null;
  section: BundleSection;
  meta: Record<string, unknown>;
  /** Absolute path of the faiss index, when the bundle has one (digest-checked by the load). */
  faissPath: string | null;
  /** Files of the version besides the model's (history.json), to carry over on re-export. */
  extraFiles: string[];
  /** SHA-256 of the version's model.json (names its PostgreSQL item table, see `seqrec export --to`). */
  digest: string;
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes a serving bundle for `model` to `dir` as a new version (created if needed; see the
 * module comment for the layout). Returns the bundle section written to model.json.
 */
export async function exportBundle(model: BaseRecaller, dir: string, options: ExportBundleOptions): Promise<BundleSection> {
  if (!options || typeof options !== 'object') {
    throw new SeqrecError('invalid_argument', 'exportBundle: options {vocabulary, popularity} are required', { field: 'options' });
  }
  const { vocabulary } = options;
  checkExportVocabulary('exportBundle', vocabulary, model.itemCount);
  const similarity = options.similarity ?? 'ip';
  if (similarity !== 'ip' && similarity !== 'cosine') {
    throw new SeqrecError('invalid_argument', `exportBundle: similarity must be 'ip' or 'cosine', got ${String(similarity)}`, { field: 'similarity' });
  }
  const itemWeight = model.namedWeights().find((w) => w.variable === model.itemTableVariable());
  if (!itemWeight) {
    throw new SeqrecError(
      'invalid_argument',
      `exportBundle: ${model.name}.itemTableVariable() is not one of its weights; bundle format ${BUNDLE_VERSION} derives item embeddings from the weights`,
    );
  }
  for (const name of Object.keys(options.extraFiles ?? {})) {
    if (!FILE_NAME_RE.test(name) || Object.values(BUNDLE_FILES).some((f) => f === name || `${f}.json` === name)) {
      throw new SeqrecError('invalid_argument', `exportBundle: extraFiles name '${name}' is not a free plain file name`, { field: 'extraFiles' });
    }
  }
  const source = options.popularitySource ?? 'training data';
  const popularityBytes = Buffer.from(popularityDocument(options.popularity, model.itemCount, source));
  const extras = coldStartFiles(options, model.itemCount);
  let section: BundleSection | undefined;

  await saveVersion(
    dir,
    async (tmp) => {
      const files: Record<string, FileDigest> = { [BUNDLE_FILES.popularity]: digestOf(popularityBytes) };
      await writeDurable(join(tmp, BUNDLE_FILES.popularity), popularityBytes);
      for (const [name, bytes] of extras.files) {
        files[name] = digestOf(bytes);
        await writeDurable(join(tmp, name), bytes);
      }
      let faiss: BundleSection['faiss'] = null;
      if (options.faiss) {
        const indexPath = join(tmp, BUNDLE_FILES.faiss);
        await options.faiss.save(indexPath);
        const sidecarName = `${BUNDLE_FILES.faiss}.json`;
        const indexBytes = await readFile(indexPath).catch(() => {
          throw new SeqrecError('invalid_argument', 'exportBundle: options.faiss.save(path) did not write the index to path', { field: 'faiss' });
        });
        await fsyncFile(indexPath);
        files[BUNDLE_FILES.faiss] = digestOf(indexBytes);
        const sidecarBytes = await readFile(join(tmp, sidecarName)).catch(() => null);
        let sidecar: { factory?: unknown; metric?: unknown } = {};
        if (sidecarBytes) {
          await fsyncFile(join(tmp, sidecarName));
          files[sidecarName] = digestOf(sidecarBytes);
          try {
            sidecar = JSON.parse(sidecarBytes.toString('utf8'));
          } catch {
            sidecar = {};
          }
        }
        faiss = {
          file: BUNDLE_FILES.faiss,
          sidecar: sidecarName,
          ...(typeof sidecar.factory === 'string' ? { factory: sidecar.factory } : {}),
          ...(typeof sidecar.metric === 'string' ? { metric: sidecar.metric } : {}),
        };
      }
      section = {
        format: BUNDLE_FORMAT,
        version: BUNDLE_VERSION,
        createdAt: new Date().toISOString(),
        similarity,
        itemEmbeddings: { source: 'weights', weight: itemWeight.name, rows: model.itemCount, dim: model.embeddingDim },
        popularity: { file: BUNDLE_FILES.popularity, source },
        ...extras.section,
        faiss,
      };
      return writeModelFiles(model, tmp, {
        vocabulary,
        meta: options.meta,
        files,
        extraFiles: options.extraFiles,
        optimizerState: options.optimizerState,
        bundle: section,
      });
    },
    { replace: options.existing === 'error' ? 'refuse' : 'allow' },
  );
  return section!;
}

function parseSection(raw: Record<string, unknown> | null): BundleSection {
  if (raw === null) {
    throw bundleInvalid(
      BUNDLE_FILES.manifest,
      'this is a training checkpoint, not a serving bundle (model.json has no "bundle" section); ' +
        'make one with `seqrec export --model DIR --out BUNDLE_DIR`',
    );
  }
  if (raw.format !== BUNDLE_FORMAT) throw bundleInvalid(BUNDLE_FILES.manifest, `bundle.format is not "${BUNDLE_FORMAT}"`, 'bundle.format');
  if (raw.version !== BUNDLE_VERSION) {
    const v = typeof raw.version === 'number' ? raw.version : '?';
    throw bundleInvalid(BUNDLE_FILES.manifest, `bundle format version ${v} is not supported (this seqrec reads version ${BUNDLE_VERSION})`, 'bundle.version');
  }
  return checkSchema(SectionSchema, raw, BUNDLE_FILES.manifest, 'bundle');
}

/**
 * Reads and checks a bundle written by `exportBundle`: format and version, every file's size
 * and SHA-256, the vocabulary and popularity against the model. Errors are `bundle_invalid`
 * and name the bundle-relative file at fault. The caller owns (and disposes) the returned model.
 */
export async function loadBundle(dir: string, options: LoadOptions = {}): Promise<LoadedBundle> {
  const loaded = await loadModel(dir, options);
  const { model } = loaded;
  try {
    const section = parseSection(loaded.bundle);
    if (!loaded.vocabulary) throw bundleInvalid(BUNDLE_FILES.vocabulary, 'missing: a bundle needs the vocabulary to map raw item ids');
    if (section.itemEmbeddings.rows !== model.itemCount || section.itemEmbeddings.dim !== model.embeddingDim) {
      throw bundleInvalid(
        BUNDLE_FILES.manifest,
        `bundle.itemEmbeddings is ${section.itemEmbeddings.rows} x ${section.itemEmbeddings.dim} but the model's item table is ${model.itemCount} x ${model.embeddingDim}`,
      );
    }
    if (!model.namedWeights().some((w) => w.name === section.itemEmbeddings.weight && w.variable === model.itemTableVariable())) {
      throw bundleInvalid(BUNDLE_FILES.manifest, `bundle.itemEmbeddings.weight '${section.itemEmbeddings.weight}' is not the ${model.name} item table`);
    }
    const popName = section.popularity.file;
    if (!loaded.files[popName]) throw bundleInvalid(popName, 'not covered by a digest in model.json');
    // loadModel verified every listed file; read it through the same checks.
    const popBytes = await readModelFile(loaded, popName);
    if (!popBytes) throw bundleInvalid(popName, 'cannot read the popularity counts (ENOENT)');
    const popularity = parsePopularity(popBytes, popName, model.itemCount);
    const { recentPopularity, cooccurrence } = await readColdStartFiles(loaded, section, model.itemCount);
    let faissPath: string | null = null;
    if (section.faiss) {
      for (const name of [section.faiss.file, section.faiss.sidecar]) {
        if (!loaded.files[name]) throw bundleInvalid(name, 'not covered by a digest in model.json');
      }
      // Checked here too (not only by FaissRetriever.load), so a bad sidecar fails the load with or without faiss-node.
      const sidecarBytes = await readModelFile(loaded, section.faiss.sidecar);
      if (!sidecarBytes) throw bundleInvalid(section.faiss.sidecar, 'cannot read the faiss index sidecar (ENOENT)');
      checkSchema(FaissSidecarSchema, parseJsonFile(sidecarBytes, section.faiss.sidecar), section.faiss.sidecar);
      faissPath = join(loaded.dir, section.faiss.file);
    }
    const own = new Set<string>([
      BUNDLE_FILES.weights,
      BUNDLE_FILES.vocabulary,
      ITEM_FEATURES_FILE,
      popName,
      OPTIMIZER_FILES.header,
      OPTIMIZER_FILES.data,
      ...coldStartNames(section),
      ...(section.faiss ? [section.faiss.file, section.faiss.sidecar] : []),
    ]);
    return {
      dir: loaded.root,
      versionDir: loaded.dir,
      version: loaded.version,
      model,
      vocabulary: loaded.vocabulary,
      popularity,
      recentPopularity,
      cooccurrence,
      section,
      meta: loaded.meta,
      faissPath,
      extraFiles: Object.keys(loaded.files).filter((n) => !own.has(n)),
      digest: loaded.digest,
    };
  } catch (err) {
    model.dispose();
    throw err;
  }
}
