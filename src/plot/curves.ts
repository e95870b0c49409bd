/**
 * Training curves from a run's history (`history.json` written by `seqrec train --out DIR`,
 * or `FitResult.history`): mean training loss per epoch, and the valid metrics per epoch.
 * The axes are Vega's: ticks are placed at their values and labelled with enough digits.
 */
import { z } from 'zod';
import { SeqrecError } from '../errors.js';
import { parseWith } from '../util/schema.js';
import { PALETTE, chartSpec, renderSvg, round, type VegaLiteSpec } from './vega.js';

const metrics = z.record(z.string(), z.number());

/** The fields of an epoch record the curves read; the record's other fields (timings) are kept. */
const CurvePointSchema = z.looseObject({ epoch: z.number(), loss: z.number(), valid: metrics });

/** history.json as `seqrec train --out` writes it (strict: an unknown key is an error with a hint). */
export const HistoryFileSchema = z.strictObject({
  format: z.literal('seqrec-history').optional(),
  version: z.literal(1).optional(),
  model: z.string().optional(),
  data: z.string().optional(),
  bestEpoch: z.number().optional(),
  stoppedBy: z.string().optional(),
  history: z.array(CurvePointSchema).min(1, { error: 'the history has no epochs' }),
  /** Reference results by name (history.json has MostPopular's valid metrics), drawn as flat lines. */
  baselines: z.record(z.string(), z.strictObject({ valid: metrics.optional() })).optional(),
});

export type CurvePoint = z.output<typeof CurvePointSchema>;
export type RunHistory = z.output<typeof HistoryFileSchema>;

/** Checks and returns the parsed content of a history.json (or a bare array of epoch records). */
export function parseHistory(json: unknown, source: string): RunHistory {
  return parseWith(HistoryFileSchema, Array.isArray(json) ? { history: json } : json, { where: source, code: 'invalid_argument', details: { file: source } });
}

export interface CurvesOptions {
  title: string;
  subtitle?: string[];
  /** Valid metrics to draw, first = main (solid). Default ['recall@50', 'recall@20'] (those present). */
  metrics?: string[];
}

const LOSS = 'training loss';
const GREY = '#555';
const BEST = '#888';

/** Two panels: training loss, and valid metrics, per epoch; the best epoch marked. One legend under both. */
export function curvesSpec(run: RunHistory, options: CurvesOptions): VegaLiteSpec {
  const h = run.history;
  const last = h[h.length - 1].epoch;
  const metrics = (options.metrics ?? ['recall@50', 'recall@20']).filter((m) => h.some((r) => m in r.valid));
  if (metrics.length === 0) throw new SeqrecError('invalid_argument', `none of the metrics ${options.metrics?.join(', ')} is in the history`);
  const xMin = Math.min(1, h[0].epoch);
  const xMax = Math.max(last, xMin + 1);
  const best = run.bestEpoch;
  const main = metrics[0];
  const baselines = Object.entries(run.baselines ?? {})
    .map(([name, b]) => ({ name, value: b?.valid?.[main] }))
    .filter((b): b is { name: string; value: number } => typeof b.value === 'number' && Number.isFinite(b.value));

  // The legend: one colour and one dash pattern per series, in this order.
  const series: { name: string; color: string; dash: number[] }[] = [{ name: LOSS, color: PALETTE[2], dash: [] }];
  metrics.forEach((m, i) => series.push({ name: `valid ${m}`, color: PALETTE[i % PALETTE.length], dash: i === 0 ? [] : [6, 4] }));
  for (const b of baselines) series.push({ name: `${b.name} valid ${main}`, color: GREY, dash: [2, 3] });
  const bestName = `best epoch (${best}), weights restored`;
  if (best) series.push({ name: bestName, color: BEST, dash: [4, 4] });
  const seriesScale = (channel: 'color' | 'dash') => ({
    domain: series.map((s) => s.name),
    range: series.map((s) => (channel === 'color' ? s.color : s.dash)),
  });
  const enc = {
    color: {
      field: 'series',
      type: 'nominal',
      scale: seriesScale('color'),
      legend: { title: null, orient: 'bottom', direction: 'horizontal', columns: 3, symbolType: 'stroke', symbolStrokeWidth: 2.5 },
    },
    // Same field as colour: Vega-Lite merges the two into one legend with dashed symbols.
    strokeDash: { field: 'series', type: 'nominal', scale: seriesScale('dash') },
  };
  const x = {
    field: 'epoch',
    type: 'quantitative',
    title: 'epoch',
    scale: { domain: [xMin, xMax], nice: false },
    axis: { tickMinStep: 1, format: 'd', grid: true },
  };

  const lossRows = h.filter((r) => Number.isFinite(r.loss)).map((r) => ({ epoch: r.epoch, value: round(r.loss, 6), series: LOSS }));
  const validRows = metrics.flatMap((m) =>
    h.filter((r) => Number.isFinite(r.valid[m])).map((r) => ({ epoch: r.epoch, value: round(r.valid[m], 6), series: `valid ${m}` })),
  );
  const bestLayer = best ? [{ data: { values: [{ epoch: best, series: bestName }] }, mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x, ...enc } }] : [];
  const line = (rows: object[], yTitle: string, zero: boolean) => ({
    data: { values: rows },
    mark: { type: 'line', strokeWidth: 2.5, point: { size: 36, filled: true } },
    encoding: { x, y: { field: 'value', type: 'quantitative', title: yTitle, scale: { zero } }, ...enc },
  });
  const panel = (title: string, layer: object[]) => ({ width: 380, height: 330, title: { text: title, fontSize: 15 }, layer });

  const validLayers: object[] = [...bestLayer, line(validRows, 'valid metric', true)];
  if (baselines.length > 0) {
    const rows = baselines.map((b) => ({ value: b.value, series: `${b.name} valid ${main}`, label: `${b.name} ${b.value.toFixed(3)}` }));
    validLayers.push(
      { data: { values: rows }, mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { y: { field: 'value', type: 'quantitative' }, ...enc } },
      {
        data: { values: rows },
        mark: { type: 'text', align: 'right', baseline: 'top', dy: 4, x: 374, fontSize: 12, fill: '#444' },
        encoding: { y: { field: 'value', type: 'quantitative' }, text: { field: 'label' } },
      },
    );
  }
  const bestRecord = best ? h.find((r) => r.epoch === best) : undefined;
  if (bestRecord && Number.isFinite(bestRecord.valid[main])) {
    validLayers.push({
      data: { values: [{ epoch: best, value: round(bestRecord.valid[main], 6) }] },
      mark: { type: 'point', shape: 'circle', size: 200, filled: false, stroke: '#222', strokeWidth: 1.5 },
      encoding: { x, y: { field: 'value', type: 'quantitative' } },
    });
  }
  return chartSpec(options.title, options.subtitle, {
    hconcat: [
      panel('Training loss (mean over the epoch)', [...bestLayer, line(lossRows, 'loss', false)]),
      panel('Validation (full ranking, valid users)', validLayers),
    ],
    spacing: 90,
    resolve: { scale: { color: 'shared', strokeDash: 'shared', y: 'independent' } },
  });
}

/** The curves chart as SVG text. */
export async function curvesSvg(run: RunHistory, options: CurvesOptions): Promise<string> {
  return renderSvg(curvesSpec(run, options));
}
