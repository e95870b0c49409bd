/**
 * Progress reporting for the command line (the library itself never draws: it only takes a
 * `log` function and callbacks).
 *
 * One `Progress` owns one output stream (stderr by default) and shows at most one task at a
 * time. Two modes, chosen once:
 * - `bar`: the stream is a TTY. The task is a single line redrawn in place (carriage return,
 *   clear-to-end-of-line) at most every `redrawMs`: `label [=====>    ] 45% 123/456 12.3/s ETA 10s loss 5.43`.
 *   A task without a total shows a spinner and the elapsed time instead of the bar.
 * - `plain`: not a TTY (CI logs, files, pipes), or TERM=dumb. Nothing is redrawn: a task prints
 *   one plain line per `intervalMs` while it runs (none if it ends sooner), so short work adds no
 *   noise and long work shows it is alive.
 * `SEQREC_PROGRESS=bar|plain|off` overrides the choice; `off` draws nothing (log lines still print).
 *
 * Log lines written through `progress.log` while a bar is shown clear the bar first and redraw
 * it after, so bar and log never garble each other.
 */
import type { SequenceDataset } from '../data/dataset.js';
import type { MetricReport } from '../metrics/index.js';
import type { BaseRecaller } from '../models/base.js';
import { ExactRetriever } from '../retrieval/exact.js';
import type { Retriever, SearchOptions, SearchResult } from '../retrieval/types.js';
import { evaluateModel, itemMatrix, type EvaluationOptions } from '../train/evaluate.js';
import type { TrainerCallbacks } from '../train/trainer.js';

export type ProgressMode = 'bar' | 'plain' | 'off';

export interface ProgressOptions {
  /** Output stream. Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Forces a mode; default from SEQREC_PROGRESS, else 'bar' on a TTY and 'plain' otherwise. */
  mode?: ProgressMode;
  /** Minimum milliseconds between two redraws of a bar. Default 100. */
  redrawMs?: number;
  /** Milliseconds between two plain lines of one task. Default 10000. */
  intervalMs?: number;
  /** Clock (for tests). Default performance.now. */
  now?: () => number;
}

/** Chooses the mode for a stream: SEQREC_PROGRESS, else TTY -> 'bar', else 'plain'. */
export function progressMode(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): ProgressMode {
  const forced = env.SEQREC_PROGRESS;
  if (forced === 'bar' || forced === 'plain' || forced === 'off') return forced;
  if (!stream.isTTY || env.TERM === 'dumb') return 'plain';
  return 'bar';
}

const SPINNER = ['|', '/', '-', '\\'];

/** 12.3 s -> "12s", 75 s -> "1m15s", 3725 s -> "1h02m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '-';
  return perSecond >= 100 ? `${Math.round(perSecond)}` : perSecond.toFixed(1);
}

/** One unit of work: `tick`/`update` as it advances, `done` when finished. */
export class ProgressTask {
  private doneCount = 0;
  private info = '';
  private readonly started: number;
  private lastPlain: number;
  private finished = false;

  /** @internal created by Progress.task */
  constructor(
    private readonly owner: Progress,
    public label: string,
    /** Total units, or undefined for work of unknown size (spinner + elapsed time). */
    public readonly total: number | undefined,
    /** Unit name for the rate, e.g. 'batches', 'users'. */
    public readonly unit: string,
  ) {
    this.started = owner.clock();
    this.lastPlain = this.started;
  }

  get done(): number {
    return this.doneCount;
  }

  get elapsedSeconds(): number {
    return (this.owner.clock() - this.started) / 1000;
  }

  /** Advances by `n` units; `info` (e.g. "loss 5.43") replaces the trailing text when given. */
  tick(n = 1, info?: string): void {
    this.update(this.doneCount + n, info);
  }

  /** Sets the number of finished units. */
  update(done: number, info?: string): void {
    if (this.finished) return;
    this.doneCount = done;
    if (info !== undefined) this.info = info;
    this.owner.changed(this, false);
  }

  /** Replaces the label and/or trailing text and redraws now (e.g. "validating..."). */
  set(label: string, info = this.info): void {
    if (this.finished) return;
    this.label = label;
    this.info = info;
    this.owner.changed(this, true);
  }

  /** Ends the task and removes its bar. With `summary`, prints it as a line (in every mode but off). */
  finish(summary?: string): void {
    if (this.finished) return;
    this.finished = true;
    this.owner.ended(this, summary);
  }

  /** The text of the task's line; `width` = terminal columns for the bar form. */
  render(mode: 'bar' | 'plain', width: number, frame: number): string {
    const elapsed = this.elapsedSeconds;
    const parts: string[] = [this.label];
    const total = this.total;
    if (total !== undefined && total > 0) {
      const fraction = Math.min(1, this.doneCount / total);
      const rate = elapsed > 0 ? this.doneCount / elapsed : NaN;
      const eta = rate > 0 ? (total - this.doneCount) / rate : NaN;
      const stats =
        `${String(Math.floor(fraction * 100)).padStart(3)}% ${this.doneCount}/${total} ${formatRate(rate)} ${this.unit}/s` +
        (this.doneCount < total ? ` ETA ${this.doneCount > 0 ? formatDuration(eta) : '-'}` : ` ${formatDuration(elapsed)}`);
      const tail = this.info ? ` ${this.info}` : '';
      if (mode === 'bar') {
        // A width that does not depend on the changing numbers, so the bar does not jump.
        const barWidth = Math.max(10, Math.min(30, width - this.label.length - 62));
        const filled = Math.round(fraction * barWidth);
        const bar = '='.repeat(Math.max(0, filled - (fraction < 1 ? 1 : 0))) + (fraction < 1 && filled > 0 ? '>' : '') + ' '.repeat(barWidth - filled);
        parts.push(`[${bar}]`);
      }
      parts.push(stats + tail);
    } else {
      if (mode === 'bar') parts.push(SPINNER[frame % SPINNER.length]);
      parts.push(formatDuration(elapsed) + (this.doneCount > 0 ? ` ${this.doneCount} ${this.unit}` : '') + (this.info ? ` ${this.info}` : ''));
    }
    const line = parts.join(' ');
    // Never wrap a bar: a wrapped line cannot be redrawn in place.
    return mode === 'bar' && line.length > width - 1 ? line.slice(0, Math.max(0, width - 1)) : line;
  }

  /** @internal for Progress: plain-mode line due? */
  plainDue(now: number, intervalMs: number): boolean {
    if (now - this.lastPlain < intervalMs) return false;
    this.lastPlain = now;
    return true;
  }
}

/** A progress reporter over one stream. Create one per command; `log` is safe to pass to the Trainer. */
export class Progress {
  readonly mode: ProgressMode;
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly redrawMs: number;
  private readonly intervalMs: number;
  readonly clock: () => number;
  private current: ProgressTask | null = null;
  private shown = false;
  private lastDraw = -Infinity;
  private frame = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.mode = options.mode ?? progressMode(this.stream);
    this.redrawMs = options.redrawMs ?? 100;
    this.intervalMs = options.intervalMs ?? 10_000;
    this.clock = options.now ?? (() => performance.now());
  }

  /** Writes a whole line (clearing and then redrawing an active bar). Bound: pass it around freely. */
  readonly log = (line: string): void => {
    this.clear();
    this.stream.write(`${line}\n`);
    if (this.current) this.draw(true);
  };

  /** Starts a task (ending the current one, if any). `total` undefined = unknown size. */
  task(label: string, total?: number, unit = 'it'): ProgressTask {
    this.current?.finish();
    const t = new ProgressTask(this, label, total, unit);
    this.current = t;
    if (this.mode === 'bar') {
      this.draw(true);
      // Keeps spinner and elapsed time moving while the event loop is free (e.g. streaming a file).
      this.timer = setInterval(() => this.draw(true), 250);
      this.timer.unref();
    }
    return t;
  }

  /** Runs `work` as a task of unknown size and finishes it (also on error). */
  async run<T>(label: string, work: (task: ProgressTask) => Promise<T> | T, unit = 'it'): Promise<T> {
    const t = this.task(label, undefined, unit);
    try {
      return await work(t);
    } finally {
      t.finish();
    }
  }

  /** @internal */
  changed(task: ProgressTask, force: boolean): void {
    if (task !== this.current || this.mode === 'off') return;
    if (this.mode === 'bar') {
      this.draw(force);
    } else if (task.plainDue(this.clock(), this.intervalMs)) {
      this.stream.write(`${task.render('plain', 0, 0)}\n`);
    }
  }

  /** @internal */
  ended(task: ProgressTask, summary: string | undefined): void {
    if (task === this.current) {
      this.clear();
      this.current = null;
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
    }
    if (summary !== undefined && this.mode !== 'off') this.stream.write(`${summary}\n`);
  }

  private draw(force: boolean): void {
    if (this.mode !== 'bar' || !this.current) return;
    const now = this.clock();
    if (!force && now - this.lastDraw < this.redrawMs) return;
    this.lastDraw = now;
    this.frame++;
    const width = this.stream.columns || Number(process.env.COLUMNS) || 80;
    this.stream.write(`\r${this.current.render('bar', width, this.frame)}\x1b[K`);
    this.shown = true;
  }

  private clear(): void {
    if (this.shown) {
      this.stream.write('\r\x1b[K');
      this.shown = false;
    }
  }
}

/**
 * Trainer callbacks drawing one bar per epoch (batches of that epoch, running mean loss),
 * relabelled "validating" after the epoch's last batch while the Trainer evaluates. Pass
 * `progress.log` as the Trainer's `log` so the per-epoch lines print cleanly above the bar.
 */
export function trainingProgress(progress: Progress, plan: { epochs: number; stepsPerEpoch: number; validUsers?: number }): TrainerCallbacks {
  let epoch = 1;
  let stepBase = 0;
  let lossSum = 0;
  let task: ProgressTask | null = null;
  const label = () => `epoch ${epoch}/${plan.epochs}`;
  return {
    onBatchEnd(step, loss) {
      task ??= progress.task(label(), plan.stepsPerEpoch, 'batches');
      const inEpoch = step - stepBase;
      lossSum += loss;
      task.update(inEpoch, `loss ${(lossSum / inEpoch).toFixed(4)}`);
      if (inEpoch === plan.stepsPerEpoch) {
        task.set(`${label()} validating${plan.validUsers ? ` ${plan.validUsers} users` : ''}...`);
      }
    },
    onEpochEnd(record) {
      task?.finish();
      task = null;
      stepBase += record.steps;
      lossSum = 0;
      epoch = record.epoch + 1;
    },
  };
}

/**
 * Wraps a retriever so every `search` advances `task` by the number of users searched: a
 * per-batch evaluation bar without a hook inside `evaluateModel` (pass it as
 * `EvaluationOptions.retriever`). Everything else is forwarded to `inner` unchanged.
 */
export function countingRetriever<R extends Retriever>(inner: R, task: ProgressTask): R {
  const search = (queries: Float32Array, options: SearchOptions): SearchResult => {
    const result = inner.search(queries, options);
    task.tick(result.numQueries);
    return result;
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'search') return search;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * `evaluateModel` on a split with a bar over its users (exact retrieval, like evaluateModel's
 * own default).
 */
export function evaluateWithProgress(
  progress: Progress,
  model: BaseRecaller,
  dataset: SequenceDataset,
  split: 'valid' | 'test',
  options: Omit<EvaluationOptions, 'retriever'> = {},
): MetricReport {
  const users = split === 'test' ? dataset.testUsers.length : dataset.validUsers.length;
  const task = progress.task(`evaluating ${split}`, users, 'users');
  const retriever = new ExactRetriever(itemMatrix(model), model.embeddingDim, { metric: options.similarity ?? 'ip' });
  try {
    return evaluateModel(model, dataset, split, { ...options, retriever: countingRetriever(retriever, task) });
  } finally {
    retriever.dispose();
    task.finish();
  }
}

let shared: Progress | null = null;

/** The command line's one reporter on stderr (created on first use). */
export function cliProgress(): Progress {
  shared ??= new Progress();
  return shared;
}
