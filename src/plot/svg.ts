/**
 * A very small SVG toolkit for seqrec's charts: a document builder, "nice" axis ticks, axes
 * with labels, legends and colour scales. Output is plain SVG 1.1 text (no scripts, no
 * external resources) that browsers, GitHub and resvg (for PNG) all render the same.
 */

/** Font stack: DejaVu Sans is on most Linux systems (and is what resvg finds here). */
export const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

/**
 * Categorical colours: Tableau 10 followed by a few more distinguishable hues. The last
 * entry (grey) is kept for "other".
 */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#1f3b73',
  '#8cd17d',
  '#d37295',
];
export const OTHER_COLOR = '#bab0ac';

/** Escapes text for SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Rounds for coordinates: 2 decimals keeps files small and positions exact enough. */
export function r2(v: number): string {
  return String(Math.round(v * 100) / 100);
}

type Attrs = Record<string, string | number | undefined>;

function attrs(a: Attrs): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? r2(v) : escapeXml(v!)}"`)
    .join('');
}

/** Builds an SVG document element by element. */
export class SvgDoc {
  private readonly parts: string[] = [];

  constructor(
    readonly width: number,
    readonly height: number,
  ) {}

  /** Adds raw SVG markup (already escaped). */
  raw(markup: string): this {
    this.parts.push(markup);
    return this;
  }

  rect(x: number, y: number, w: number, h: number, a: Attrs = {}): this {
    return this.raw(`<rect${attrs({ x, y, width: w, height: h, ...a })}/>`);
  }

  line(x1: number, y1: number, x2: number, y2: number, a: Attrs = {}): this {
    return this.raw(`<line${attrs({ x1, y1, x2, y2, stroke: '#333', ...a })}/>`);
  }

  circle(cx: number, cy: number, r: number, a: Attrs = {}): this {
    return this.raw(`<circle${attrs({ cx, cy, r, ...a })}/>`);
  }

  /** A polyline through the points (NaN points break nothing: they are skipped). */
  polyline(points: [number, number][], a: Attrs = {}): this {
    const pts = points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => `${r2(x)},${r2(y)}`);
    return this.raw(`<polyline${attrs({ points: pts.join(' '), fill: 'none', ...a })}/>`);
  }

  text(x: number, y: number, content: string, a: Attrs = {}): this {
    return this.raw(`<text${attrs({ x, y, 'font-size': 13, fill: '#222', ...a })}>${escapeXml(content)}</text>`);
  }

  toString(): string {
    return (
      `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}" viewBox="0 0 ${this.width} ${this.height}" font-family="${FONT}">\n` +
      `<rect width="100%" height="100%" fill="#ffffff"/>\n` +
      this.parts.join('\n') +
      '\n</svg>\n'
    );
  }
}

/** About `count` round tick values covering [min, max] (1, 2, 2.5 or 5 times a power of ten). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const decimals = Math.max(0, 1 - Math.floor(Math.log10(step)));
  const ticks: number[] = [];
  for (let i = Math.ceil(min / step - 1e-9); i * step <= max + step * 1e-9; i++) ticks.push(Number((i * step).toFixed(decimals)) + 0);
  return ticks;
}

/** Round ticks whose range COVERS [min, max] (first tick <= min, last >= max). */
export function niceDomain(min: number, max: number, count = 5): number[] {
  const inner = niceTicks(min, max, count);
  if (inner.length < 2) return inner;
  const step = inner[1] - inner[0];
  const decimals = Math.max(0, 1 - Math.floor(Math.log10(step)));
  const ticks = inner.slice();
  while (ticks[0] > min + 1e-12) ticks.unshift(Number((ticks[0] - step).toFixed(decimals)) + 0);
  while (ticks[ticks.length - 1] < max - 1e-12) ticks.push(Number((ticks[ticks.length - 1] + step).toFixed(decimals)) + 0);
  return ticks;
}

/** Tick values for a log10 axis: log10 of 1, 2 and 5 times the powers of ten within [lo, hi] (lo, hi in log10 units). */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of [1, 2, 5]) {
      const v = e + Math.log10(m);
      if (v >= lo - 1e-9 && v <= hi + 1e-9) out.push(v);
    }
  }
  return out;
}

/** Formats a tick value with just enough decimals for its step. */
export function tickLabel(value: number, step: number): string {
  const decimals = step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step) - 1e-9));
  return value.toFixed(decimals);
}

/** A linear scale from a data range to a pixel range. */
export function linearScale(d0: number, d1: number, p0: number, p1: number): (v: number) => number {
  const span = d1 - d0 || 1;
  return (v) => p0 + ((v - d0) / span) * (p1 - p0);
}

/** The rectangle a chart draws its data in. */
export interface Frame {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface AxisSpec {
  min: number;
  max: number;
  label: string;
  /** Tick values; default niceTicks(min, max). */
  ticks?: number[];
  /** Tick label formatter; default by step. */
  format?: (v: number) => string;
  /** Draw grid lines across the frame at the ticks. Default true for y, false for x. */
  grid?: boolean;
}

/** Draws a frame's axes, ticks, grid and axis labels; returns the x and y scales. */
export function drawAxes(doc: SvgDoc, f: Frame, xAxis: AxisSpec, yAxis: AxisSpec): { x: (v: number) => number; y: (v: number) => number } {
  const x = linearScale(xAxis.min, xAxis.max, f.x, f.x + f.w);
  const y = linearScale(yAxis.min, yAxis.max, f.y + f.h, f.y);
  const xt = xAxis.ticks ?? niceTicks(xAxis.min, xAxis.max, 6);
  const yt = yAxis.ticks ?? niceTicks(yAxis.min, yAxis.max, 5);
  const xStep = xt.length > 1 ? xt[1] - xt[0] : 1;
  const yStep = yt.length > 1 ? yt[1] - yt[0] : 1;
  for (const v of yt) {
    if (v < yAxis.min - 1e-12 || v > yAxis.max + 1e-12) continue;
    if (yAxis.grid ?? true) doc.line(f.x, y(v), f.x + f.w, y(v), { stroke: '#e6e6e6' });
    doc.line(f.x - 5, y(v), f.x, y(v), { stroke: '#555' });
    doc.text(f.x - 8, y(v) + 4, yAxis.format ? yAxis.format(v) : tickLabel(v, yStep), { 'text-anchor': 'end', 'font-size': 12, fill: '#444' });
  }
  for (const v of xt) {
    if (v < xAxis.min - 1e-12 || v > xAxis.max + 1e-12) continue;
    if (xAxis.grid ?? false) doc.line(x(v), f.y, x(v), f.y + f.h, { stroke: '#e6e6e6' });
    doc.line(x(v), f.y + f.h, x(v), f.y + f.h + 5, { stroke: '#555' });
    doc.text(x(v), f.y + f.h + 19, xAxis.format ? xAxis.format(v) : tickLabel(v, xStep), { 'text-anchor': 'middle', 'font-size': 12, fill: '#444' });
  }
  doc.line(f.x, f.y + f.h, f.x + f.w, f.y + f.h, { stroke: '#555' });
  doc.line(f.x, f.y, f.x, f.y + f.h, { stroke: '#555' });
  doc.text(f.x + f.w / 2, f.y + f.h + 40, xAxis.label, { 'text-anchor': 'middle', 'font-size': 13 });
  const cy = f.y + f.h / 2;
  doc.text(f.x - 52, cy, yAxis.label, { 'text-anchor': 'middle', 'font-size': 13, transform: `rotate(-90 ${r2(f.x - 52)} ${r2(cy)})` });
  return { x, y };
}

export interface LegendEntry {
  label: string;
  color: string;
  /** 'dot' (default), 'line', 'dashed' or 'dotted'. */
  shape?: 'dot' | 'line' | 'dashed' | 'dotted';
}

/** A vertical legend box at (x, y); returns its height. */
export function drawLegend(doc: SvgDoc, x: number, y: number, entries: LegendEntry[], title?: string, width?: number): number {
  const rowH = 19;
  const w = width ?? Math.max(80, ...entries.map((e) => e.label.length * 7.2 + 34), title ? title.length * 7.6 + 16 : 0);
  const h = entries.length * rowH + (title ? 24 : 8) + 4;
  doc.rect(x, y, w, h, { fill: '#ffffff', 'fill-opacity': 0.9, stroke: '#cccccc', rx: 4 });
  let cy = y + (title ? 18 : 6);
  if (title) doc.text(x + 8, cy, title, { 'font-size': 12.5, 'font-weight': 'bold' });
  cy += 4;
  for (const e of entries) {
    const my = cy + rowH / 2;
    if (e.shape === 'line' || e.shape === 'dashed' || e.shape === 'dotted') {
      const dash = e.shape === 'dashed' ? '5,3' : e.shape === 'dotted' ? '2,3' : undefined;
      doc.line(x + 8, my, x + 26, my, { stroke: e.color, 'stroke-width': 2.5, 'stroke-dasharray': dash });
    } else {
      doc.circle(x + 17, my, 5, { fill: e.color });
    }
    doc.text(x + 32, my + 4.5, e.label, { 'font-size': 12.5 });
    cy += rowH;
  }
  return h;
}

/** A one-row legend centred on `cx` at baseline `y` (no box). */
export function drawLegendRow(doc: SvgDoc, cx: number, y: number, entries: LegendEntry[]): void {
  const widths = entries.map((e) => e.label.length * 7.2 + 44);
  let x = cx - widths.reduce((a, b) => a + b, 0) / 2;
  entries.forEach((e, i) => {
    if (e.shape === 'line' || e.shape === 'dashed' || e.shape === 'dotted') {
      const dash = e.shape === 'dashed' ? '5,3' : e.shape === 'dotted' ? '2,3' : undefined;
      doc.line(x, y - 4, x + 20, y - 4, { stroke: e.color, 'stroke-width': 2.5, 'stroke-dasharray': dash });
    } else {
      doc.circle(x + 10, y - 4, 5, { fill: e.color });
    }
    doc.text(x + 26, y + 0.5, e.label, { 'font-size': 12.5 });
    x += widths[i];
  });
}

/** Viridis, sampled at 9 stops (matplotlib's values), interpolated linearly. */
const VIRIDIS = ['#440154', '#472d7b', '#3b528b', '#2c728e', '#21918c', '#28ae80', '#5ec962', '#addc30', '#fde725'];

function hexToRgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Colour of t in [0, 1] on the viridis scale. */
export function viridis(t: number): string {
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(u));
  const a = hexToRgb(VIRIDIS[i]);
  const b = hexToRgb(VIRIDIS[i + 1]);
  const f = u - i;
  const c = a.map((v, j) => Math.round(v + (b[j] - v) * f));
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** A vertical colour bar for a continuous scale, with tick labels; returns its width. */
export function drawColorBar(
  doc: SvgDoc,
  x: number,
  y: number,
  h: number,
  range: [number, number],
  title: string,
  format: (v: number) => string,
  ticks?: number[],
): number {
  const id = `cb${Math.round(x)}x${Math.round(y)}`;
  const stops = VIRIDIS.map((c, i) => `<stop offset="${r2((i / (VIRIDIS.length - 1)) * 100)}%" stop-color="${c}"/>`).join('');
  doc.raw(`<defs><linearGradient id="${id}" x1="0" y1="1" x2="0" y2="0">${stops}</linearGradient></defs>`);
  doc.text(x, y - 10, title, { 'font-size': 12.5, 'font-weight': 'bold' });
  doc.rect(x, y, 16, h, { fill: `url(#${id})`, stroke: '#999' });
  const scale = linearScale(range[0], range[1], y + h, y);
  for (const v of ticks ?? niceTicks(range[0], range[1], 5)) {
    if (v < range[0] - 1e-9 || v > range[1] + 1e-9) continue;
    doc.line(x + 16, scale(v), x + 21, scale(v), { stroke: '#555' });
    doc.text(x + 24, scale(v) + 4, format(v), { 'font-size': 12 });
  }
  return 70;
}
