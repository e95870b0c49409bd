/**
 * Bundles of the neighbourhood models (ItemKNN, SessionKNN): no weights and no embeddings, so
 * not a checkpoint, but the same directory layout, atomic versions and integrity checks
 * (src/bundle/atomic-dir.ts; CURRENT records model.json's SHA-256, model.json every file's):
 *
 *   model.json            {format: 'seqrec-ranker', version: 1, model: 'itemknn' | 'sknn', config,
 *                          itemCount, createdAt, state: {file, layout}, popularity: {file, source},
 *                          recentPopularity?: {file, source}, meta?, files: {name: {bytes, sha256}}}
 *   ranker.bin            the fitted state as typed arrays (ItemKNN: offsets, ids, sims, fill;
 *                          SessionKNN: offsets, items, fill), laid out as `state.layout` says
 *   vocabulary.json       raw item id <-> index
 *   popularity.json       training counts (the fallback of an empty or all-unknown history)
 *   recent-popularity.json optional, as in an embedding bundle
 *
 * `loadModel` refuses such a directory with a message saying what it is; `Recommender.load`
 * reads both kinds (`bundleKind`).
 */
import { join } from 'node:path';
import { z } from 'zod';
import type { ItemVocabulary } from '../data/vocabulary.js';
import { SeqrecError } from '../errors.js';
import { ItemKNN } from '../models/knn/item-knn.js';
import { SessionKNN } from '../models/knn/session-knn.js';
import { arrayOf, ArrayLayoutSchema, packArrays, unpackArrays } from './arrays-file.js';
import { digestOf, FileDigestSchema, FILE_NAME_RE, resolveModelDir, saveVersion, writeDurable, type FileDigest } from './atomic-dir.js';
import { checkExportVocabulary, parseVocabularyFile, readManifestBytes, readModelFile, verifyListedFiles } from './checkpoint.js';
import { parsePopularity, popularityDocument } from './cold-start.js';
import { coldStartFiles, coldStartNames, readColdStartFiles } from './cold-start-files.js';
import { bundleInvalid, checkSchema, parseJsonFile } from './file-schema.js';
import { RANKER_FORMAT } from './manifest.js';

export { RANKER_FORMAT } from './manifest.js';
export const RANKER_VERSION = 1;

/** A neighbourhood model a bundle can hold. */
export type NeighbourhoodModel = ItemKNN | SessionKNN;

const MANIFEST = 'model.json';
const STATE_FILE = 'ranker.bin';
const FileName = z.string().regex(FILE_NAME_RE, 'expected a plain file name inside the bundle (no "/", "..", or leading dot)');
const Source = z.strictObject({ file: FileName, source: z.string().max(4096) });
const JsonObject = z.custom<Record<string, unknown>>((v) => v !== null && typeof v === 'object' && !Array.isArray(v), 'expected an object');

const RankerManifestSchema = z.strictObject({
  format: z.literal(RANKER_FORMAT),
  version: z.literal(RANKER_VERSION),
  model: z.enum(['itemknn', 'sknn']),
  /** Checked by the model's own config schema. */
  config: JsonObject,
  itemCount: z
    .number()
    .int()
    .min(2)
    .max(2 ** 26),
  createdAt: z.string().max(64),
  state: z.strictObject({ file: FileName, layout: ArrayLayoutSchema }),
  popularity: Source,
  recentPopularity: Source.optional(),
  meta: JsonObject.optional(),
  files: z.record(FileName, FileDigestSchema),
});
export type RankerManifest = z.infer<typeof RankerManifestSchema>;

export interface ExportRankerOptions {
  vocabulary: ItemVocabulary;
  /** Training counts per item index (length itemCount), for the popularity fallback. */
  popularity: ArrayLike<number>;
  popularitySource?: string;
  /** Counts over the recent training data, for the 'recent-popularity' fallback. */
  recentPopularity?: { counts: ArrayLike<number>; source: string };
  meta?: Record<string, unknown>;
  /** As `exportBundle`: 'replace' (default) writes a new version, 'error' refuses a directory holding a model. */
  existing?: 'replace' | 'error';
}

export interface LoadedRankerBundle {
  dir: string;
  versionDir: string;
  version: string | null;
  model: NeighbourhoodModel;
  vocabulary: ItemVocabulary;
  popularity: Float64Array;
  recentPopularity: Float64Array | null;
  manifest: RankerManifest;
  meta: Record<string, unknown>;
  /** SHA-256 of the version's model.json. */
  digest: string;
}

/** Writes a bundle of a fitted ItemKNN or SessionKNN to `dir` as a new version. Returns the manifest. */
export async function exportRankerBundle(model: NeighbourhoodModel, dir: string, options: ExportRankerOptions): Promise<RankerManifest> {
  if (!(model instanceof ItemKNN) && !(model instanceof SessionKNN)) {
    throw new SeqrecError('invalid_argument', 'exportRankerBundle: model must be a fitted ItemKNN or SessionKNN', { field: 'model' });
  }
  const { vocabulary } = options ?? {};
  checkExportVocabulary('exportRankerBundle', vocabulary, model.itemCount);
  const source = options.popularitySource ?? 'training data';
  const popularityBytes = Buffer.from(popularityDocument(options.popularity, model.itemCount, source));
  const extras = coldStartFiles({ recentPopularity: options.recentPopularity }, model.itemCount);
  const { bytes: stateBytes, layout } = packArrays({ ...model.state() });
  let written: RankerManifest | undefined;
  await saveVersion(
    dir,
    async (tmp) => {
      const files: Record<string, FileDigest> = {};
      const write = async (name: string, bytes: Uint8Array) => {
        files[name] = digestOf(bytes);
        await writeDurable(join(tmp, name), bytes);
      };
      await write(STATE_FILE, stateBytes);
      await write('vocabulary.json', Buffer.from(JSON.stringify(vocabulary.toJSON())));
      await write('popularity.json', popularityBytes);
      for (const [name, bytes] of extras.files) await write(name, bytes);
      written = {
        format: RANKER_FORMAT,
        version: RANKER_VERSION,
        model: model.name,
        config: { ...model.config },
        itemCount: model.itemCount,
        createdAt: new Date().toISOString(),
        state: { file: STATE_FILE, layout },
        popularity: { file: 'popularity.json', source },
        ...(extras.section.recentPopularity ? { recentPopularity: extras.section.recentPopularity } : {}),
        ...(options.meta ? { meta: options.meta } : {}),
        files,
      };
      const text = Buffer.from(JSON.stringify(written, null, 2));
      await writeDurable(join(tmp, MANIFEST), text);
      return digestOf(text);
    },
    { replace: options.existing === 'error' ? 'refuse' : 'allow' },
  );
  return written!;
}

/** Whether `dir` holds an embedding-model bundle or a neighbourhood-model bundle (reads model.json's format only). */
export async function bundleKind(dir: string): Promise<'embedding' | 'ranker'> {
  const where = await resolveModelDir(dir);
  const { bytes } = await readManifestBytes(where.dir, where.manifest);
  const json = parseJsonFile(bytes, MANIFEST) as { format?: unknown } | null;
  return json !== null && typeof json === 'object' && json.format === RANKER_FORMAT ? 'ranker' : 'embedding';
}

function modelOf(m: RankerManifest, arrays: Map<string, Int32Array | Float32Array | Uint8Array>): NeighbourhoodModel {
  const file = m.state.file;
  try {
    if (m.model === 'itemknn') {
      const state = {
        offsets: arrayOf(arrays, 'offsets', 'int32', file),
        ids: arrayOf(arrays, 'ids', 'int32', file),
        sims: arrayOf(arrays, 'sims', 'float32', file),
        fill: arrayOf(arrays, 'fill', 'int32', file),
      };
      return ItemKNN.fromState(m.itemCount, m.config, state);
    }
    const state = {
      offsets: arrayOf(arrays, 'offsets', 'int32', file),
      items: arrayOf(arrays, 'items', 'int32', file),
      fill: arrayOf(arrays, 'fill', 'int32', file),
    };
    return SessionKNN.fromState(m.itemCount, m.config, state);
  } catch (err) {
    if (err instanceof SeqrecError && err.code !== 'bundle_invalid') {
      const config = err.code === 'invalid_config';
      throw bundleInvalid(config ? MANIFEST : file, err.message.replace(/^neighbourhood state: /, ''), config ? `config.${err.field ?? ''}` : err.field);
    }
    throw err;
  }
}

/** Reads and checks a bundle written by `exportRankerBundle`: every file's digest, the state against the item count. */
export async function loadRankerBundle(dir: string): Promise<LoadedRankerBundle> {
  const where = await resolveModelDir(dir);
  const { bytes, digest } = await readManifestBytes(where.dir, where.manifest);
  const json = parseJsonFile(bytes, MANIFEST) as { format?: unknown } | null;
  if (json === null || typeof json !== 'object' || json.format !== RANKER_FORMAT) {
    throw bundleInvalid(MANIFEST, `format is not '${RANKER_FORMAT}' (an embedding-model bundle is read by loadBundle)`, 'format');
  }
  const manifest = checkSchema(RankerManifestSchema, json, MANIFEST);
  const small = await verifyListedFiles(where.dir, manifest.files);
  const own = [manifest.state.file, 'vocabulary.json', manifest.popularity.file, ...coldStartNames(manifest)];
  for (const name of own) if (!manifest.files[name]) throw bundleInvalid(name, 'not covered by a digest in model.json');
  const loaded = { dir: where.dir, files: manifest.files };
  const read = async (name: string): Promise<Buffer> => {
    const got = small.get(name) ?? (await readModelFile(loaded, name));
    if (!got) throw bundleInvalid(name, 'cannot read it (ENOENT)');
    return got;
  };
  const model = modelOf(manifest, unpackArrays(await read(manifest.state.file), manifest.state.layout, manifest.state.file));
  const vocabulary = parseVocabularyFile(await read('vocabulary.json'));
  if (vocabulary.size !== manifest.itemCount) {
    throw bundleInvalid('vocabulary.json', `vocabulary has ${vocabulary.size} entries (with padding) but the model has ${manifest.itemCount} item rows`);
  }
  const popName = manifest.popularity.file;
  const popularity = parsePopularity(await read(popName), popName, manifest.itemCount);
  const { recentPopularity } = await readColdStartFiles(loaded, manifest, manifest.itemCount);
  return {
    dir: where.root,
    versionDir: where.dir,
    version: where.version,
    model,
    vocabulary,
    popularity,
    recentPopularity,
    manifest,
    meta: manifest.meta ?? {},
    digest,
  };
}
