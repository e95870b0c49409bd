/**
 * Saving and loading a trained model as a directory, without tfjs-node. One version holds:
 *
 *   model.json       {format: 'seqrec-model', version, model, config, weights: [{name, shape, offset}],
 *                     files: {name: {bytes, sha256}}, meta?, bundle?}
 *   weights.bin      every weight as little-endian float32, concatenated in manifest order
 *   vocabulary.json  the item vocabulary (raw id <-> index), when given
 *   optimizer.json   optional: Adam's state for warm starts, with optimizer.bin (src/bundle/optimizer-state.ts)
 *   ...              extra files (history.json, a bundle's popularity.json), each in `files`
 *
 * Saves are atomic at every instant (src/bundle/atomic-dir.ts): the directory holds versions
 * and a CURRENT pointer that also records model.json's SHA-256, so every file is covered by a
 * digest. model.json is checked against a strict schema with bounds on every number
 * (src/bundle/manifest.ts), offsets must be contiguous, the weights' names and shapes must be
 * the model's own, and the `files` digests are required. Only regular files inside the
 * directory are opened. Errors are `bundle_invalid` and name bundle-relative files only.
 *
 * A flat directory (seqrec 0.1: model.json at the top, no CURRENT) loads when a
 * `model.json.sha256` next to it verifies; without one, only with
 * `acceptUndigestedManifest` (what `seqrec export` uses to re-export it into the new layout).
 */
import { join } from 'node:path';
import { ItemVocabulary } from '../data/vocabulary.js';
import { ItemFeatures } from '../data/item-features.js';
import { SeqrecError } from '../errors.js';
import type { BaseRecaller } from '../models/base.js';
import { buildModel } from '../models/registry.js';
import { digestOf, digestRegular, readRegular, resolveModelDir, saveVersion, writeDurable, type FileDigest } from './atomic-dir.js';
import { z } from 'zod';
import { bundleInvalid, checkSchema } from './file-schema.js';
import { writeOptimizerFiles, type OptimizerState } from './optimizer-state.js';
import { checkManifestSizes, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, parseManifest, type ModelManifest, type WeightEntry } from './manifest.js';

/** The item features of a model built with them (`ItemFeatures.toJSON`). */
export const ITEM_FEATURES_FILE = 'item-features.json';

/** Attaches item-features.json to a model built with item features; refuses it missing, or present for a model without. */
function attachItemFeatures(model: BaseRecaller, bytes: Buffer | undefined, listed: boolean): void {
  const wants = model.itemFeatureStrategy !== 'none';
  if (!wants && !listed) return;
  if (!wants) throw bundleInvalid(ITEM_FEATURES_FILE, `present, but the ${model.name} model was built without item features`);
  if (!bytes) throw bundleInvalid(ITEM_FEATURES_FILE, `missing: the ${model.name} model was built with item features (${model.itemFeatureStrategy})`);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw bundleInvalid(ITEM_FEATURES_FILE, 'not valid JSON');
  }
  const features = ItemFeatures.fromJSON(json, ITEM_FEATURES_FILE);
  try {
    model.setItemFeatures(features);
  } catch (err) {
    if (err instanceof SeqrecError) throw bundleInvalid(ITEM_FEATURES_FILE, err.message);
    throw err;
  }
}

/** vocabulary.json, as `ItemVocabulary.toJSON` writes it (fromJSON checks the ids themselves). */
const VocabularyFileSchema = z.strictObject({ format: z.literal('seqrec-vocabulary'), version: z.literal(1), items: z.array(z.string()) });

export { CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './manifest.js';
export { digestOf, type FileDigest } from './atomic-dir.js';

const MANIFEST = 'model.json';
const MAX_JSON_BYTES = 256 * 2 ** 20;

/** Throws `bundle_invalid` naming `name` (bundle-relative) when `bytes` do not match the recorded digest. */
export function verifyDigest(name: string, bytes: Uint8Array | FileDigest, expected: FileDigest | undefined, against = 'model.json'): void {
  if (!expected) throw bundleInvalid(name, `not covered by a digest in ${against}`);
  const got = bytes instanceof Uint8Array ? digestOf(bytes) : bytes;
  if (got.bytes !== expected.bytes || got.sha256 !== expected.sha256) {
    throw bundleInvalid(
      name,
      `contents do not match ${against} (${got.bytes} bytes, sha256 ${got.sha256.slice(0, 12)}…; ` +
        `expected ${expected.bytes} bytes, sha256 ${expected.sha256.slice(0, 12)}…): the file is corrupt or from another model`,
    );
  }
}

export interface SaveOptions {
  vocabulary?: ItemVocabulary;
  meta?: Record<string, unknown>;
  /** Digests of files the caller wrote itself into the version directory (see `exportBundle`). */
  files?: Record<string, FileDigest>;
  /** More files to write into the version, digested in `files` (e.g. history.json). */
  extraFiles?: Record<string, Uint8Array | string>;
  /**
   * Adam's state to save with the weights (optimizer.json + optimizer.bin, see
   * src/bundle/optimizer-state.ts), for a warm start that continues it. Default: none.
   */
  optimizerState?: OptimizerState | null;
  /** The serving-bundle section (written by `exportBundle`). */
  bundle?: Record<string, unknown>;
  /** 'refuse': throw when the directory already holds a model (the CLI without --force). Default 'allow'. */
  replace?: 'allow' | 'refuse';
}

/**
 * Writes the files of one version into `dir` (an empty directory) with `writeDurable`, model.json
 * last, and returns model.json's digest. `saveModel` and `exportBundle` call it inside `saveVersion`.
 */
export async function writeModelFiles(model: BaseRecaller, dir: string, options: SaveOptions = {}): Promise<FileDigest> {
  const named = model.namedWeights();
  const entries: WeightEntry[] = [];
  let offset = 0;
  for (const { name, variable } of named) {
    entries.push({ name, shape: variable.shape.slice(), offset });
    offset += variable.size;
  }
  const all = new Float32Array(offset);
  named.forEach(({ variable }, i) => all.set(variable.dataSync() as Float32Array, entries[i].offset));
  // Float32Array is little-endian on every platform Node runs on.
  const weightBytes = new Uint8Array(all.buffer);
  const files: Record<string, FileDigest> = { ...options.files, 'weights.bin': digestOf(weightBytes) };
  await writeDurable(join(dir, 'weights.bin'), weightBytes);
  if (options.vocabulary) {
    const vocabBytes = Buffer.from(JSON.stringify(options.vocabulary.toJSON()));
    files['vocabulary.json'] = digestOf(vocabBytes);
    await writeDurable(join(dir, 'vocabulary.json'), vocabBytes);
  }
  if (options.optimizerState) Object.assign(files, await writeOptimizerFiles(options.optimizerState, dir));
  const features = model.itemFeatures();
  if (features) {
    const featureBytes = Buffer.from(JSON.stringify(features.toJSON()));
    files[ITEM_FEATURES_FILE] = digestOf(featureBytes);
    await writeDurable(join(dir, ITEM_FEATURES_FILE), featureBytes);
  }
  for (const [name, content] of Object.entries(options.extraFiles ?? {})) {
    if (files[name]) throw new SeqrecError('invalid_argument', `extraFiles: '${name}' is a file seqrec writes itself`, { field: 'extraFiles' });
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    files[name] = digestOf(bytes);
    await writeDurable(join(dir, name), bytes);
  }
  const manifest: ModelManifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    model: model.name,
    config: model.getConfig() as ModelManifest['config'],
    weights: entries,
    ...(options.meta ? { meta: options.meta } : {}),
    files,
    ...(options.bundle ? { bundle: options.bundle } : {}),
  };
  const text = Buffer.from(JSON.stringify(manifest, null, 2));
  await writeDurable(join(dir, MANIFEST), text);
  return digestOf(text);
}

/**
 * Saves `model` (and the vocabulary) as a new version of `dir`, creating it if needed;
 * atomic at every instant. Refuses a non-empty directory that holds no seqrec model. Returns
 * the directory of the version written.
 */
export async function saveModel(model: BaseRecaller, dir: string, options: SaveOptions = {}): Promise<string> {
  return saveVersion(dir, (tmp) => writeModelFiles(model, tmp, options), { replace: options.replace });
}

export interface LoadedModel {
  model: BaseRecaller;
  vocabulary: ItemVocabulary | null;
  meta: Record<string, unknown>;
  /** Recorded data-file digests (every one verified by the load). */
  files: Record<string, FileDigest>;
  /** The serving-bundle section of model.json, when the directory is a bundle. */
  bundle: Record<string, unknown> | null;
  /** Real path of the directory the caller named. */
  root: string;
  /** Real path of the directory holding the files (the current version, or `root` when flat). */
  dir: string;
  /** The version loaded (e.g. 'v000003'), or null for a flat directory. */
  version: string | null;
  /**
   * SHA-256 (hex) of model.json, which records the digest of every other file: one name for
   * this exact model (it names the bundle's PostgreSQL item table).
   */
  digest: string;
}

export interface LoadOptions {
  /** Load a flat directory whose model.json no digest covers (older seqrec), to re-export it. Default false. */
  acceptUndigestedManifest?: boolean;
}

/**
 * model.json's bytes from a resolved directory, checked against the digest CURRENT records (or
 * a flat directory's model.json.sha256); the manifest of any seqrec directory kind.
 */
export async function readManifestBytes(dir: string, recorded: FileDigest | null, options: LoadOptions = {}): Promise<{ bytes: Buffer; digest: string }> {
  const bytes = await readRegular(dir, MANIFEST, MAX_JSON_BYTES);
  if (!bytes) throw bundleInvalid(MANIFEST, 'cannot read the model manifest (ENOENT)');
  if (recorded) {
    verifyDigest(MANIFEST, bytes, recorded, 'CURRENT');
  } else {
    const sidecar = await readRegular(dir, `${MANIFEST}.sha256`, 1024);
    if (sidecar) {
      const sha256 = sidecar.toString('utf8').trim().split(/\s+/)[0] ?? '';
      verifyDigest(MANIFEST, bytes, { bytes: bytes.byteLength, sha256 }, `${MANIFEST}.sha256`);
    } else if (!options.acceptUndigestedManifest) {
      throw bundleInvalid(
        MANIFEST,
        'no digest covers it (a flat directory from an older seqrec, without CURRENT or model.json.sha256): ' +
          're-export it with `seqrec export --model DIR --out DIR`',
      );
    }
  }
  return { bytes, digest: digestOf(bytes).sha256 };
}

async function readManifest(dir: string, recorded: FileDigest | null, options: LoadOptions): Promise<{ manifest: ModelManifest; digest: string }> {
  const { bytes, digest } = await readManifestBytes(dir, recorded, options);
  return { manifest: parseManifest(bytes.toString('utf8')), digest };
}

/**
 * Checks every file `files` lists in `dir` against its digest (large ones streamed); returns
 * the small ones' bytes. Every listed file is checked, whether or not the caller reads it.
 */
export async function verifyListedFiles(dir: string, files: Record<string, FileDigest>, skip: readonly string[] = []): Promise<Map<string, Buffer>> {
  const small = new Map<string, Buffer>();
  for (const name of Object.keys(files).filter((n) => !skip.includes(n))) {
    const big = files[name].bytes > 64 * 2 ** 20;
    const got = big ? await digestRegular(dir, name) : await readRegular(dir, name, MAX_JSON_BYTES);
    if (!got) throw bundleInvalid(name, `missing, but model.json lists it`);
    verifyDigest(name, got, files[name]);
    if (got instanceof Buffer) small.set(name, got);
  }
  return small;
}

/** Loads a model saved by `saveModel` (or a bundle: a bundle is a checkpoint plus files). */
export async function loadModel(dir: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const where = await resolveModelDir(dir);
  const { manifest, digest } = await readManifest(where.dir, where.manifest, options);
  const values = checkManifestSizes(manifest);
  const bytes = await readRegular(where.dir, 'weights.bin');
  if (!bytes) throw bundleInvalid('weights.bin', 'cannot read the weights (ENOENT)');
  if (bytes.byteLength !== values * 4) {
    throw bundleInvalid('weights.bin', `${bytes.byteLength} bytes, but model.json describes ${values} float32 values (${values * 4} bytes)`);
  }
  verifyDigest('weights.bin', bytes, manifest.files['weights.bin']);
  // Every other file the manifest lists is checked too, whether or not this load reads it.
  const small = await verifyListedFiles(where.dir, manifest.files, ['weights.bin']);
  if (!manifest.files['vocabulary.json'] && (await readRegular(where.dir, 'vocabulary.json', MAX_JSON_BYTES))) {
    throw bundleInvalid('vocabulary.json', 'not covered by a digest in model.json');
  }

  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  let model: BaseRecaller;
  try {
    model = buildModel(manifest.model, manifest.config);
  } catch (err) {
    if (err instanceof SeqrecError) throw bundleInvalid(MANIFEST, err.message.replace(/^Unknown model/, 'model: unknown model'), err.field);
    throw err;
  }
  try {
    const own = model.namedWeights();
    if (own.length !== manifest.weights.length) {
      throw bundleInvalid(MANIFEST, `weights: ${manifest.weights.length} entries, the ${model.name} model has ${own.length} weights`, 'weights');
    }
    own.forEach(({ name, variable }, i) => {
      const w = manifest.weights[i];
      if (w.name !== name)
        throw bundleInvalid(MANIFEST, `weights[${i}].name is '${w.name}', the ${model.name} model stores '${name}' there`, `weights[${i}].name`);
      if (w.shape.join(',') !== variable.shape.join(',')) {
        throw bundleInvalid(
          MANIFEST,
          `weights[${i}].shape is [${w.shape}], the ${model.name} model expects [${variable.shape}] for '${name}'`,
          `weights[${i}].shape`,
        );
      }
    });
    const values = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const w of manifest.weights) values.set(w.name, { shape: w.shape, data: floats.subarray(w.offset, w.offset + w.shape.reduce((a, b) => a * b, 1)) });
    model.setNamedWeights(values);

    attachItemFeatures(model, small.get(ITEM_FEATURES_FILE), manifest.files[ITEM_FEATURES_FILE] !== undefined);
    let vocabulary: ItemVocabulary | null = null;
    const vocabBytes = small.get('vocabulary.json');
    if (vocabBytes) {
      vocabulary = parseVocabularyFile(vocabBytes);
      if (vocabulary.size !== model.itemCount) {
        throw bundleInvalid('vocabulary.json', `vocabulary has ${vocabulary.size} entries (with padding) but the model has ${model.itemCount} item rows`);
      }
    }
    return {
      model,
      vocabulary,
      meta: manifest.meta ?? {},
      files: manifest.files,
      bundle: manifest.bundle ?? null,
      root: where.root,
      dir: where.dir,
      version: where.version,
      digest,
    };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/** vocabulary.json's bytes as a vocabulary, checked (`bundle_invalid` naming the file). */
/** A bundle export's vocabulary argument: an ItemVocabulary with one entry per item row. `fn` names the caller in the error. */
export function checkExportVocabulary(fn: string, vocabulary: ItemVocabulary | undefined, itemCount: number): asserts vocabulary is ItemVocabulary {
  if (!vocabulary || typeof vocabulary.encode !== 'function') {
    throw new SeqrecError('invalid_argument', `${fn}: options.vocabulary (an ItemVocabulary) is required`, { field: 'vocabulary' });
  }
  if (vocabulary.size !== itemCount) {
    throw new SeqrecError('shape_mismatch', `${fn}: the vocabulary has ${vocabulary.size} entries (with padding) but the model has ${itemCount} item rows`, {
      field: 'vocabulary',
    });
  }
}

export function parseVocabularyFile(bytes: Buffer): ItemVocabulary {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw bundleInvalid('vocabulary.json', 'not valid JSON');
  }
  let vocabulary: ItemVocabulary;
  try {
    vocabulary = ItemVocabulary.fromJSON(json);
  } catch (err) {
    if (err instanceof SeqrecError) throw bundleInvalid('vocabulary.json', err.message);
    throw err;
  }
  // fromJSON reads the fields it needs; the file must also have no others.
  checkSchema(VocabularyFileSchema, json, 'vocabulary.json');
  return vocabulary;
}

/** Reads a small file of a loaded model's version (history.json), or null when absent. */
export async function readModelFile(loaded: Pick<LoadedModel, 'dir' | 'files'>, name: string): Promise<Buffer | null> {
  const bytes = await readRegular(loaded.dir, name, MAX_JSON_BYTES);
  if (bytes) verifyDigest(name, bytes, loaded.files[name]);
  return bytes;
}

/** @internal for tests and tools: the path of a version file (never for error messages). */
export function versionFile(loaded: Pick<LoadedModel, 'dir'>, name: string): string {
  return join(loaded.dir, name);
}
