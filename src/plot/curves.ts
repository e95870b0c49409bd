/**
 * Training curves from a run's history (`history.json` written by `seqrec train --out DIR`,
 * or `FitResult.history`): mean training loss per epoch, and the valid metrics per epoch.
 */
import { SeqrecError } from '../errors.js';
import { PALETTE, SvgDoc, drawAxes, drawLegendRow, niceDomain, niceTicks, type LegendEntry } from './svg.js';

/** The fields of an `EpochRecord` the curves read. */
export interface CurvePoint {
  epoch: number;
  loss: number;
  valid: Record<string, number>;
}

export interface RunHistory {
  model?: string;
  data?: string;
  bestEpoch?: number;
  stoppedBy?: string;
  history: CurvePoint[];
  /** Reference results by name (history.json has MostPopular's valid metrics), drawn as flat lines. */
  baselines?: Record<string, { valid?: Record<string, number> }>;
}

/** Checks and returns the parsed content of a history.json (or a bare array of epoch records). */
export function parseHistory(json: unknown, source: string): RunHistory {
  const run = (Array.isArray(json) ? { history: json } : json) as Partial<RunHistory> | null;
  const bad = (why: string): never => {
    throw new SeqrecError('invalid_argument', `${source}: ${why}`, { file: source });
  };
  if (!run || typeof run !== 'object' || !Array.isArray(run.history)) bad('expected {history: [{epoch, loss, valid}, ...]} (history.json of `seqrec train --out`)');
  if (run!.history!.length === 0) bad('the history has no epochs');
  run!.history!.forEach((r, i) => {
    if (!r || typeof r.epoch !== 'number' || typeof r.loss !== 'number' || !r.valid || typeof r.valid !== 'object') {
      bad(`epoch record ${i} lacks epoch, loss or valid`);
    }
  });
  return run as RunHistory;
}

export interface CurvesOptions {
  title: string;
  subtitle?: string[];
  /** Valid metrics to draw, first = main (solid). Default ['recall@50', 'recall@20'] (those present). */
  metrics?: string[];
}

function epochTicks(last: number): number[] {
  if (last <= 12) return Array.from({ length: last }, (_, i) => i + 1);
  const t = niceTicks(1, last, 8).filter((v) => v >= 1 && Number.isInteger(v));
  return t[0] === 1 ? t : [1, ...t];
}

/** Two panels: training loss, and valid metrics, per epoch; the best epoch marked. */
export function curvesSvg(run: RunHistory, options: CurvesOptions): string {
  const h = run.history;
  const last = h[h.length - 1].epoch;
  const metrics = (options.metrics ?? ['recall@50', 'recall@20']).filter((m) => h.some((r) => m in r.valid));
  if (metrics.length === 0) throw new SeqrecError('invalid_argument', `none of the metrics ${options.metrics?.join(', ')} is in the history`);
  const subtitle = options.subtitle ?? [];
  const W = 1000;
  const top = 70 + subtitle.length * 18;
  const panelH = 330;
  const H = top + panelH + 90;
  const doc = new SvgDoc(W, H);
  doc.text(W / 2, 30, options.title, { 'text-anchor': 'middle', 'font-size': 19, 'font-weight': 'bold' });
  subtitle.forEach((s, i) => doc.text(W / 2, 52 + i * 18, s, { 'text-anchor': 'middle', 'font-size': 13, fill: '#555' }));
  const xMin = Math.min(1, h[0].epoch);
  const xMax = Math.max(last, xMin + 1);
  const xAxis = { min: xMin, max: xMax, label: 'epoch', ticks: epochTicks(last), grid: true };
  const best = run.bestEpoch;

  const panel = (x: number, title: string) => {
    doc.text(x + 190, top - 8, title, { 'text-anchor': 'middle', 'font-size': 15, 'font-weight': 'bold' });
    return { x, y: top, w: 380, h: panelH };
  };
  const markBest = (f: { x: number; y: number; h: number }, sx: (v: number) => number) => {
    if (!best) return;
    doc.line(sx(best), f.y, sx(best), f.y + f.h, { stroke: '#888', 'stroke-dasharray': '4,4' });
  };

  // Loss.
  const f1 = panel(90, 'Training loss (mean over the epoch)');
  const losses = h.map((r) => r.loss).filter(Number.isFinite);
  const lt = niceDomain(Math.min(...losses), Math.max(...losses), 5);
  const s1 = drawAxes(doc, f1, xAxis, { min: lt[0], max: lt[lt.length - 1], ticks: lt, label: 'loss' });
  markBest(f1, s1.x);
  doc.polyline(h.map((r) => [s1.x(r.epoch), s1.y(r.loss)]), { stroke: PALETTE[2], 'stroke-width': 2.5 });
  for (const r of h) doc.circle(s1.x(r.epoch), s1.y(r.loss), 3.5, { fill: PALETTE[2] });

  // Valid metrics.
  const f2 = panel(580, 'Validation (full ranking, valid users)');
  const baselines = Object.entries(run.baselines ?? {})
    .map(([name, b]) => ({ name, value: b?.valid?.[metrics[0]] }))
    .filter((b): b is { name: string; value: number } => typeof b.value === 'number' && Number.isFinite(b.value));
  const values = [...metrics.flatMap((m) => h.map((r) => r.valid[m]).filter((v): v is number => Number.isFinite(v))), ...baselines.map((b) => b.value)];
  const vt = niceDomain(0, Math.max(...values, 1e-3), 5);
  const s2 = drawAxes(doc, f2, xAxis, { min: 0, max: vt[vt.length - 1], ticks: vt, label: 'valid metric' });
  markBest(f2, s2.x);
  const entries: LegendEntry[] = [{ label: 'training loss', color: PALETTE[2], shape: 'line' }];
  metrics.forEach((m, i) => {
    const color = PALETTE[i % PALETTE.length];
    const pts = h.filter((r) => Number.isFinite(r.valid[m])).map((r) => [s2.x(r.epoch), s2.y(r.valid[m])] as [number, number]);
    doc.polyline(pts, { stroke: color, 'stroke-width': 2.5, 'stroke-dasharray': i === 0 ? undefined : '6,4' });
    for (const [x, y] of pts) doc.circle(x, y, i === 0 ? 3.5 : 2.5, { fill: color });
    entries.push({ label: `valid ${m}`, color, shape: i === 0 ? 'line' : 'dashed' });
  });
  for (const b of baselines) {
    doc.line(f2.x, s2.y(b.value), f2.x + f2.w, s2.y(b.value), { stroke: '#555', 'stroke-width': 1.5, 'stroke-dasharray': '2,3' });
    doc.text(f2.x + f2.w - 6, s2.y(b.value) + 17, `${b.name} ${b.value.toFixed(3)}`, {
      'text-anchor': 'end',
      'font-size': 12,
      fill: '#444',
      stroke: '#ffffff',
      'stroke-width': 3,
      'paint-order': 'stroke',
    });
    entries.push({ label: `${b.name} valid ${metrics[0]}`, color: '#555', shape: 'dotted' });
  }
  if (best) {
    const b = h.find((r) => r.epoch === best);
    if (b && Number.isFinite(b.valid[metrics[0]])) {
      doc.circle(s2.x(best), s2.y(b.valid[metrics[0]]), 7, { fill: 'none', stroke: '#222', 'stroke-width': 1.5 });
    }
    entries.push({ label: `best epoch (${best}), weights restored`, color: '#888', shape: 'dashed' });
  }
  drawLegendRow(doc, W / 2, f2.y + f2.h + 72, entries);
  return doc.toString();
}
