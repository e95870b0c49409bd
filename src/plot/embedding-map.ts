/**
 * 2-D maps of item embeddings: a projection (UMAP from `umap-js`, or PCA) and a scatter plot
 * coloured by item category or by a continuous value such as popularity (on a log scale).
 */
import { Random } from '../util/random.js';
import { SeqrecError } from '../errors.js';
import { loadOptional } from '../util/optional.js';
import { OTHER_COLOR, PALETTE, chartSpec, renderSvg, round, type VegaLiteSpec } from './vega.js';

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
  const { UMAP } = await loadOptional('umap-js', 'seqrec plot embeddings (UMAP)', () => import('umap-js'));
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
  | {
      kind: 'category';
      /** Per point. */ labels: string[];
      title: string;
      /** Named categories at most (rest = "other"). Default 11. */ maxCategories?: number;
    }
  | {
      kind: 'continuous';
      /** Per point (e.g. interaction counts). */
      values: number[];
      title: string;
      /** 'log': colours on a log10 scale, legend ticks at 1, 2 and 5 times powers of ten (values must be > 0). Default 'linear'. */
      scale?: 'linear' | 'log';
      /** Brightest colour for the SMALLEST value (e.g. popularity rank, where 1 is the top). Default false. */
      reverse?: boolean;
    };

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

/** 1, 2 and 5 times the powers of ten within [lo, hi] (lo, hi > 0). */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** e).toPrecision(6));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  return out;
}

const SIZE = 600;

/** The scatter plot as a Vega-Lite spec: equal units on both axes, no axis numbers (UMAP has no units). */
export function embeddingMapSpec(input: EmbeddingMapInput): VegaLiteSpec {
  const { points, colouring } = input;
  const n = points.length / 2;
  let minX = Infinity,
    maxX = -Infinity,
    minY = Infinity,
    maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, points[2 * i]);
    maxX = Math.max(maxX, points[2 * i]);
    minY = Math.min(minY, points[2 * i + 1]);
    maxY = Math.max(maxY, points[2 * i + 1]);
  }
  // Equal units on both axes (distances mean the same in every direction), centred, square frame.
  const span = Math.max(maxX - minX, maxY - minY) * 1.04 || 1;
  const cx = (minX + maxX) / 2;
  const cy = (minY + maxY) / 2;
  const [ax, ay] = input.axisNames ?? ['UMAP 1', 'UMAP 2'];
  const noNumbers = { labels: false, ticks: false, grid: false, domain: false, titleColor: '#444' };
  const x = {
    field: 'x',
    type: 'quantitative',
    scale: { domain: [cx - span / 2, cx + span / 2], nice: false, zero: false },
    axis: { title: `${ax} (no units: only neighbourhoods are meaningful)`, ...noNumbers },
  };
  const y = {
    field: 'y',
    type: 'quantitative',
    scale: { domain: [cy - span / 2, cy + span / 2], nice: false, zero: false },
    axis: { title: ay, ...noNumbers },
  };

  let order: number[];
  let color: Record<string, unknown>;
  let value: (i: number) => string | number;
  let opacity: number;
  if (colouring.kind === 'category') {
    const { kept, counts } = topCategories(colouring.labels, colouring.maxCategories ?? 11);
    const rank = new Map(kept.map((l, i) => [l, i]));
    const name = new Map(kept.map((l) => [l, `${l} (${counts.get(l)})`]));
    const otherCount = n - kept.reduce((s, l) => s + (counts.get(l) ?? 0), 0);
    const other = `other (${otherCount})`;
    const domain = kept.map((l) => name.get(l)!);
    const range = kept.map((_, i) => PALETTE[i % PALETTE.length]);
    if (otherCount > 0) {
      domain.push(other);
      range.push(OTHER_COLOR);
    }
    // Other first (underneath), then the categories from the largest to the smallest, so small ones stay visible.
    const r = (i: number) => rank.get(colouring.labels[i]) ?? -1;
    order = Array.from({ length: n }, (_, i) => i).sort((a, b) => r(a) - r(b) || a - b);
    value = (i) => name.get(colouring.labels[i]) ?? other;
    color = {
      field: 'c',
      type: 'nominal',
      scale: { domain, range },
      legend: { title: colouring.title, orient: 'right', symbolType: 'circle', symbolOpacity: 1 },
    };
    opacity = 0.8;
  } else {
    const vals = colouring.values;
    const log = colouring.scale === 'log';
    if (log && vals.some((v) => !(v > 0))) throw new SeqrecError('invalid_argument', `a log colour scale needs values > 0 (${colouring.title})`);
    const finite = vals.filter(Number.isFinite);
    const lo = Math.min(...finite);
    const hi = Math.max(...finite);
    const reverse = colouring.reverse ?? false;
    // The bright end on top: it is usually the smaller group (popular items).
    order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (reverse ? vals[b] - vals[a] : vals[a] - vals[b]) || a - b);
    value = (i) => round(vals[i], 6);
    const legend: Record<string, unknown> = { title: colouring.title, orient: 'right', gradientLength: 300 };
    if (log) Object.assign(legend, { values: logTicks(lo, hi), format: '~g' });
    color = { field: 'c', type: 'quantitative', scale: { type: log ? 'log' : 'linear', scheme: 'viridis', reverse, domain: [lo, hi] }, legend };
    opacity = 0.85;
  }
  const values = order.map((i) => ({ x: round(points[2 * i]), y: round(points[2 * i + 1]), c: value(i) }));
  return chartSpec(
    input.title,
    input.subtitle,
    {
      width: SIZE,
      height: SIZE,
      data: { values },
      // aria off: thousands of per-point descriptions would quadruple the SVG.
      mark: { type: 'circle', size: 32, opacity, aria: false },
      encoding: { x, y, color },
    },
    { view: { fill: '#fbfbfb', stroke: '#999' } },
  );
}

/** The scatter plot as SVG text. */
export async function embeddingMapSvg(input: EmbeddingMapInput): Promise<string> {
  return renderSvg(embeddingMapSpec(input));
}
