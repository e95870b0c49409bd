/**
 * Reads the JSON that the PyTorch peer (shared/peer-torch, `python3 -m peer_torch export`)
 * writes: its re-indexed sequences (items 1..N, 0 = padding) and its ComiRec user split, so
 * seqrec and the peer train and test on identical data.
 */
import { readFile } from 'node:fs/promises';
import { SeqrecError } from '../errors.js';
import { SequenceDataset, type SequenceDatasetOptions } from './dataset.js';
import { ItemVocabulary } from './vocabulary.js';

interface PeerExport {
  n_items: number;
  item_ids: (string | number)[];
  user_ids: (string | number)[];
  sequences: number[][];
  comirec_split: { train: number[]; valid: number[]; test: number[] };
}

export async function loadPeerExport(path: string, options: SequenceDatasetOptions = {}): Promise<SequenceDataset> {
  let doc: PeerExport;
  try {
    doc = JSON.parse(await readFile(path, 'utf8')) as PeerExport;
  } catch (err) {
    throw new SeqrecError('data_parse', `${path}: cannot read the peer export (${(err as Error).message})`, { file: path });
  }
  const fail = (why: string) => {
    throw new SeqrecError('data_parse', `${path}: ${why}`, { file: path });
  };
  if (!Array.isArray(doc.item_ids) || !Array.isArray(doc.sequences) || !doc.comirec_split) fail('expected item_ids, sequences and comirec_split');
  if (doc.item_ids.length !== doc.n_items) fail(`n_items ${doc.n_items} but ${doc.item_ids.length} item_ids`);
  const vocabulary = ItemVocabulary.fromItems(doc.item_ids.map(String));
  const sequences = doc.sequences.map((s) => Int32Array.from(s));
  const userSplit = options.protocol === 'loo' ? undefined : doc.comirec_split;
  return SequenceDataset.fromEncoded(sequences, vocabulary, { ...options, userSplit });
}
