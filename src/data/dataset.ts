/**
 * `SequenceDataset`: encoded user sequences plus an evaluation protocol, producing training
 * and evaluation batches as flat typed arrays (never tensors: no TF.js here).
 */
import { SeqrecError, assertInteger } from '../errors.js';
import { resolveDatasetOptions, type ResolvedSequenceDatasetOptions, type SequenceDatasetOptions } from './dataset-options.js';
import { Random } from '../util/random.js';
import { historyCut, splitUsers } from './split.js';
import type { EvalBatch, InteractionLog, TrainBatch } from './types.js';
import { ItemVocabulary } from './vocabulary.js';
import { allocBatch, epochSeed, fillWindow } from './windows.js';

export type { ResolvedSequenceDatasetOptions, SequenceDatasetOptions } from './dataset-options.js';

export interface DatasetDescription {
  protocol: 'comirec' | 'loo';
  users: number;
  /** Real items (padding not counted). */
  items: number;
  interactions: number;
  trainUsers: number;
  validUsers: number;
  testUsers: number;
  trainSamplesPerEpoch: number;
  avgLength: number;
  /** Users that would be evaluated but are too short (comirec: < 2 items in valid/test; loo: < 3 items). */
  excludedFromEval: number;
  /** Users in no train, valid or test list at all (too short for anything). */
  unusedUsers: number;
}

/**
 * Protocols:
 * - `'comirec'`: users are split (splitUsers, `splitSeed`). A train sample with target
 *   position k has history `seq[max(0,k-maxLen) .. k)`. An evaluated user's history is the
 *   last maxLen items of `seq[0 .. historyCut(len, evalRatio))` and the targets are all the
 *   rest. Users with fewer than 2 items are not evaluated (counted in `describe()`).
 * - `'loo'`: every user with >= 3 items is trained on targets 1..len-3, validated on
 *   position len-2 and tested on len-1. Following SASRec, users with fewer than 3 items are
 *   trained on their whole sequence and never evaluated.
 */
export class SequenceDataset {
  readonly vocabulary: ItemVocabulary;
  /** vocabulary.size: number of item indices including padding. */
  readonly itemCount: number;
  readonly maxLen: number;
  readonly numUsers: number;
  /** Users that give training samples (ascending). */
  readonly trainUsers: Int32Array;
  /** Users evaluated on 'valid' / 'test' (ascending; batches keep this order). */
  readonly validUsers: Int32Array;
  readonly testUsers: Int32Array;
  readonly options: ResolvedSequenceDatasetOptions;
  /** Raw user ids, when built from a log (user index i is `userIds[i]`). */
  readonly userIds: readonly string[] | undefined;

  private readonly flat: Int32Array;
  private readonly offsets: Int32Array;
  private readonly excludedFromEval: number;
  /** (user, position) of every training target, built on first use by 'every' sampling. */
  private everyTable: { users: Int32Array; positions: Int32Array } | undefined;

  private constructor(
    sequences: readonly Int32Array[],
    vocabulary: ItemVocabulary,
    options: ResolvedSequenceDatasetOptions,
    userIds: readonly string[] | undefined,
  ) {
    if (sequences.length === 0) {
      throw new SeqrecError(
        'data_empty',
        'SequenceDataset: dataset too small: no user sequences (a k-core filter such as --min-count may have removed every user)',
      );
    }
    this.vocabulary = vocabulary;
    this.itemCount = vocabulary.size;
    this.maxLen = options.maxLen;
    this.numUsers = sequences.length;
    this.options = options;
    this.userIds = userIds;

    // One flat copy: compact, and callers cannot change the data behind the dataset's back.
    this.offsets = new Int32Array(sequences.length + 1);
    sequences.forEach((s, u) => (this.offsets[u + 1] = this.offsets[u] + s.length));
    this.flat = new Int32Array(this.offsets[sequences.length]);
    sequences.forEach((s, u) => {
      for (let i = 0; i < s.length; i++) {
        const item = s[i];
        if (!(item >= 1 && item < this.itemCount)) {
          throw new SeqrecError('invalid_argument', `SequenceDataset: user ${u} position ${i} has item index ${item}, outside 1..${this.itemCount - 1}`, {
            field: 'sequences',
          });
        }
      }
      this.flat.set(s, this.offsets[u]);
    });

    const len = (u: number): number => this.offsets[u + 1] - this.offsets[u];
    const keep = (users: Int32Array, minLength: number): Int32Array => users.filter((u) => len(u) >= minLength);
    if (options.protocol === 'comirec') {
      const split = options.userSplit ?? splitUsers(this.numUsers, { ratios: options.splitRatios, seed: options.splitSeed });
      if (options.userSplit) this.checkUserSplit(options.userSplit);
      this.trainUsers = keep(split.train, 2);
      this.validUsers = keep(split.valid, 2);
      this.testUsers = keep(split.test, 2);
      this.excludedFromEval = split.valid.length - this.validUsers.length + split.test.length - this.testUsers.length;
    } else {
      const all = Int32Array.from({ length: this.numUsers }, (_, u) => u);
      this.trainUsers = all.filter((u) => this.trainRange(u)[1] > 1);
      this.validUsers = keep(all, 3);
      this.testUsers = this.validUsers.slice();
      this.excludedFromEval = this.numUsers - this.validUsers.length;
    }
  }

  private checkUserSplit(split: { train: Int32Array; valid: Int32Array; test: Int32Array }): void {
    const seen = new Uint8Array(this.numUsers);
    for (const [name, users] of Object.entries(split)) {
      for (const u of users) {
        if (!(u >= 0 && u < this.numUsers)) {
          throw new SeqrecError('invalid_config', `userSplit.${name}: user index ${u} is outside 0..${this.numUsers - 1}`, { field: 'userSplit' });
        }
        if (seen[u]++) throw new SeqrecError('invalid_config', `userSplit: user ${u} appears in more than one list`, { field: 'userSplit' });
      }
    }
  }

  /** Builds the vocabulary from the log (`vocabularyOrder`) and encodes every sequence. */
  static fromLog(log: InteractionLog, options: SequenceDatasetOptions = {}): SequenceDataset {
    const resolved = resolveDatasetOptions(options);
    const vocabulary = ItemVocabulary.build(log.sequences, { order: resolved.vocabularyOrder });
    const encoded = log.sequences.map((s) => vocabulary.encodeAll(s.items));
    return new SequenceDataset(
      encoded,
      vocabulary,
      resolved,
      log.sequences.map((s) => s.user),
    );
  }

  /**
   * The same users, sequences, options and split, encoded with `base` extended by the items
   * `base` lacks (in this dataset's index order): `base`'s ids keep their indices, so a model
   * trained with `base` can continue on this data (src/train/warm-start.ts).
   */
  withVocabulary(base: ItemVocabulary): SequenceDataset {
    const vocabulary = base.extendedWith(this.vocabulary.items());
    const remap = new Int32Array(this.vocabulary.size);
    this.vocabulary.items().forEach((id, i) => (remap[i + 1] = vocabulary.encode(id)!));
    const sequences = Array.from({ length: this.numUsers }, (_, u) => Int32Array.from(this.sequence(u), (item) => remap[item]));
    // The constructor takes resolved options as they are (the split is recomputed identically from them).
    return new SequenceDataset(sequences, vocabulary, this.options, this.userIds);
  }

  /**
   * Uses already encoded sequences (item indices 1..vocabulary.size-1); they are copied.
   * `userIds`, when given, names user i (one id per sequence).
   */
  static fromEncoded(sequences: Int32Array[], vocabulary: ItemVocabulary, options: SequenceDatasetOptions = {}, userIds?: readonly string[]): SequenceDataset {
    if (userIds !== undefined && userIds.length !== sequences.length) {
      throw new SeqrecError('invalid_argument', `SequenceDataset.fromEncoded: ${userIds.length} user ids for ${sequences.length} sequences`, {
        field: 'userIds',
      });
    }
    return new SequenceDataset(sequences, vocabulary, resolveDatasetOptions(options), userIds?.slice());
  }

  /** The same sequences, vocabulary and user ids under other options (e.g. another `samplesPerUser`). */
  withOptions(options: SequenceDatasetOptions): SequenceDataset {
    const sequences = Array.from({ length: this.numUsers }, (_, u) => this.sequence(u));
    return new SequenceDataset(sequences, this.vocabulary, resolveDatasetOptions(options), this.userIds);
  }

  /** A user's full encoded sequence. A view into the dataset's storage: do not modify it. */
  sequence(user: number): Int32Array {
    if (!Number.isInteger(user) || user < 0 || user >= this.numUsers) {
      throw new SeqrecError('invalid_argument', `user index ${user} is out of range 0..${this.numUsers - 1}`, { field: 'user' });
    }
    return this.flat.subarray(this.offsets[user], this.offsets[user + 1]);
  }

  /**
   * The part of a train user's sequence that training sees (comirec: all of it; loo: all but
   * the last two items, or all of a user with fewer than 3), as a view: do not modify it.
   */
  trainSequence(user: number): Int32Array {
    return this.sequence(user).subarray(0, this.trainRange(user)[1]);
  }

  /** [lo, hi): the training target positions of a user (empty when lo >= hi). */
  private trainRange(user: number): [number, number] {
    const len = this.offsets[user + 1] - this.offsets[user];
    if (this.options.protocol === 'loo' && len >= 3) return [1, len - 2];
    return [1, len];
  }

  /** The position a 'random' draw picks for `user`. */
  private drawPosition(user: number, rng: Random): number {
    const [lo, hi] = this.trainRange(user);
    const { protocol, minPrefix } = this.options;
    // ComiRec skips very short prefixes when the sequence is long enough to allow it.
    if (protocol === 'comirec' && hi > minPrefix) return rng.range(minPrefix, hi);
    return rng.range(lo, hi);
  }

  private every(): { users: Int32Array; positions: Int32Array } {
    if (!this.everyTable) {
      const n = this.trainSamplesPerEpoch();
      const users = new Int32Array(n);
      const positions = new Int32Array(n);
      let i = 0;
      for (const u of this.trainUsers) {
        const [lo, hi] = this.trainRange(u);
        for (let k = lo; k < hi; k++, i++) {
          users[i] = u;
          positions[i] = k;
        }
      }
      this.everyTable = { users, positions };
    }
    return this.everyTable;
  }

  trainSamplesPerEpoch(): number {
    if (this.options.sampling === 'random') return this.trainUsers.length * this.options.samplesPerUser;
    let n = 0;
    for (const u of this.trainUsers) {
      const [lo, hi] = this.trainRange(u);
      n += hi - lo;
    }
    return n;
  }

  /**
   * One epoch of training batches, in a random order drawn from `Random(hash(seed, epoch))`:
   * the same (seed, epoch) gives the same batches whether or not other epochs were read.
   * The last batch may be smaller than `batchSize`.
   */
  trainBatches(epoch: number, batchSize: number): Generator<TrainBatch> {
    // Checked here, not inside the generator, so bad arguments fail at the call.
    assertInteger(epoch, 'epoch', 0);
    assertInteger(batchSize, 'batchSize', 1);
    // The epoch's order is one Int32Array: 2^28 samples is 1 GiB of it already.
    const samples = this.trainSamplesPerEpoch();
    if (samples > 2 ** 28) {
      throw new SeqrecError(
        'invalid_argument',
        `${samples} training samples per epoch (${this.trainUsers.length} users x samplesPerUser ${this.options.samplesPerUser}) is more than 2^28; lower samplesPerUser`,
        { field: 'samplesPerUser' },
      );
    }
    return this.generateTrain(epoch, batchSize);
  }

  private *generateTrain(epoch: number, batchSize: number): Generator<TrainBatch> {
    const rng = new Random(epochSeed(this.options.seed, epoch));
    const random = this.options.sampling === 'random';
    const table = random ? undefined : this.every();
    let order: Int32Array;
    if (table) {
      order = rng.shuffle(Int32Array.from({ length: table.users.length }, (_, i) => i));
    } else {
      const { samplesPerUser } = this.options;
      order = new Int32Array(this.trainUsers.length * samplesPerUser);
      for (let i = 0; i < order.length; i++) order[i] = this.trainUsers[i % this.trainUsers.length];
      rng.shuffle(order);
    }
    for (let start = 0; start < order.length; start += batchSize) {
      const n = Math.min(batchSize, order.length - start);
      const batch: TrainBatch = { ...allocBatch(n, this.maxLen), targets: new Int32Array(n), users: new Int32Array(n) };
      for (let row = 0; row < n; row++) {
        const user = table ? table.users[order[start + row]] : order[start + row];
        // Positions are drawn in sample order, so they do not depend on batchSize.
        const k = table ? table.positions[order[start + row]] : this.drawPosition(user, rng);
        const seq = this.sequence(user);
        fillWindow(batch, row, seq, k);
        batch.targets[row] = seq[k];
        batch.users[row] = user;
      }
      yield batch;
    }
  }

  /**
   * One epoch of every-position training batches (the Trainer's `targets: 'every'`): one row
   * per train user, in a random order drawn from `Random(hash(seed, epoch))`. A row is the
   * window of at most `maxLen` items before the user's last training target, and that target:
   * trained at every real slot (slot i predicts slot i + 1, the last slot the target), it is
   * the last maxLen + 1 training items, as SASRec trains. `sampling` and `samplesPerUser` do
   * not apply. The last batch may be smaller than `batchSize`.
   */
  trainSequenceBatches(epoch: number, batchSize: number): Generator<TrainBatch> {
    assertInteger(epoch, 'epoch', 0);
    assertInteger(batchSize, 'batchSize', 1);
    return this.generateTrainSequences(epoch, batchSize);
  }

  private *generateTrainSequences(epoch: number, batchSize: number): Generator<TrainBatch> {
    const order = new Random(epochSeed(this.options.seed, epoch)).shuffle(this.trainUsers.slice());
    for (let start = 0; start < order.length; start += batchSize) {
      const n = Math.min(batchSize, order.length - start);
      const batch: TrainBatch = { ...allocBatch(n, this.maxLen), targets: new Int32Array(n), users: new Int32Array(n) };
      for (let row = 0; row < n; row++) {
        const user = order[start + row];
        const k = this.trainRange(user)[1] - 1;
        const seq = this.sequence(user);
        fillWindow(batch, row, seq, k);
        batch.targets[row] = seq[k];
        batch.users[row] = user;
      }
      yield batch;
    }
  }

  /** Evaluation batches of `validUsers` or `testUsers`, in that fixed order. */
  evalBatches(split: 'valid' | 'test', batchSize: number): Generator<EvalBatch> {
    if (split !== 'valid' && split !== 'test') {
      throw new SeqrecError('invalid_argument', `split must be 'valid' or 'test', got '${String(split)}'`, { field: 'split' });
    }
    assertInteger(batchSize, 'batchSize', 1);
    return this.generateEval(split, batchSize);
  }

  private *generateEval(split: 'valid' | 'test', batchSize: number): Generator<EvalBatch> {
    const users = split === 'valid' ? this.validUsers : this.testUsers;
    for (let start = 0; start < users.length; start += batchSize) {
      const n = Math.min(batchSize, users.length - start);
      const batch: EvalBatch = { ...allocBatch(n, this.maxLen), targets: [], users: new Int32Array(n) };
      for (let row = 0; row < n; row++) {
        const user = users[start + row];
        const seq = this.sequence(user);
        let cut: number;
        let end: number;
        if (this.options.protocol === 'comirec') {
          cut = historyCut(seq.length, this.options.evalRatio);
          end = seq.length;
        } else {
          cut = split === 'valid' ? seq.length - 2 : seq.length - 1;
          end = cut + 1;
        }
        fillWindow(batch, row, seq, cut);
        batch.targets.push(seq.slice(cut, end));
        batch.users[row] = user;
      }
      yield batch;
    }
  }

  /**
   * Interaction counts per item index over training data only (comirec: the train users'
   * full sequences; loo: each user's items except the last two, or all of a user with
   * fewer than 3). Index 0 (padding) is 0.
   */
  itemPopularity(): Float64Array {
    const counts = new Float64Array(this.itemCount);
    const add = (user: number, end: number): void => {
      const seq = this.sequence(user);
      for (let i = 0; i < end; i++) counts[seq[i]]++;
    };
    if (this.options.protocol === 'comirec') {
      for (const u of this.trainUsers) add(u, this.sequence(u).length);
    } else {
      for (let u = 0; u < this.numUsers; u++) {
        const len = this.sequence(u).length;
        add(u, len >= 3 ? len - 2 : len);
      }
    }
    return counts;
  }

  /**
   * Throws `data_empty` unless each named split can be used: 'train' needs at least one
   * training sample, 'valid' and 'test' at least one evaluated user. The message says what is
   * too small (users, items, interactions and each split), instead of an evaluation later
   * reporting that no users were evaluated.
   */
  assertSplits(splits: readonly ('train' | 'valid' | 'test')[]): void {
    const d = this.describe();
    const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
    const problems: string[] = [];
    if (splits.includes('train') && d.trainSamplesPerEpoch === 0) problems.push('no training samples');
    if (splits.includes('valid') && d.validUsers === 0) problems.push('no valid users');
    if (splits.includes('test') && d.testUsers === 0) problems.push('no test users');
    if (problems.length === 0) return;
    const need =
      d.protocol === 'comirec'
        ? `the comirec protocol splits users ${this.options.splitRatios.map((r) => `${Math.round(r * 100)}%`).join('/')} and evaluates those with >= 2 items`
        : 'the loo protocol evaluates users with >= 3 items';
    throw new SeqrecError(
      'data_empty',
      `dataset too small: ${count(d.users, 'user')}, ${count(d.items, 'item')}, ${count(d.interactions, 'interaction')} ` +
        `give ${count(d.trainUsers, 'train user')} (${count(d.trainSamplesPerEpoch, 'training sample')} per epoch), ` +
        `${count(d.validUsers, 'valid user')} and ${count(d.testUsers, 'test user')}: ${problems.join(', ')} ` +
        `(${need}). Use more users or a lower --min-count${d.protocol === 'comirec' ? ", or protocol 'loo'" : ''}`,
      { field: 'data' },
    );
  }

  describe(): DatasetDescription {
    const used = new Set<number>([...this.trainUsers, ...this.validUsers, ...this.testUsers]);
    return {
      protocol: this.options.protocol,
      users: this.numUsers,
      items: this.vocabulary.numItems,
      interactions: this.flat.length,
      trainUsers: this.trainUsers.length,
      validUsers: this.validUsers.length,
      testUsers: this.testUsers.length,
      trainSamplesPerEpoch: this.trainSamplesPerEpoch(),
      avgLength: this.flat.length / this.numUsers,
      excludedFromEval: this.excludedFromEval,
      unusedUsers: this.numUsers - used.size,
    };
  }
}
