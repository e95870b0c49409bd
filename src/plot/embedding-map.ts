/**
 * 2-D maps of item embeddings: a projection (UMAP from `umap-js`, or PCA) and a scatter plot
 * coloured by item category or by a continuous value such as log popularity.
 */
import { Random } from '../util/random.js';
import { SeqrecError } from '../errors.js';
import { OTHER_COLOR, PALETTE, SvgDoc, drawColorBar, drawLegend, linearScale, viridis } from './svg.js';

export type ProjectionMethod = 'umap' | 'pca';

export interface ProjectionOptions {
  /** 'umap' (default; umap-js, cosine distance) or 'pca' (top two principal components, fast and deterministic). */
  method?: ProjectionMethod;
  /** Seed of UMAP's random initialisation and sampling. Default 42. */
  seed?: number;
  /** UMAP neighbours. Default 15 (umap-learn's default). */
  neighbors?: number;
  /** UMAP minimum distance. Default 0.1 (umap-learn's default). */
  minDist?: number;
  /** Called during UMAP's optimisation with (epochs done, total epochs). */
  onProgress?: (done: number, total: number) => void;
}

function cosineDistance(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na === 0 || nb === 0) return 1;
  return 1 - dot / Math.sqrt(na * nb);
}

/** Top-2 principal components by power iteration with deflation: [n * 2]. */
export function pca2d(rows: Float32Array, dim: number): Float64Array {
  const n = rows.length / dim;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += rows[i * dim + j] / n;
  const centred = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) centred[i * dim + j] = rows[i * dim + j] - mean[j];
  // Covariance [dim, dim].
  const cov = new Float64Array(dim * dim);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < dim; a++) {
      const va = centred[i * dim + a];
      if (va === 0) continue;
      for (let b = 0; b < dim; b++) cov[a * dim + b] += va * centred[i * dim + b];
    }
  }
  const out = new Float64Array(n * 2);
  const rng = new Random(7);
  for (let c = 0; c < 2; c++) {
    let v = Float64Array.from({ length: dim }, () => rng.next() - 0.5);
    let lambda = 0;
    for (let it = 0; it < 300; it++) {
      const w = new Float64Array(dim);
      for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) w[a] += cov[a * dim + b] * v[b];
      const norm = Math.hypot(...w);
      if (norm === 0) break;
      lambda = norm;
      v = w.map((x) => x / norm);
    }
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += centred[i * dim + j] * v[j];
      out[i * 2 + c] = s;
    }
    // Deflate: cov -= lambda v vᵀ.
    for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) cov[a * dim + b] -= lambda * v[a] * v[b];
  }
  return out;
}

/** Projects `rows` ([n * dim]) to 2-D: [n * 2] (x0, y0, x1, y1, ...). */
export async function project2d(rows: Float32Array, dim: number, options: ProjectionOptions = {}): Promise<Float64Array> {
  const n = rows.length / dim;
  if (!Number.isInteger(n) || n < 3) throw new SeqrecError('invalid_argument', `need at least 3 vectors of dim ${dim} to project, got ${rows.length / dim}`);
  const method = options.method ?? 'umap';
  if (method === 'pca') return pca2d(rows, dim);
  if (method !== 'umap') throw new SeqrecError('invalid_argument', `projection must be 'umap' or 'pca', got '${String(method)}'`, { field: 'method' });
  const { UMAP } = await import('umap-js');
  const rng = new Random(options.seed ?? 42);
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors: Math.min(options.neighbors ?? 15, n - 1),
    minDist: options.minDist ?? 0.1,
    distanceFn: cosineDistance,
    random: () => rng.next(),
  });
  const data = Array.from({ length: n }, (_, i) => Array.from(rows.subarray(i * dim, (i + 1) * dim)));
  const epochs = umap.initializeFit(data);
  for (let e = 0; e < epochs; e++) {
    umap.step();
    if (e % 10 === 9 || e === epochs - 1) options.onProgress?.(e + 1, epochs);
  }
  const emb = umap.getEmbedding();
  const out = new Float64Array(n * 2);
  emb.forEach(([x, y], i) => {
    out[i * 2] = x;
    out[i * 2 + 1] = y;
  });
  return out;
}

export type PointColouring =
  | { kind: 'category'; /** Per point. */ labels: string[]; title: string; /** Named categories at most (rest = "other"). Default 11. */ maxCategories?: number }
  | { kind: 'continuous'; /** Per point. */ values: number[]; title: string; format?: (v: number) => string; /** Colour-bar ticks (value units). */ ticks?: number[] };

export interface EmbeddingMapInput {
  /** [n * 2] projected points. */
  points: Float64Array;
  colouring: PointColouring;
  title: string;
  /** Lines under the title (method, data, what the colour means). */
  subtitle?: string[];
  /** Axis names. Default "UMAP 1" / "UMAP 2". */
  axisNames?: [string, string];
}

/** Groups labels: the most frequent `max` categories keep their names, the rest become "other". */
export function topCategories(labels: string[], max: number): { kept: string[]; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const kept = sorted.slice(0, sorted.length <= max + 1 ? sorted.length : max).map(([l]) => l);
  return { kept, counts };
}

/** The scatter plot as SVG text. */
export function embeddingMapSvg(input: EmbeddingMapInput): string {
  const { points, colouring } = input;
  const n = points.length / 2;
  const W = 980;
  const subtitle = input.subtitle ?? [];
  const top = 46 + subtitle.length * 18;
  const frame = { x: 40, y: top, w: 680, h: 600 };
  const H = frame.y + frame.h + 50;
  const doc = new SvgDoc(W, H);
  doc.text(W / 2, 30, input.title, { 'text-anchor': 'middle', 'font-size': 19, 'font-weight': 'bold' });
  subtitle.forEach((s, i) => doc.text(W / 2, 52 + i * 18, s, { 'text-anchor': 'middle', 'font-size': 13, fill: '#555' }));

  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, points[2 * i]);
    maxX = Math.max(maxX, points[2 * i]);
    minY = Math.min(minY, points[2 * i + 1]);
    maxY = Math.max(maxY, points[2 * i + 1]);
  }
  // Equal units on both axes (distances mean the same in every direction), centred.
  const span = Math.max(maxX - minX, ((maxY - minY) * frame.w) / frame.h) * 1.04 || 1;
  const spanY = (span * frame.h) / frame.w;
  const cx = (minX + maxX) / 2;
  const cy = (minY + maxY) / 2;
  const sx = linearScale(cx - span / 2, cx + span / 2, frame.x, frame.x + frame.w);
  const sy = linearScale(cy - spanY / 2, cy + spanY / 2, frame.y + frame.h, frame.y);
  doc.rect(frame.x, frame.y, frame.w, frame.h, { fill: '#fbfbfb', stroke: '#999' });
  const [ax, ay] = input.axisNames ?? ['UMAP 1', 'UMAP 2'];
  doc.text(frame.x + frame.w / 2, frame.y + frame.h + 24, `${ax} (no units: only neighbourhoods are meaningful)`, { 'text-anchor': 'middle', 'font-size': 13, fill: '#444' });
  doc.text(frame.x - 12, frame.y + frame.h / 2, ay, { 'text-anchor': 'middle', 'font-size': 13, fill: '#444', transform: `rotate(-90 ${frame.x - 12} ${frame.y + frame.h / 2})` });

  const legendX = frame.x + frame.w + 24;
  if (colouring.kind === 'category') {
    const { kept, counts } = topCategories(colouring.labels, colouring.maxCategories ?? 11);
    const colourOf = new Map(kept.map((l, i) => [l, PALETTE[i % PALETTE.length]]));
    // Other first (underneath), then the categories from the largest to the smallest, so small ones stay visible.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => {
      const ra = colourOf.has(colouring.labels[a]) ? kept.indexOf(colouring.labels[a]) : -1;
      const rb = colourOf.has(colouring.labels[b]) ? kept.indexOf(colouring.labels[b]) : -1;
      return ra - rb || a - b;
    });
    for (const i of order) {
      const c = colourOf.get(colouring.labels[i]) ?? OTHER_COLOR;
      doc.circle(sx(points[2 * i]), sy(points[2 * i + 1]), 3.2, { fill: c, 'fill-opacity': 0.8 });
    }
    const otherCount = n - kept.reduce((s, l) => s + (counts.get(l) ?? 0), 0);
    const entries = kept.map((l) => ({ label: `${l} (${counts.get(l)})`, color: colourOf.get(l)! }));
    if (otherCount > 0) entries.push({ label: `other (${otherCount})`, color: OTHER_COLOR });
    drawLegend(doc, legendX, frame.y, entries, colouring.title, W - legendX - 12);
  } else {
    const vals = colouring.values;
    const lo = Math.min(...vals.filter(Number.isFinite));
    const hi = Math.max(...vals.filter(Number.isFinite));
    // Low values first, so the (fewer) high ones are drawn on top.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => vals[a] - vals[b]);
    for (const i of order) {
      const t = hi > lo ? (vals[i] - lo) / (hi - lo) : 0.5;
      doc.circle(sx(points[2 * i]), sy(points[2 * i + 1]), 3.2, { fill: viridis(t), 'fill-opacity': 0.85 });
    }
    drawColorBar(doc, legendX + 10, frame.y + 30, 300, [lo, hi], colouring.title, colouring.format ?? ((v) => String(v)), colouring.ticks);
  }
  return doc.toString();
}
