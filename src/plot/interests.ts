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
import type { SequenceBatch } from '../data/types.js';
import { SeqrecError } from '../errors.js';
import type { SequentialRecaller } from '../models/base.js';
import { MultiInterestRecaller } from '../models/multi-interest.js';
import { OTHER_COLOR, PALETTE, SvgDoc, escapeXml } from './svg.js';

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

function windowBatch(items: Int32Array, maxLen: number): SequenceBatch {
  const window = items.slice(-maxLen);
  const history = new Int32Array(maxLen);
  const mask = new Float32Array(maxLen);
  history.set(window);
  mask.fill(1, 0, window.length);
  return { batchSize: 1, maxLen, history, mask, lengths: Int32Array.of(window.length) };
}

/** Routes the last `model.maxLen` items of `history` (item indices) to the model's interests. */
export function routeHistory(model: SequentialRecaller, history: Int32Array, topK = 5): InterestRouting {
  if (model.numInterests < 2) {
    throw new SeqrecError('invalid_argument', `${model.name} has one user vector (numInterests = 1): interest routing needs a multi-interest model (mind, comirec-dr, comirec-sa)`);
  }
  if (history.length === 0) throw new SeqrecError('invalid_argument', 'the history is empty');
  const batch = windowBatch(history, model.maxLen);
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

/** Left: the history window, oldest first, each item coloured by its interest. Right: each interest's top items. */
export function interestsSvg(r: InterestRouting, options: InterestPlotOptions): string {
  const W = 1100;
  const rowH = 24;
  const subtitle = options.subtitle ?? [];
  const top = 70 + subtitle.length * 18;
  const colour = (k: number) => (k < PALETTE.length ? PALETTE[k] : OTHER_COLOR);
  const label = (item: number) => {
    const c = options.itemCategory?.(item);
    return c ? `${options.itemLabel(item)}  [${c}]` : options.itemLabel(item);
  };
  const rightRows = r.topItems.reduce((s, t) => s + t.length + 2, 0);
  const H = top + Math.max(r.items.length + 1, rightRows) * rowH + 40;
  const doc = new SvgDoc(W, H);
  doc.text(W / 2, 30, options.title, { 'text-anchor': 'middle', 'font-size': 19, 'font-weight': 'bold' });
  subtitle.forEach((s, i) => doc.text(W / 2, 52 + i * 18, s, { 'text-anchor': 'middle', 'font-size': 13, fill: '#555' }));

  // Left column: the history window.
  const lx = 30;
  doc.text(lx, top, `History window (oldest first), ${r.items.length} items`, { 'font-size': 15, 'font-weight': 'bold' });
  r.items.forEach((item, i) => {
    const y = top + (i + 1) * rowH + 6;
    const k = r.route[i];
    if (i % 2 === 0) doc.rect(lx - 4, y - 16, 560, rowH, { fill: '#f5f5f5' });
    doc.text(lx + 22, y, String(i + 1), { 'text-anchor': 'end', 'font-size': 12, fill: '#777' });
    doc.rect(lx + 30, y - 12, 44, 16, { fill: colour(k), rx: 3 });
    doc.text(lx + 52, y + 1, `#${k + 1}`, { 'text-anchor': 'middle', 'font-size': 11.5, fill: '#fff', 'font-weight': 'bold' });
    doc.text(lx + 82, y, clip(label(item), 68), { 'font-size': 12.5 });
  });

  // Right column: what each interest retrieves.
  const rx = 620;
  doc.text(rx, top, 'Top items of each interest (history excluded)', { 'font-size': 15, 'font-weight': 'bold' });
  let row = 1;
  for (let k = 0; k < r.numInterests; k++) {
    const count = r.route.reduce((s, v) => s + (v === k ? 1 : 0), 0);
    const y = top + row * rowH + 6;
    doc.rect(rx, y - 12, 44, 16, { fill: colour(k), rx: 3 });
    doc.text(rx + 22, y + 1, `#${k + 1}`, { 'text-anchor': 'middle', 'font-size': 11.5, fill: '#fff', 'font-weight': 'bold' });
    doc.text(rx + 52, y, `interest ${k + 1}: ${count} of ${r.items.length} history items route here`, { 'font-size': 12.5, 'font-weight': 'bold', fill: colour(k) });
    row++;
    for (const item of r.topItems[k]) {
      doc.raw(`<text x="${rx + 52}" y="${top + row * rowH + 6}" font-size="12.5" fill="#222">${escapeXml(clip(label(item), 62))}</text>`);
      row++;
    }
    row++;
  }
  return doc.toString();
}
