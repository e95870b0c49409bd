/**
 * What training reports: per-epoch records of both modes, callbacks, results, and the one
 * formatting of an epoch's progress line.
 */
import type { OptimizerState } from '../bundle/optimizer-state.js';
import type { SessionSet } from '../data/session-parallel.js';
import type { MetricReport } from '../metrics/index.js';
import type { WarmStartReport } from './warm-start.js';

export interface EpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  steps: number;
  samples: number;
  /** Wall seconds of the training part (batching, forward, backward, Adam). */
  trainSeconds: number;
  samplesPerSecond: number;
  /** Wall seconds of the validation pass. */
  evalSeconds: number;
  valid: MetricReport;
  /** Whether this epoch improved the monitored metric. */
  improved: boolean;
}

export type TieMode = 'standard' | 'conservative' | 'median';

export interface SessionEvaluationOptions {
  /** Cutoffs. Default [20]. */
  cutoffs?: number[];
  /** Lanes. Default 512 (the official batch_eval default). */
  batchSize?: number;
  /** Tie handling; default 'standard'. */
  ties?: TieMode;
}

/** Sessions to evaluate on after every session-parallel epoch, and how. */
export type SessionEvaluation = { sessions: SessionSet } & SessionEvaluationOptions;

export interface SessionMetrics {
  /** `recall@N` and `mrr@N` per cutoff, plus `events`: how many predictions were averaged. */
  [key: string]: number;
}

export interface SessionEpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's (input, target) pairs. */
  loss: number;
  steps: number;
  /** (input, target) pairs trained on: every event but the last of each session. */
  events: number;
  seconds: number;
  /** Evaluation after the epoch, when `evaluation` was given. */
  eval?: SessionMetrics;
  evalSeconds?: number;
}

/** Callbacks of both training modes; `R` is the mode's epoch record. */
export interface TrainerCallbacks<R = EpochRecord> {
  onEpochEnd?(record: R): void | Promise<void>;
  /** After every optimiser step: the step number over the whole fit, its loss, and the rows it trained on (always given by the Trainer). */
  onBatchEnd?(step: number, loss: number, rows?: number): void;
}

/**
 * Why a fit ended: `early_stopping` (patience ran out), `max_epochs`, `time_limit` (the epoch that
 * crossed `maxSeconds`), `interrupted` (`signal` aborted; an epoch under way is dropped). The
 * model ends with its best (kept) weights in every case.
 */
export type StoppedBy = 'early_stopping' | 'max_epochs' | 'time_limit' | 'interrupted';

export interface FitResult {
  /** Set when the fit started from a parent model (`from`). */
  warmStart?: WarmStartReport;
  history: EpochRecord[];
  bestEpoch: number;
  bestValid: MetricReport;
  stoppedBy: StoppedBy;
  seconds: number;
  /**
   * Adam's state with the weights the model ends with (the best epoch's), when the fit ran
   * with `saveOptimizerState`: pass it to `exportBundle` or `saveModel` as `optimizerState`.
   */
  optimizerState?: OptimizerState;
}

export interface SessionTrainResult {
  history: SessionEpochRecord[];
  /** `max_epochs`, `time_limit` or `interrupted` (no early stopping here). */
  stoppedBy: StoppedBy;
  seconds: number;
}

const SHOWN_METRICS = ['recall@20', 'recall@50', 'ndcg@50', 'hitRate@50'] as const;

/** The progress line of an epoch, for either mode (`monitor` marks a windowed best epoch). */
export function formatEpoch(r: EpochRecord | SessionEpochRecord, monitor?: string): string {
  const head = `epoch ${String(r.epoch).padStart(3)}  loss ${r.loss.toFixed(4)}  `;
  if ('valid' in r) {
    // The monitored metric first when it is not one of the usual four.
    const shown = monitor && !(SHOWN_METRICS as readonly string[]).includes(monitor) ? [monitor, ...SHOWN_METRICS] : SHOWN_METRICS;
    const valid = r.valid as Record<string, number | undefined>;
    const metrics = shown
      .filter((k) => valid[k] !== undefined)
      .map((k) => `${k} ${valid[k]!.toFixed(4)}`)
      .join('  ');
    return (
      head +
      `${Math.round(r.samplesPerSecond)} samples/s  ${r.trainSeconds.toFixed(1)}s+${r.evalSeconds.toFixed(1)}s  valid ${metrics}` +
      (r.improved ? `  * best ${monitor}` : '')
    );
  }
  const ev = r.eval
    ? '  ' +
      Object.entries(r.eval)
        .filter(([k]) => k !== 'events')
        .map(([k, v]) => `${k} ${v.toFixed(4)}`)
        .join('  ')
    : '';
  return (
    head +
    `${r.steps} steps  ${Math.round(r.events / r.seconds)} events/s  ${r.seconds.toFixed(1)}s${r.evalSeconds !== undefined ? `+${r.evalSeconds.toFixed(1)}s` : ''}${ev}`
  );
}

/** @deprecated Use `formatEpoch`, which formats both kinds of record. */
export function formatSessionEpoch(r: SessionEpochRecord): string {
  return formatEpoch(r);
}
