/**
 * `seqrec embed --model DIR --out users.parquet|users.jsonl [--items-out FILE] [--data FILE ...]`:
 * writes every user's vector and every item's vector.
 */
import { loadModel } from '../../bundle/checkpoint.js';
import type { SequenceDataset } from '../../data/dataset.js';
import type { ItemVocabulary } from '../../data/vocabulary.js';
import { windowBatch } from '../../data/windows.js';
import { SeqrecError } from '../../errors.js';
import type { BaseRecaller } from '../../models/base.js';
import { itemMatrix, userMatrix } from '../../train/evaluate.js';
import { defineCommand, type Log } from '../command.js';
import { buildDataset, dataSettings, type DataSettings } from '../dataset.js';
import { embeddingFormat, itemsPathFor, openEmbeddingFile, type EmbeddingWriter } from '../embedding-files.js';
import { int, str, type FlagValues } from '../flags.js';
import { cliProgress } from '../progress.js';
import { BACKEND_FLAGS, OPTIONAL_DATA_FLAGS } from '../shared-flags.js';

const EMBED_FLAGS = {
  model: str('bundle or checkpoint directory', { required: true, placeholder: 'dir' }),
  out: str('users file to write: .parquet or .jsonl', { required: true, placeholder: 'file' }),
  itemsOut: str('items file to write (default: the users file with .items before its extension)', { placeholder: 'file' }),
  ...OPTIONAL_DATA_FLAGS,
  batch: int('users per model call', { min: 1, default: 256 }),
  ...BACKEND_FLAGS,
} as const;

type EmbedValues = FlagValues<typeof EMBED_FLAGS>;

export const embedCommand = defineCommand({
  name: 'embed',
  summary: "write every user's vector (all K interests) and every item's vector to Parquet or JSON lines",
  usage: '--model DIR --out users.parquet|users.jsonl [flags]',
  notes:
    "\nOne row per user: 'user' (raw id) and 'vector', K*D floats, interest-major (interest k is\n" +
    "vector[k*D .. (k+1)*D)), exactly Recommender.userEmbedding of the user's whole history. Items go\n" +
    "to --items-out (default users.items.parquet next to users.parquet): 'item' and 'vector' (D floats).\n" +
    'Parquet files record seqrec.interests and seqrec.dim in their key-value metadata. Without --data,\n' +
    'the data settings recorded by seqrec train are used. Users with no item the model knows are counted\n' +
    'and left out.',
  flags: EMBED_FLAGS,
  backend: true,
  run: runEmbed,
});

/** Dataset item index -> model item index (0: the model does not know it). */
function itemRemap(from: ItemVocabulary, to: ItemVocabulary): Int32Array {
  const remap = new Int32Array(from.size);
  from.items().forEach((id, i) => (remap[i + 1] = to.encode(id) ?? 0));
  return remap;
}

/**
 * The model indices of a user's known items, last `maxLen` only: `Recommender.userEmbedding`
 * skips unknown ids and then windows the last `maxLen`, so this is the same window.
 */
function knownWindow(seq: Int32Array, remap: Int32Array, maxLen: number): number[] {
  const out: number[] = [];
  for (let i = seq.length - 1; i >= 0 && out.length < maxLen; i--) {
    const m = remap[seq[i]];
    if (m !== 0) out.push(m);
  }
  return out.reverse();
}

async function writeUsers(model: BaseRecaller, dataset: SequenceDataset, remap: Int32Array, writer: EmbeddingWriter, batch: number): Promise<number> {
  const ids = dataset.userIds!;
  const task = cliProgress().task('embedding users', dataset.numUsers, 'users');
  let skipped = 0;
  try {
    for (let start = 0; start < dataset.numUsers; start += batch) {
      const end = Math.min(dataset.numUsers, start + batch);
      const rows: number[][] = [];
      const rowIds: string[] = [];
      for (let u = start; u < end; u++) {
        const window = knownWindow(dataset.sequence(u), remap, model.maxLen);
        if (window.length === 0) skipped++;
        else {
          rows.push(window);
          rowIds.push(ids[u]);
        }
      }
      if (rows.length > 0) await writer.write(rowIds, userMatrix(model, windowBatch(rows, model.maxLen)));
      task.update(end);
    }
  } finally {
    task.finish();
  }
  return skipped;
}

async function writeItems(model: BaseRecaller, vocabulary: ItemVocabulary, writer: EmbeddingWriter): Promise<void> {
  const d = model.embeddingDim;
  // Row 0 is padding, not an item.
  const matrix = itemMatrix(model).subarray(d);
  const ids = vocabulary.items();
  const step = 8192;
  for (let start = 0; start < ids.length; start += step) {
    const end = Math.min(ids.length, start + step);
    await writer.write(ids.slice(start, end), matrix.subarray(start * d, end * d));
  }
}

async function runEmbed(flags: EmbedValues, log: Log): Promise<void> {
  const usersPath = flags.out;
  const itemsPath = flags.itemsOut ?? itemsPathFor(usersPath);
  // Both names are checked before the model or any data is read.
  const usersFormat = embeddingFormat(usersPath, 'out');
  const itemsFormat = embeddingFormat(itemsPath, 'items-out');
  if (itemsPath === usersPath) throw new SeqrecError('invalid_argument', `--items-out must differ from --out (both ${usersPath})`, { field: 'items-out' });
  const loaded = await loadModel(flags.model);
  const { model, vocabulary } = loaded;
  try {
    if (!vocabulary)
      throw new SeqrecError('bundle_invalid', `${flags.model} has no vocabulary.json: embed writes raw ids, so it needs the vocabulary`, { file: flags.model });
    const saved = loaded.meta.settings as DataSettings | undefined;
    const data = flags.data;
    if (data === undefined && !saved) {
      throw new SeqrecError('invalid_argument', `${flags.model} records no data settings; pass --data FILE (and the data flags used in training)`, {
        field: 'data',
      });
    }
    const settings = data !== undefined ? dataSettings({ ...flags, data }) : saved!;
    const dataset = await buildDataset(settings, log, { skipMalformed: flags.skipMalformed, engine: flags.engine });
    const remap = itemRemap(dataset.vocabulary, vocabulary);
    const K = model.numInterests;
    const D = model.embeddingDim;
    const metadata = { 'seqrec.model': model.name, 'seqrec.interests': String(K), 'seqrec.dim': String(D), 'seqrec.layout': 'interest-major' };
    const users = await openEmbeddingFile(usersPath, usersFormat, { idColumn: 'user', width: K * D, metadata });
    const items = await openEmbeddingFile(itemsPath, itemsFormat, { idColumn: 'item', width: D, metadata: { ...metadata, 'seqrec.interests': '1' } });
    let skipped: number;
    try {
      skipped = await writeUsers(model, dataset, remap, users, flags.batch);
      await writeItems(model, vocabulary, items);
      await users.finish();
      await items.finish();
    } catch (e) {
      await Promise.all([users.abort(), items.abort()]);
      throw e;
    }
    if (skipped > 0) log(`${skipped} users have no item the model knows: left out`);
    log(`wrote ${users.rows} users (${K} x ${D} floats each) to ${usersPath} and ${items.rows} items (${D} floats) to ${itemsPath}`);
  } finally {
    model.dispose();
  }
}
