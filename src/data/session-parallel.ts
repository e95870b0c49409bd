/**
 * Sessions and GRU4Rec's session-parallel mini-batches (Hidasi et al., ICLR 2016, section 3.1.1).
 *
 * B lanes each walk through one session at a time. At every step each active lane feeds its
 * current item and predicts the next one; when a lane's session has no next item, that lane
 * (and only that lane) takes the next unstarted session and its hidden state is reset to zero
 * at its first step. Sessions keep their variable lengths (no padding, no windows); a session
 * of n events gives exactly n − 1 (input, target) pairs, so every event is used once per epoch.
 * Sessions shorter than 2 give no pair and are skipped. When no session is left, lanes whose
 * session ended drop out and the batch shrinks (the official code does the same; the epoch
 * does not end early when a batch can no longer be filled: pitfall G4).
 *
 * Rows of a step are the active lanes in ascending lane order; `lanes[r]` says which lane row r
 * is, so a trainer keeps one state per lane and reads/writes it by lane id.
 */
import { SeqrecError } from '../errors.js';
import { loadInteractions, type DataFormat } from './loaders.js';
import type { InteractionLog } from './types.js';
import { ItemVocabulary } from './vocabulary.js';

/** Encoded sessions (item indices 1..itemCount-1), stored flat. */
export class SessionSet {
  readonly vocabulary: ItemVocabulary;
  /** vocabulary.size: item rows including padding. */
  readonly itemCount: number;
  /** Raw session ids (when built from a log). */
  readonly ids: readonly string[] | undefined;
  private readonly flat: Int32Array;
  private readonly offsets: Int32Array;

  constructor(sessions: readonly ArrayLike<number>[], vocabulary: ItemVocabulary, ids?: readonly string[]) {
    this.vocabulary = vocabulary;
    this.itemCount = vocabulary.size;
    this.ids = ids;
    this.offsets = new Int32Array(sessions.length + 1);
    sessions.forEach((s, i) => (this.offsets[i + 1] = this.offsets[i] + s.length));
    this.flat = new Int32Array(this.offsets[sessions.length]);
    sessions.forEach((s, i) => {
      for (let k = 0; k < s.length; k++) {
        const item = s[k];
        if (!(Number.isInteger(item) && item >= 1 && item < this.itemCount)) {
          throw new SeqrecError('invalid_argument', `session ${i} position ${k} has item index ${item}, outside 1..${this.itemCount - 1}`, {
            field: 'sessions',
          });
        }
      }
      this.flat.set(Array.from(s), this.offsets[i]);
    });
  }

  get count(): number {
    return this.offsets.length - 1;
  }

  /** Session i's items. A view: do not modify it. */
  session(i: number): Int32Array {
    return this.flat.subarray(this.offsets[i], this.offsets[i + 1]);
  }

  length(i: number): number {
    return this.offsets[i + 1] - this.offsets[i];
  }

  /** All events. */
  get events(): number {
    return this.flat.length;
  }

  /** (input, target) pairs of an epoch: Σ max(0, n_s − 1). */
  pairs(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) n += Math.max(0, this.length(i) - 1);
    return n;
  }

  /** Event counts by item index (index 0 = padding = 0): the popularity the samplers use. */
  itemPopularity(): Float64Array {
    const c = new Float64Array(this.itemCount);
    for (let i = 0; i < this.flat.length; i++) c[this.flat[i]]++;
    return c;
  }

  /**
   * Builds the vocabulary from a training log (items numbered by decreasing frequency unless
   * `order` says otherwise) and encodes it. Each sequence of the log is one session, in the
   * log's order (time order for session files; the official GRU4Rec orders sessions by their
   * first event and never shuffles them).
   */
  static fromLog(log: InteractionLog, options: { order?: 'frequency' | 'firstSeen' } = {}): SessionSet {
    const vocabulary = ItemVocabulary.build(log.sequences, { order: options.order ?? 'frequency' });
    return new SessionSet(
      log.sequences.map((s) => vocabulary.encodeAll(s.items)),
      vocabulary,
      log.sequences.map((s) => s.user),
    );
  }

  /**
   * Encodes a held-out log with an existing vocabulary: items unknown to it are dropped (as the
   * official evaluation does) and sessions left with fewer than `minLength` (2) items too.
   */
  static fromLogWithVocabulary(
    log: InteractionLog,
    vocabulary: ItemVocabulary,
    minLength = 2,
  ): { sessions: SessionSet; droppedEvents: number; droppedSessions: number } {
    const kept: Int32Array[] = [];
    const ids: string[] = [];
    let droppedEvents = 0;
    let droppedSessions = 0;
    for (const s of log.sequences) {
      const items: number[] = [];
      for (const raw of s.items) {
        const id = vocabulary.encode(raw);
        if (id === undefined) droppedEvents++;
        else items.push(id);
      }
      if (items.length < minLength) {
        droppedSessions++;
        droppedEvents += items.length;
        continue;
      }
      kept.push(Int32Array.from(items));
      ids.push(s.user);
    }
    return { sessions: new SessionSet(kept, vocabulary, ids), droppedEvents, droppedSessions };
  }
}

/** Reads training (and optionally test) session files, `session_id item item ...` per line. */
export async function loadSessions(
  trainPath: string,
  testPath?: string,
  options: { format?: DataFormat; order?: 'frequency' | 'firstSeen' } = {},
): Promise<{ train: SessionSet; test?: SessionSet; testDropped?: { events: number; sessions: number } }> {
  const format = options.format ?? 'sequence';
  const train = SessionSet.fromLog(await loadInteractions(trainPath, { format }), { order: options.order });
  if (!testPath) return { train };
  const t = SessionSet.fromLogWithVocabulary(await loadInteractions(testPath, { format }), train.vocabulary);
  return { train, test: t.sessions, testDropped: { events: t.droppedEvents, sessions: t.droppedSessions } };
}

/** One session-parallel step: R ≤ batchSize active lanes. */
export interface SessionStep {
  /** Active rows R. */
  size: number;
  /** [R] lane of each row (ascending). */
  lanes: Int32Array;
  /** [R] current item of each row. */
  inputs: Int32Array;
  /** [R] the next item (the target). */
  targets: Int32Array;
  /** [R] 1 = the row's lane started a new session at this step: its state must be zero. */
  reset: Float32Array;
  /** [R] session index of each row. */
  sessions: Int32Array;
  /** [R] position of the input item within its session. */
  positions: Int32Array;
}

export interface SessionParallelOptions {
  /** Session order; default the SessionSet's order (0..count-1). */
  order?: ArrayLike<number>;
}

/**
 * Session-parallel steps over `sessions` with `batchSize` lanes. Every (input, target) pair of
 * every session is yielded exactly once, in session order within each lane.
 */
export function* sessionParallelSteps(sessions: SessionSet, batchSize: number, options: SessionParallelOptions = {}): Generator<SessionStep> {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new SeqrecError('invalid_argument', `batchSize must be an integer >= 1, got ${batchSize}`, { field: 'batchSize' });
  const order = options.order ?? Int32Array.from({ length: sessions.count }, (_, i) => i);
  let next = 0;
  /** Next session with at least one pair, or -1. */
  const take = (): number => {
    while (next < order.length) {
      const s = order[next++];
      if (sessions.length(s) >= 2) return s;
    }
    return -1;
  };
  const laneSession = new Int32Array(batchSize).fill(-1);
  const lanePos = new Int32Array(batchSize);
  for (let lane = 0; lane < batchSize; lane++) laneSession[lane] = take();
  for (;;) {
    let size = 0;
    for (let lane = 0; lane < batchSize; lane++) if (laneSession[lane] >= 0) size++;
    if (size === 0) return;
    const step: SessionStep = {
      size,
      lanes: new Int32Array(size),
      inputs: new Int32Array(size),
      targets: new Int32Array(size),
      reset: new Float32Array(size),
      sessions: new Int32Array(size),
      positions: new Int32Array(size),
    };
    let r = 0;
    for (let lane = 0; lane < batchSize; lane++) {
      const s = laneSession[lane];
      if (s < 0) continue;
      const seq = sessions.session(s);
      const p = lanePos[lane];
      step.lanes[r] = lane;
      step.inputs[r] = seq[p];
      step.targets[r] = seq[p + 1];
      step.reset[r] = p === 0 ? 1 : 0;
      step.sessions[r] = s;
      step.positions[r] = p;
      r++;
    }
    yield step;
    // Advance; lanes whose session has no further pair take the next session.
    for (let lane = 0; lane < batchSize; lane++) {
      const s = laneSession[lane];
      if (s < 0) continue;
      lanePos[lane]++;
      if (lanePos[lane] + 1 >= sessions.length(s)) {
        laneSession[lane] = take();
        lanePos[lane] = 0;
      }
    }
  }
}
