/**
 * The serving bundle: everything `Recommender.load` needs, in one directory.
 *
 *   model.json       the checkpoint manifest (src/train/checkpoint.ts) with a `bundle` section:
 *                    {format: 'seqrec-bundle', version: 1, createdAt, similarity,
 *                     itemEmbeddings: {source: 'weights', weight, rows, dim},
 *                     popularity: {file, source}, faiss: null | {file, ...sidecar facts}}
 *                    and `files`: size + SHA-256 of every data file below.
 *   weights.bin      all weights, float32 little-endian (as in every checkpoint)
 *   vocabulary.json  raw item id <-> index (required in a bundle)
 *   popularity.json  {format: 'seqrec-popularity', version: 1, source, counts: [itemCount]}
 *                    training interaction counts per item index (index 0 = padding = 0),
 *                    for the popularity fallback
 *   faiss.index      optional: a FaissRetriever index (+ its sidecar faiss.index.json)
 *
 * A bundle is a checkpoint plus files, not a second format: `loadModel` reads a bundle as a
 * model, and `seqrec export` turns a checkpoint into a bundle.
 *
 * Item embeddings are not stored a second time. For every seqrec model they are exactly the
 * `item_embeddings` weight (`itemEmbeddings()` returns that variable), so a separate copy would
 * double the largest array of the bundle and could disagree with the weights; the manifest
 * records where they come from (`source: 'weights'`), which leaves room for a file-backed
 * source should a model ever compute its item embeddings. Export refuses a model whose
 * `itemEmbeddings()` is not that weight.
 *
 * Writing is atomic at the directory level: the bundle is written to a sibling temporary
 * directory and renamed into place, so a server reloading `dir` never reads half a bundle.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { ItemVocabulary } from '../data/vocabulary.js';
import { SeqrecError } from '../errors.js';
import type { BaseRecaller } from '../models/base.js';
import { digestOf, loadModel, saveModel, verifyDigest, type FileDigest } from '../train/checkpoint.js';

export const BUNDLE_FORMAT = 'seqrec-bundle';
/** The bundle format number. Bump on any change an older reader would misread. */
export const BUNDLE_VERSION = 1;
export const POPULARITY_FORMAT = 'seqrec-popularity';
export const POPULARITY_VERSION = 1;

export const BUNDLE_FILES = {
  manifest: 'model.json',
  weights: 'weights.bin',
  vocabulary: 'vocabulary.json',
  popularity: 'popularity.json',
  faiss: 'faiss.index',
} as const;

/** The `bundle` section of model.json. */
export interface BundleSection {
  format: typeof BUNDLE_FORMAT;
  version: number;
  /** ISO time of export. */
  createdAt: string;
  /** Retrieval similarity the model is meant to be served with. */
  similarity: 'ip' | 'cosine';
  itemEmbeddings: { source: 'weights'; weight: string; rows: number; dim: number };
  popularity: { file: string; source: string };
  /** The faiss index, when the bundle has one. */
  faiss: null | { file: string; sidecar: string; factory?: string; metric?: string };
}

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
  /** An optional faiss index over this model's item embeddings (e.g. a `FaissRetriever`). */
  faiss?: FaissIndexWriter;
  /** Facts about the run, stored in model.json `meta`. */
  meta?: Record<string, unknown>;
  /**
   * What to do when `dir` exists and is not empty: 'replace' (default) replaces it when it
   * holds a seqrec checkpoint or bundle (never an unrelated directory); 'error' refuses.
   */
  existing?: 'replace' | 'error';
}

export interface LoadedBundle {
  /** Absolute path of the bundle directory. */
  dir: string;
  model: BaseRecaller;
  vocabulary: ItemVocabulary;
  /** Training counts per item index (index 0 = 0). */
  popularity: Float64Array;
  section: BundleSection;
  meta: Record<string, unknown>;
  /** Absolute path of the faiss index, when the bundle has one (checked by `FaissRetriever.load`). */
  faissPath: string | null;
}

function invalid(file: string, why: string): SeqrecError {
  return new SeqrecError('bundle_invalid', `${file}: ${why}`, { file });
}

/** The popularity.json document for `counts`. Throws on a wrong length or a bad count. */
function popularityDocument(counts: ArrayLike<number>, itemCount: number, source: string): string {
  if (!counts || typeof counts.length !== 'number') {
    throw new SeqrecError('invalid_argument', 'popularity must be an array of counts per item index', { field: 'popularity' });
  }
  if (counts.length !== itemCount) {
    throw new SeqrecError(
      'shape_mismatch',
      `popularity has ${counts.length} counts but the model has ${itemCount} item rows (index 0 = padding included)`,
      { field: 'popularity' },
    );
  }
  const out = new Array<number>(itemCount);
  out[0] = 0;
  for (let i = 1; i < itemCount; i++) {
    const c = counts[i];
    if (typeof c !== 'number' || !Number.isFinite(c) || c < 0) {
      throw new SeqrecError('invalid_argument', `popularity[${i}] must be a finite count >= 0, got ${String(c)}`, { field: 'popularity' });
    }
    out[i] = c;
  }
  return JSON.stringify({ format: POPULARITY_FORMAT, version: POPULARITY_VERSION, source, counts: out });
}

async function isSeqrecDirectory(dir: string): Promise<boolean> {
  try {
    const m = JSON.parse(await readFile(join(dir, BUNDLE_FILES.manifest), 'utf8')) as { format?: unknown };
    return m?.format === 'seqrec-model';
  } catch {
    return false;
  }
}

/**
 * Writes a serving bundle for `model` to `dir` (created if needed; see the module comment for
 * the layout). Returns the bundle section written to model.json.
 */
export async function exportBundle(model: BaseRecaller, dir: string, options: ExportBundleOptions): Promise<BundleSection> {
  if (!options || typeof options !== 'object') {
    throw new SeqrecError('invalid_argument', 'exportBundle: options {vocabulary, popularity} are required', { field: 'options' });
  }
  const { vocabulary } = options;
  if (!vocabulary || typeof vocabulary.encode !== 'function') {
    throw new SeqrecError('invalid_argument', 'exportBundle: options.vocabulary (an ItemVocabulary) is required', { field: 'vocabulary' });
  }
  if (vocabulary.size !== model.itemCount) {
    throw new SeqrecError(
      'shape_mismatch',
      `exportBundle: the vocabulary has ${vocabulary.size} entries (with padding) but the model has ${model.itemCount} item rows`,
      { field: 'vocabulary' },
    );
  }
  const similarity = options.similarity ?? 'ip';
  if (similarity !== 'ip' && similarity !== 'cosine') {
    throw new SeqrecError('invalid_argument', `exportBundle: similarity must be 'ip' or 'cosine', got ${String(similarity)}`, { field: 'similarity' });
  }
  const itemWeight = model.namedWeights().find((w) => w.variable === model.itemEmbeddings());
  if (!itemWeight) {
    throw new SeqrecError(
      'invalid_argument',
      `exportBundle: ${model.name}.itemEmbeddings() is not one of its weights; bundle format ${BUNDLE_VERSION} derives item embeddings from the weights`,
    );
  }
  const source = options.popularitySource ?? 'training data';
  const popularityText = popularityDocument(options.popularity, model.itemCount, source);

  const target = resolve(dir);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const existing = await readdir(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw new SeqrecError('invalid_argument', `${target}: cannot use as a bundle directory (${err.code ?? err.message})`, { file: target });
  });
  if (existing && existing.length > 0) {
    if (options.existing === 'error') {
      throw new SeqrecError('invalid_argument', `${target}: already exists and is not empty`, { file: target });
    }
    if (!(await isSeqrecDirectory(target))) {
      throw new SeqrecError(
        'invalid_argument',
        `${target}: exists, is not empty and is not a seqrec checkpoint or bundle; refusing to replace it`,
        { file: target },
      );
    }
  }

  const tmp = join(parent, `.${basename(target)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    const files: Record<string, FileDigest> = {};
    const popularityBytes = Buffer.from(popularityText);
    files[BUNDLE_FILES.popularity] = digestOf(popularityBytes);
    await writeFile(join(tmp, BUNDLE_FILES.popularity), popularityBytes);

    let faiss: BundleSection['faiss'] = null;
    if (options.faiss) {
      const indexPath = join(tmp, BUNDLE_FILES.faiss);
      await options.faiss.save(indexPath);
      const sidecarName = `${BUNDLE_FILES.faiss}.json`;
      const indexBytes = await readFile(indexPath).catch(() => {
        throw new SeqrecError('invalid_argument', 'exportBundle: options.faiss.save(path) did not write the index to path', { field: 'faiss' });
      });
      files[BUNDLE_FILES.faiss] = digestOf(indexBytes);
      const sidecarBytes = await readFile(join(tmp, sidecarName)).catch(() => null);
      let sidecar: { factory?: string; metric?: string } = {};
      if (sidecarBytes) {
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

    const section: BundleSection = {
      format: BUNDLE_FORMAT,
      version: BUNDLE_VERSION,
      createdAt: new Date().toISOString(),
      similarity,
      itemEmbeddings: { source: 'weights', weight: itemWeight.name, rows: model.itemCount, dim: model.embeddingDim },
      popularity: { file: BUNDLE_FILES.popularity, source },
      faiss,
    };
    await saveModel(model, tmp, { vocabulary, meta: options.meta, files, bundle: section as unknown as Record<string, unknown> });

    // Swap into place: old -> aside, new -> target, remove old.
    if (existing) {
      const aside = join(parent, `.${basename(target)}.old-${process.pid}-${randomBytes(4).toString('hex')}`);
      await rename(target, aside);
      await rename(tmp, target);
      await rm(aside, { recursive: true, force: true });
    } else {
      await rename(tmp, target);
    }
    return section;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

function parseSection(raw: Record<string, unknown> | null, manifestPath: string): BundleSection {
  if (raw === null) {
    throw invalid(
      manifestPath,
      'this is a training checkpoint, not a serving bundle (model.json has no "bundle" section); ' +
        'make one with `seqrec export --model DIR --out BUNDLE_DIR`',
    );
  }
  const s = raw as Partial<BundleSection>;
  if (s.format !== BUNDLE_FORMAT) throw invalid(manifestPath, `bundle.format is ${JSON.stringify(s.format)}, expected "${BUNDLE_FORMAT}"`);
  if (s.version !== BUNDLE_VERSION) {
    throw invalid(manifestPath, `bundle format version ${JSON.stringify(s.version)} is not supported (this seqrec reads version ${BUNDLE_VERSION})`);
  }
  if (s.similarity !== 'ip' && s.similarity !== 'cosine') throw invalid(manifestPath, `bundle.similarity must be "ip" or "cosine", got ${JSON.stringify(s.similarity)}`);
  const ie = s.itemEmbeddings;
  if (!ie || ie.source !== 'weights' || typeof ie.weight !== 'string' || !Number.isInteger(ie.rows) || !Number.isInteger(ie.dim)) {
    throw invalid(manifestPath, `bundle.itemEmbeddings must be {source: "weights", weight, rows, dim}, got ${JSON.stringify(ie)}`);
  }
  if (!s.popularity || typeof s.popularity.file !== 'string') throw invalid(manifestPath, 'bundle.popularity.file is missing');
  if (s.faiss !== null && (typeof s.faiss !== 'object' || typeof s.faiss?.file !== 'string')) {
    throw invalid(manifestPath, `bundle.faiss must be null or {file, sidecar}, got ${JSON.stringify(s.faiss)}`);
  }
  return s as BundleSection;
}

function parsePopularity(bytes: Buffer, path: string, itemCount: number): Float64Array {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalid(path, `not valid JSON (${(err as Error).message})`);
  }
  const d = doc as { format?: unknown; version?: unknown; counts?: unknown };
  if (!d || typeof d !== 'object') throw invalid(path, 'expected a JSON object');
  if (d.format !== POPULARITY_FORMAT) throw invalid(path, `format is ${JSON.stringify(d.format)}, expected "${POPULARITY_FORMAT}"`);
  if (d.version !== POPULARITY_VERSION) throw invalid(path, `version ${JSON.stringify(d.version)} is not supported (this seqrec reads version ${POPULARITY_VERSION})`);
  if (!Array.isArray(d.counts)) throw invalid(path, '"counts" must be an array');
  if (d.counts.length !== itemCount) {
    throw invalid(path, `has ${d.counts.length} counts but the model has ${itemCount} item rows (padding included)`);
  }
  const out = new Float64Array(itemCount);
  for (let i = 1; i < itemCount; i++) {
    const c = d.counts[i];
    if (typeof c !== 'number' || !Number.isFinite(c) || c < 0) throw invalid(path, `counts[${i}] is ${JSON.stringify(c)}, not a count >= 0`);
    out[i] = c;
  }
  return out;
}

/**
 * Reads and checks a bundle written by `exportBundle`: format and version, every file's size
 * and SHA-256, the vocabulary and popularity against the model. Errors are `bundle_invalid`
 * and name the file at fault. The caller owns (and disposes) the returned model.
 */
export async function loadBundle(dir: string): Promise<LoadedBundle> {
  const root = resolve(dir);
  const info = await stat(root).catch(() => null);
  if (!info) throw invalid(root, 'no such bundle directory');
  if (!info.isDirectory()) throw invalid(root, 'not a directory (a bundle is a directory with model.json, weights.bin, ...)');
  const manifestPath = join(root, BUNDLE_FILES.manifest);
  const loaded = await loadModel(root);
  const { model } = loaded;
  try {
    const section = parseSection(loaded.bundle, manifestPath);
    const vocabPath = join(root, BUNDLE_FILES.vocabulary);
    if (!loaded.vocabulary) throw invalid(vocabPath, 'missing: a bundle needs the vocabulary to map raw item ids');
    if (section.itemEmbeddings.rows !== model.itemCount || section.itemEmbeddings.dim !== model.embeddingDim) {
      throw invalid(
        manifestPath,
        `bundle.itemEmbeddings is ${section.itemEmbeddings.rows} x ${section.itemEmbeddings.dim} but the model's item table is ${model.itemCount} x ${model.embeddingDim}`,
      );
    }
    if (!model.namedWeights().some((w) => w.name === section.itemEmbeddings.weight && w.variable === model.itemEmbeddings())) {
      throw invalid(manifestPath, `bundle.itemEmbeddings.weight '${section.itemEmbeddings.weight}' is not the ${model.name} item table`);
    }
    const popPath = join(root, section.popularity.file);
    let popBytes: Buffer;
    try {
      popBytes = await readFile(popPath);
    } catch (err) {
      throw invalid(popPath, `cannot read the popularity counts (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    verifyDigest(popPath, popBytes, loaded.files[section.popularity.file]);
    const popularity = parsePopularity(popBytes, popPath, model.itemCount);
    let faissPath: string | null = null;
    if (section.faiss) {
      faissPath = join(root, section.faiss.file);
      const exists = await stat(faissPath).catch(() => null);
      if (!exists) throw invalid(faissPath, 'missing, but model.json lists a faiss index');
      // Contents are checked by FaissRetriever.load against its sidecar (size, sha256, header).
    }
    return { dir: root, model, vocabulary: loaded.vocabulary, popularity, section, meta: loaded.meta, faissPath };
  } catch (err) {
    model.dispose();
    throw err;
  }
}
