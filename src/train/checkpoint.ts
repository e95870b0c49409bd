/**
 * Saving and loading a trained model as a directory, without tfjs-node:
 *
 *   model.json       {format: 'seqrec-model', version, model, config, weights: [{name, shape, offset}]}
 *   weights.bin      every weight as little-endian float32, concatenated in manifest order
 *   vocabulary.json  the item vocabulary (raw id <-> index), when given
 *
 * Loading checks the format tag, version, sizes and shapes and names the file at fault.
 * Since seqrec 0.1, model.json also records each data file's size and SHA-256 (`files`),
 * checked on load when present (older checkpoints without it still load), and may carry a
 * `bundle` section: a serving bundle (src/serve/bundle.ts) is a checkpoint plus a few files,
 * not a second format.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ItemVocabulary } from '../data/vocabulary.js';
import { SeqrecError } from '../errors.js';
import type { BaseRecaller } from '../models/base.js';
import { createModel } from '../models/registry.js';

export const CHECKPOINT_FORMAT = 'seqrec-model';
export const CHECKPOINT_VERSION = 1;

interface WeightEntry {
  name: string;
  shape: number[];
  /** Offset in float32 elements. */
  offset: number;
}

interface ModelManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  model: string;
  config: Record<string, unknown>;
  weights: WeightEntry[];
  /** Free-form facts about the run (metrics, dataset), for people reading the file. */
  meta?: Record<string, unknown>;
  /** Size and SHA-256 of each data file (weights.bin, vocabulary.json); absent in older checkpoints. */
  files?: Record<string, FileDigest>;
  /** Serving-bundle section (src/serve/bundle.ts); absent in plain checkpoints. */
  bundle?: Record<string, unknown>;
}

/** Size and SHA-256 (hex) of a file's bytes. */
export interface FileDigest {
  bytes: number;
  sha256: string;
}

export function digestOf(bytes: Uint8Array): FileDigest {
  return { bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** Throws `bundle_invalid` naming `path` when `bytes` do not match the recorded digest. */
export function verifyDigest(path: string, bytes: Uint8Array, expected: FileDigest | undefined): void {
  if (!expected) return;
  const got = digestOf(bytes);
  if (got.bytes !== expected.bytes || got.sha256 !== expected.sha256) {
    throw new SeqrecError(
      'bundle_invalid',
      `${path}: contents do not match model.json (${got.bytes} bytes, sha256 ${got.sha256.slice(0, 12)}…; ` +
        `expected ${expected.bytes} bytes, sha256 ${String(expected.sha256).slice(0, 12)}…): the file is corrupt or from another model`,
      { file: path },
    );
  }
}

export interface SaveOptions {
  vocabulary?: ItemVocabulary;
  meta?: Record<string, unknown>;
  /** Extra data-file digests to record in `files` (files the caller writes itself). */
  files?: Record<string, FileDigest>;
  /** The serving-bundle section (written by `exportBundle`). */
  bundle?: Record<string, unknown>;
}

/** Writes `model` (and the vocabulary) to `dir`, creating it if needed. */
export async function saveModel(model: BaseRecaller, dir: string, options: SaveOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
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
  const files: Record<string, FileDigest> = { 'weights.bin': digestOf(weightBytes) };
  await writeFile(join(dir, 'weights.bin'), weightBytes);
  if (options.vocabulary) {
    const vocabBytes = Buffer.from(JSON.stringify(options.vocabulary.toJSON()));
    files['vocabulary.json'] = digestOf(vocabBytes);
    await writeFile(join(dir, 'vocabulary.json'), vocabBytes);
  }
  const manifest: ModelManifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    model: model.name,
    config: model.getConfig() as Record<string, unknown>,
    weights: entries,
    meta: options.meta,
    files: { ...files, ...options.files },
    ...(options.bundle ? { bundle: options.bundle } : {}),
  };
  // model.json last: a directory with a model.json is complete.
  await writeFile(join(dir, 'model.json'), JSON.stringify(manifest, null, 2));
}

export interface LoadedModel {
  model: BaseRecaller;
  vocabulary: ItemVocabulary | null;
  meta: Record<string, unknown>;
  /** Recorded data-file digests (empty for checkpoints written before they were recorded). */
  files: Record<string, FileDigest>;
  /** The serving-bundle section of model.json, when the directory is a bundle. */
  bundle: Record<string, unknown> | null;
}

async function readOrThrow(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SeqrecError('bundle_invalid', `${path}: cannot read the ${what} (${code ?? (err as Error).message})`, { file: path });
  }
}

function parseManifest(text: string, path: string): ModelManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SeqrecError('bundle_invalid', `${path}: not valid JSON (${(err as Error).message})`, { file: path });
  }
  const m = json as Partial<ModelManifest>;
  const fail = (why: string) => {
    throw new SeqrecError('bundle_invalid', `${path}: ${why}`, { file: path });
  };
  if (!m || typeof m !== 'object') fail('expected a JSON object');
  if (m.format !== CHECKPOINT_FORMAT) fail(`format is '${String(m.format)}', expected '${CHECKPOINT_FORMAT}'`);
  if (m.version !== CHECKPOINT_VERSION) fail(`version ${String(m.version)} is not supported (this seqrec reads version ${CHECKPOINT_VERSION})`);
  if (typeof m.model !== 'string') fail('field "model" must be a string');
  if (!m.config || typeof m.config !== 'object') fail('field "config" must be an object');
  if (!Array.isArray(m.weights)) fail('field "weights" must be an array');
  for (const w of m.weights!) {
    if (typeof w?.name !== 'string' || !Array.isArray(w.shape) || !Number.isInteger(w.offset)) fail(`bad weight entry ${JSON.stringify(w)}`);
  }
  if (m.files !== undefined) {
    if (!m.files || typeof m.files !== 'object' || Array.isArray(m.files)) fail('field "files" must be an object');
    for (const [name, d] of Object.entries(m.files!)) {
      if (!d || !Number.isInteger(d.bytes) || typeof d.sha256 !== 'string') fail(`bad digest for "${name}" in "files": ${JSON.stringify(d)}`);
    }
  }
  if (m.bundle !== undefined && (!m.bundle || typeof m.bundle !== 'object' || Array.isArray(m.bundle))) fail('field "bundle" must be an object');
  return m as ModelManifest;
}

/** Loads a model saved by `saveModel`. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const manifestPath = join(dir, 'model.json');
  const manifest = parseManifest((await readOrThrow(manifestPath, 'model manifest')).toString('utf8'), manifestPath);
  const weightsPath = join(dir, 'weights.bin');
  const bytes = await readOrThrow(weightsPath, 'weights');
  const expected = manifest.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
  if (bytes.byteLength !== expected * 4) {
    throw new SeqrecError(
      'bundle_invalid',
      `${weightsPath}: ${bytes.byteLength} bytes, but model.json describes ${expected} float32 values (${expected * 4} bytes)`,
      { file: weightsPath },
    );
  }
  verifyDigest(weightsPath, bytes, manifest.files?.['weights.bin']);
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const model = createModel(manifest.model, manifest.config as { itemCount: number });
  const values = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const w of manifest.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    values.set(w.name, { shape: w.shape, data: floats.subarray(w.offset, w.offset + n) });
  }
  try {
    model.setNamedWeights(values);
  } catch (err) {
    model.dispose();
    if (err instanceof SeqrecError) throw new SeqrecError('bundle_invalid', `${manifestPath}: ${err.message}`, { file: manifestPath });
    throw err;
  }
  let vocabulary: ItemVocabulary | null = null;
  const vocabPath = join(dir, 'vocabulary.json');
  const vocabBytes = await readFile(vocabPath).catch(() => null);
  if (!vocabBytes && manifest.files?.['vocabulary.json']) {
    model.dispose();
    throw new SeqrecError('bundle_invalid', `${vocabPath}: missing, but model.json lists it`, { file: vocabPath });
  }
  if (vocabBytes) {
    try {
      verifyDigest(vocabPath, vocabBytes, manifest.files?.['vocabulary.json']);
    } catch (err) {
      model.dispose();
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(vocabBytes.toString('utf8'));
    } catch (err) {
      model.dispose();
      throw new SeqrecError('bundle_invalid', `${vocabPath}: not valid JSON (${(err as Error).message})`, { file: vocabPath });
    }
    try {
      vocabulary = ItemVocabulary.fromJSON(json);
    } catch (err) {
      model.dispose();
      if (err instanceof SeqrecError) throw new SeqrecError('bundle_invalid', `${vocabPath}: ${err.message}`, { file: vocabPath });
      throw err;
    }
    if (vocabulary.size !== model.itemCount) {
      model.dispose();
      throw new SeqrecError(
        'bundle_invalid',
        `${vocabPath}: vocabulary has ${vocabulary.size} entries (with padding) but the model has ${model.itemCount} item rows`,
        { file: vocabPath },
      );
    }
  }
  return { model, vocabulary, meta: manifest.meta ?? {}, files: manifest.files ?? {}, bundle: manifest.bundle ?? null };
}
