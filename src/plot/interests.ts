/**
 * Which interest each item of a user's history "routes to", for multi-interest models
 * (MIND, ComiRec-DR, ComiRec-SA), and a picture of it.
 *
 * Read-out used: the model computes the user's K interest vectors v_1..v_K from the history
 * window (`userEmbeddings`, inference mode). Item i of the window routes to
 *
 *     route(i) = argmax_k ⟨v_k, e_i⟩        (e_i = the item's embedding; ties -> lower k)
 *
 * over the interests the model uses for this user (`activeInterestCounts`; MIND may use fewer
 * than K). This is the same rule ComiRec uses to pick the interest that scores a training
 * target (hard label-aware attention), applied to the history items. It is a read-out of the
 * trained model, not the model's internal assignment: capsule routing weights (MIND,
 * ComiRec-DR) or attention weights (ComiRec-SA) can differ from it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { windowBatch } from '../data/windows.js';
import { SeqrecError } from '../errors.js';
import type { BaseRecaller } from '../models/base.js';
import { MultiInterestRecaller } from '../models/multi-interest.js';
import { OTHER_COLOR, PALETTE, chartSpec, renderSvg, type VegaLiteSpec } from './vega.js';

export interface InterestRouting {
  /** Item indices of the window the interests were computed from, oldest first. */
  items: Int32Array;
  /** Interest (0-based) each window item routes to. */
  route: Int32Array;
  /** [items.length * numInterests] inner products ⟨v_k, e_i⟩. */
  scores: Float32Array;
  /** Interests in use for this user (K'_u <= K). */
  numInterests: number;
  /** Per interest: the `topK` items with the largest inner product (history items excluded). */
  topItems: Int32Array[];
}

/** Routes the last `model.maxLen` items of `history` (item indices) to the model's interests. */
export function routeHistory(model: BaseRecaller, history: Int32Array, topK = 5): InterestRouting {
  if (model.numInterests < 2) {
    throw new SeqrecError(
      'invalid_argument',
      `${model.name} has one user vector (numInterests = 1): interest routing needs a multi-interest model (mind, comirec-dr, comirec-sa)`,
    );
  }
  if (history.length === 0) throw new SeqrecError('invalid_argument', 'the history is empty');
  const batch = windowBatch([history], model.maxLen);
  const items = batch.history.slice(0, batch.lengths[0]);
  const K = model.numInterests;
  const t = tf.tidy(() => model.userEmbeddings(batch));
  const users = t.dataSync() as Float32Array;
  t.dispose();
  const used = model instanceof MultiInterestRecaller ? Math.max(1, Math.min(K, model.activeInterestCounts(batch)[0])) : K;
  const table = model.itemEmbeddings().dataSync() as Float32Array;
  const D = model.embeddingDim;
  const dot = (k: number, item: number) => {
    let s = 0;
    for (let j = 0; j < D; j++) s += users[k * D + j] * table[item * D + j];
    return s;
  };
  const scores = new Float32Array(items.length * used);
  const route = new Int32Array(items.length);
  items.forEach((item, i) => {
    let best = 0;
    for (let k = 0; k < used; k++) {
      scores[i * used + k] = dot(k, item);
      if (scores[i * used + k] > scores[i * used + best]) best = k;
    }
    route[i] = best;
  });
  const seen = new Set(items);
  const topItems: Int32Array[] = [];
  for (let k = 0; k < used; k++) {
    const scored: [number, number][] = [];
    for (let item = 1; item < model.itemCount; item++) if (!seen.has(item)) scored.push([dot(k, item), item]);
    scored.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    topItems.push(Int32Array.from(scored.slice(0, topK).map(([, item]) => item)));
  }
  return { items, route, scores, numInterests: used, topItems };
}

export interface InterestPlotOptions {
  title: string;
  subtitle?: string[];
  /** Display text of an item index (e.g. raw id and title). */
  itemLabel: (item: number) => string;
  /** Category of an item index, shown in brackets when given. */
  itemCategory?: (item: number) => string | undefined;
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

const ROW = 24;

/** A column of text rows (y = row number, one band per row, no axes) drawn by `layer`. */
function column(title: string, width: number, rows: object[], layer: object[]): object {
  return {
    title: { text: title, anchor: 'start', fontSize: 15, offset: 8 },
    width,
    height: { step: ROW },
    data: { values: rows },
    encoding: { y: { field: 'row', type: 'ordinal', axis: null, scale: { paddingInner: 0, paddingOuter: 0 } } },
    layer,
  };
}

/** Left: the history window, oldest first, each item coloured by its interest. Right: each interest's top items. */
export function interestsSpec(r: InterestRouting, options: InterestPlotOptions): VegaLiteSpec {
  const label = (item: number) => {
    const c = options.itemCategory?.(item);
    return c ? `${options.itemLabel(item)}  [${c}]` : options.itemLabel(item);
  };
  const names = Array.from({ length: r.numInterests }, (_, k) => `#${k + 1}`);
  const color = {
    field: 'interest',
    type: 'nominal',
    scale: { domain: names, range: names.map((_, k) => (k < PALETTE.length ? PALETTE[k] : OTHER_COLOR)) },
    legend: null,
  };
  const onlyKind = (kind: string) => ({ filter: { field: 'kind', equal: kind } });
  // A coloured "#k" badge at x0 (badges of rows of any kind that have an interest).
  const badge = (x0: number, filter: object) => [
    { transform: [filter], mark: { type: 'rect', x: x0, x2: x0 + 44, cornerRadius: 3, yOffset: 0, height: 16 }, encoding: { color } },
    {
      transform: [filter],
      mark: { type: 'text', x: x0 + 22, align: 'center', fill: '#fff', fontWeight: 'bold', fontSize: 11.5 },
      encoding: { text: { field: 'interest' } },
    },
  ];

  const history = Array.from(r.items, (item, i) => ({
    row: i,
    kind: 'item',
    n: String(i + 1),
    interest: names[r.route[i]],
    text: clip(label(item), 68),
    stripe: i % 2 === 0,
  }));
  const left = column(`History window (oldest first), ${r.items.length} items`, 560, history, [
    { transform: [{ filter: 'datum.stripe' }], mark: { type: 'rect', x: 0, x2: 560, fill: '#f5f5f5' } },
    { mark: { type: 'text', x: 26, align: 'right', fill: '#777', fontSize: 12 }, encoding: { text: { field: 'n' } } },
    ...badge(34, onlyKind('item')),
    { mark: { type: 'text', x: 86, align: 'left', fill: '#222', fontSize: 12.5 }, encoding: { text: { field: 'text' } } },
  ]);

  const top: object[] = [];
  for (let k = 0; k < r.numInterests; k++) {
    const count = r.route.reduce((s, v) => s + (v === k ? 1 : 0), 0);
    top.push({ row: top.length, kind: 'header', interest: names[k], text: `interest ${k + 1}: ${count} of ${r.items.length} history items route here` });
    for (const item of r.topItems[k]) top.push({ row: top.length, kind: 'item', text: clip(label(item), 62) });
    if (k < r.numInterests - 1) top.push({ row: top.length, kind: 'gap', text: '' });
  }
  const right = column('Top items of each interest (history excluded)', 480, top, [
    ...badge(0, onlyKind('header')),
    {
      transform: [onlyKind('header')],
      mark: { type: 'text', x: 52, align: 'left', fontWeight: 'bold', fontSize: 12.5 },
      encoding: { text: { field: 'text' }, color },
    },
    { transform: [onlyKind('item')], mark: { type: 'text', x: 52, align: 'left', fill: '#222', fontSize: 12.5 }, encoding: { text: { field: 'text' } } },
  ]);
  // 'flush': lay the columns out by their widths; vega's text-width estimate (no canvas in Node) is too wide.
  return chartSpec(options.title, options.subtitle, { hconcat: [left, right], spacing: 40, bounds: 'flush', resolve: { scale: { y: 'independent' } } });
}

/** The interest-routing chart as SVG text. */
export async function interestsSvg(r: InterestRouting, options: InterestPlotOptions): Promise<string> {
  return renderSvg(interestsSpec(r, options));
}
